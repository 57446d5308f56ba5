package sigverify

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// inTotoPayloadType is the DSSE payload type of an in-toto statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// maxBundle bounds a bundle document; a key-signed cosign bundle is about 1 KiB.
const maxBundle = 4 << 20

// protoHashNames maps a digest algorithm to its name in a bundle's
// messageSignature.messageDigest.algorithm.
var protoHashNames = map[digest.Algorithm]string{
	digest.SHA256: "SHA2_256",
	digest.SHA384: "SHA2_384",
	digest.SHA512: "SHA2_512",
}

// bundleVerifier is a sigstore-go verifier whose only trusted material is one
// keyVerifier, offered whatever key hint the bundle carries: the hint is
// unauthenticated and may be absent, so every trusted key is tried instead.
type bundleVerifier struct {
	keyVerifier
	sv *verify.Verifier
}

func bundleVerifiers(kvs []keyVerifier) ([]bundleVerifier, error) {
	out := make([]bundleVerifier, 0, len(kvs))
	for _, kv := range kvs {
		key := root.NewExpiringKey(kv.sigsv, time.Time{}, time.Time{})
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return key, nil
		})
		// Keys, not certificates, and no timestamps: nothing to check online.
		sv, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, fmt.Errorf("key %d (%s): building bundle verifier: %w", kv.key, kv.algo, err)
		}
		out = append(out, bundleVerifier{keyVerifier: kv, sv: sv})
	}
	return out, nil
}

// CosignBundle verifies a sigstore bundle (media type
// application/vnd.dev.sigstore.bundle.v0.3+json, and v0.1/v0.2 as far as
// sigstore-go accepts them) as cosign's "sign --new-bundle-format --key"
// stores it in an OCI referrer.
//
// A DSSE bundle is valid iff its single signature verifies under one of the
// trusted keys and its in-toto statement has a subject whose digest is want;
// like cosign verify, any predicate type is accepted. A message-signature
// bundle is valid iff its signature over the digest want verifies under one of
// the trusted keys (pure Ed25519 cannot sign a bare digest and never matches).
// Bundles carrying a certificate instead of a public key hint are refused:
// checking them needs a Fulcio root and timestamps. Transparency-log entries
// and timestamps in the bundle are ignored, not verified.
func (v *Verifier) CosignBundle(bundleJSON []byte, want digest.Digest) error {
	if err := want.Validate(); err != nil {
		return fmt.Errorf("sigverify: bundle: invalid subject digest %q: %w", want, err)
	}
	if len(v.bundles) == 0 {
		return untrusted("policy has no cosign public key")
	}
	if len(bundleJSON) == 0 || len(bundleJSON) > maxBundle {
		return untrusted("sigstore bundle is empty or larger than %d bytes", maxBundle)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return untrusted("malformed sigstore bundle: %v", err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return untrusted("sigstore bundle: %v", err)
	}
	if vc.PublicKey() == nil {
		return untrusted("sigstore bundle is signed with a certificate (keyless); only key-signed bundles are trusted here")
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return untrusted("sigstore bundle: %v", err)
	}
	if env := sc.EnvelopeContent(); env != nil {
		raw := env.RawEnvelope()
		if raw.PayloadType != inTotoPayloadType {
			return untrusted("sigstore bundle DSSE payload type is %q, want %s", short(raw.PayloadType), inTotoPayloadType)
		}
		if len(raw.Signatures) != 1 {
			return untrusted("sigstore bundle DSSE envelope has %d signatures, want exactly 1", len(raw.Signatures))
		}
	}
	isMessage := sc.MessageSignatureContent() != nil
	if isMessage {
		ms := sc.MessageSignatureContent()
		algo, ok := protoHashNames[want.Algorithm()]
		if !ok || ms.DigestAlgorithm() != algo || hex.EncodeToString(ms.Digest()) != want.Encoded() {
			return untrusted("sigstore bundle message signature is over %s digest %x, not %s",
				short(ms.DigestAlgorithm()), ms.Digest(), want)
		}
	}
	raw, err := hex.DecodeString(want.Encoded())
	if err != nil {
		return fmt.Errorf("sigverify: bundle: decoding subject digest: %w", err)
	}
	policy := verify.NewPolicy(verify.WithArtifactDigest(want.Algorithm().String(), raw), verify.WithKey())
	for _, bv := range v.bundles {
		if isMessage && bv.pure {
			continue
		}
		if _, err := bv.sv.Verify(&b, policy); err == nil {
			return nil
		}
	}
	return v.explainBundle(&b, isMessage, want)
}

// explainBundle works out why no key accepted b: a bad or foreign signature,
// or a good signature over another subject.
func (v *Verifier) explainBundle(b *bundle.Bundle, isMessage bool, want digest.Digest) error {
	if !isMessage {
		sigOnly := verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey())
		for _, bv := range v.bundles {
			if _, err := bv.sv.Verify(b, sigOnly); err == nil {
				return untrusted("sigstore bundle signed by key %d has no in-toto subject with digest %s", bv.key, want)
			}
		}
	}
	return untrusted("sigstore bundle signature does not verify under any of the %d trusted public key(s)", v.keyCount())
}
