package sigverify

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/notaryproject/notation-go"
)

// ErrUntrusted is wrapped by every error that means "this signature does not
// establish trust": a bad or tampered signature, an untrusted key or root, a
// signature over another subject, or malformed signature material.
var ErrUntrusted = errors.New("signature not trusted")

// untrusted returns an error wrapping ErrUntrusted with a message fit for a
// user.
func untrusted(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUntrusted}, args...)...)
}

// Trust is the trust material of one policy.
type Trust struct {
	// Keys are cosign public keys: ECDSA (P-256, P-384, P-521), Ed25519 or
	// RSA (2048, 3072 or 4096 bits).
	Keys []crypto.PublicKey
	// Roots are notation's trust store: CA certificates or self-signed
	// signing certificates.
	Roots []*x509.Certificate
	// Identities are notation trusted identities in the
	// "x509.subject: C=US, ST=WA, O=Acme, CN=.." form; empty means any
	// ("*"). notation requires each DN to name at least C, ST and O, and
	// matches it as a subset of the signing certificate's subject.
	Identities []string
}

// Verifier checks signatures against one policy's Trust. It is safe for
// concurrent use.
type Verifier struct {
	keys     []keyVerifier     // every (key, algorithm) pair to try, in Trust.Keys order
	bundles  []bundleVerifier  // the same pairs, wrapped for sigstore-go
	notation notation.Verifier // nil when Trust.Roots is empty
}

// New validates t and builds a Verifier. t must hold at least one key or one
// root. Keys of an unsupported type or size, roots that are neither CA nor
// self-signed, and malformed identities are rejected.
func New(t Trust) (*Verifier, error) {
	if len(t.Keys) == 0 && len(t.Roots) == 0 {
		return nil, errors.New("sigverify: trust needs at least one public key or one root certificate")
	}
	if len(t.Identities) > 0 && len(t.Roots) == 0 {
		return nil, errors.New("sigverify: trusted identities given without any root certificate")
	}
	v := &Verifier{}
	for i, k := range t.Keys {
		kvs, err := keyVerifiers(i, k)
		if err != nil {
			return nil, fmt.Errorf("sigverify: key %d: %w", i+1, err)
		}
		v.keys = append(v.keys, kvs...)
	}
	bvs, err := bundleVerifiers(v.keys)
	if err != nil {
		return nil, fmt.Errorf("sigverify: %w", err)
	}
	v.bundles = bvs
	if len(t.Roots) > 0 {
		nv, err := newNotationVerifier(slices.Clone(t.Roots), slices.Clone(t.Identities))
		if err != nil {
			return nil, fmt.Errorf("sigverify: %w", err)
		}
		v.notation = nv
	}
	return v, nil
}

// short trims attacker-chosen text quoted in a message.
func short(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
