package sigverify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/notaryproject/notation-core-go/revocation"
	revocationresult "github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	// policyName and storeName name berth's single notation trust policy
	// statement and its single CA trust store.
	policyName = "berth"
	storeName  = "berth"
	// artifactRef is the reference handed to notation's verifier: the policy
	// has registry scope "*", so only its shape matters.
	artifactRef = "berth.invalid/sigverify@"
	// maxEnvelope bounds a notation envelope; real ones are a few KiB.
	maxEnvelope = 4 << 20
)

// newNotationVerifier builds notation-go's verifier for one trust policy
// statement: scope "*", level strict with revocation skipped (air-gapped),
// one in-memory CA trust store holding roots, and trusted identities ids or
// "*". No plugin manager: a signature that needs a verification plugin fails.
func newNotationVerifier(roots []*x509.Certificate, ids []string) (notation.Verifier, error) {
	if err := truststore.ValidateCertificates(roots); err != nil {
		return nil, fmt.Errorf("notation trust roots: %w", err)
	}
	if len(ids) == 0 {
		ids = []string{"*"}
	}
	doc := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:           policyName,
			RegistryScopes: []string{"*"},
			SignatureVerification: trustpolicy.SignatureVerification{
				VerificationLevel: trustpolicy.LevelStrict.Name,
				Override: map[trustpolicy.ValidationType]trustpolicy.ValidationAction{
					trustpolicy.TypeRevocation: trustpolicy.ActionSkip,
				},
			},
			TrustStores:       []string{string(truststore.TypeCA) + ":" + storeName},
			TrustedIdentities: ids,
		}},
	}
	nv, err := verifier.NewWithOptions(doc, memStore(roots), nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  offlineRevocation{},
		RevocationTimestampingValidator: offlineRevocation{},
	})
	if err != nil {
		return nil, fmt.Errorf("notation trust policy: %w", err)
	}
	return nv, nil
}

// Notation verifies a notation signature envelope: the layer blob of a
// referrer with artifactType application/vnd.cncf.notary.signature, of
// mediaType application/jose+json or application/cose. It succeeds iff the
// envelope is intact, its certificate chain leads to one of the trusted roots
// and is valid now, its signer matches the trusted identities, it has not
// expired, and it signs exactly the descriptor want (digest, size and media
// type). Revocation is not checked and timestamp countersignatures are not
// used.
func (v *Verifier) Notation(ctx context.Context, envelope []byte, mediaType string, want ocispec.Descriptor) error {
	if err := want.Digest.Validate(); err != nil {
		return fmt.Errorf("sigverify: notation: invalid subject digest %q: %w", want.Digest, err)
	}
	if v.notation == nil {
		return untrusted("policy has no notation trust root")
	}
	if mediaType != jws.MediaTypeEnvelope && mediaType != cose.MediaTypeEnvelope {
		return untrusted("notation signature media type %q is neither %s nor %s",
			short(mediaType), jws.MediaTypeEnvelope, cose.MediaTypeEnvelope)
	}
	if len(envelope) == 0 || len(envelope) > maxEnvelope {
		return untrusted("notation signature is empty or larger than %d bytes", maxEnvelope)
	}
	opts := notation.VerifierVerifyOptions{
		ArtifactReference:  artifactRef + want.Digest.String(),
		SignatureMediaType: mediaType,
	}
	if _, err := v.notation.Verify(ctx, want, envelope, opts); err != nil {
		return untrusted("notation signature: %v", err)
	}
	return nil
}

// memStore is an in-memory truststore.X509TrustStore with one CA store.
type memStore []*x509.Certificate

var _ truststore.X509TrustStore = memStore(nil)

func (m memStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	if t != truststore.TypeCA || name != storeName {
		return nil, fmt.Errorf("trust store %s:%s does not exist", t, name)
	}
	return m, nil
}

// offlineRevocation stands in for notation's OCSP/CRL client so that nothing
// can reach the network; the policy skips revocation, so it is never asked.
type offlineRevocation struct{}

var _ revocation.Validator = offlineRevocation{}

func (offlineRevocation) ValidateContext(context.Context, revocation.ValidateContextOptions) ([]*revocationresult.CertRevocationResult, error) {
	return nil, errors.New("revocation checking is disabled (air-gapped)")
}
