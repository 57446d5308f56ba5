package sigverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// keyVerifier is one way a trusted key may have signed: the key with one
// hash or signature scheme.
type keyVerifier struct {
	key   int    // 1-based index into Trust.Keys, for messages
	algo  string // e.g. "ecdsa-sha256", for messages
	pure  bool   // pure Ed25519: needs the whole message, never a digest
	sigsv signature.Verifier
}

// keyVerifiers returns the verifiers a key is tried with. cosign signs with
// SHA-256 whatever the key (its --signature-digest-algorithm default), while
// sigstore's algorithm registry pairs P-384 with SHA-384 and P-521 with
// SHA-512; Ed25519 is used pure (DSSE, simple signing) or pre-hashed
// (message-signature bundles).
func keyVerifiers(index int, k crypto.PublicKey) ([]keyVerifier, error) {
	if err := cryptoutils.ValidatePubKey(k); err != nil {
		return nil, fmt.Errorf("unsupported key: %w", err)
	}
	type variant struct {
		algo string
		pure bool
		opts []signature.LoadOption
	}
	var vs []variant
	switch pk := k.(type) {
	case *rsa.PublicKey:
		vs = []variant{{algo: "rsa-pkcs1v15-sha256", opts: []signature.LoadOption{options.WithHash(crypto.SHA256)}}}
	case *ecdsa.PublicKey:
		vs = []variant{{algo: "ecdsa-sha256", opts: []signature.LoadOption{options.WithHash(crypto.SHA256)}}}
		switch pk.Curve {
		case elliptic.P384():
			vs = append(vs, variant{algo: "ecdsa-sha384", opts: []signature.LoadOption{options.WithHash(crypto.SHA384)}})
		case elliptic.P521():
			vs = append(vs, variant{algo: "ecdsa-sha512", opts: []signature.LoadOption{options.WithHash(crypto.SHA512)}})
		}
	case ed25519.PublicKey:
		vs = []variant{
			{algo: "ed25519", pure: true},
			{algo: "ed25519ph", opts: []signature.LoadOption{options.WithED25519ph()}},
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	out := make([]keyVerifier, 0, len(vs))
	for _, v := range vs {
		sv, err := signature.LoadVerifierWithOpts(k, v.opts...)
		if err != nil {
			return nil, fmt.Errorf("loading %s verifier: %w", v.algo, err)
		}
		out = append(out, keyVerifier{key: index + 1, algo: v.algo, pure: v.pure, sigsv: sv})
	}
	return out, nil
}
