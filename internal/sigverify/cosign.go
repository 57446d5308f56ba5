package sigverify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// maxSimplePayload bounds the simple-signing payload; cosign's are a few
// hundred bytes (more with -a annotations).
const maxSimplePayload = 1 << 20

// CosignSimple verifies a classic cosign signature (the "sha256-<hex>.sig"
// tag scheme). payload is the signature layer's blob, a simple-signing JSON
// document (media type application/vnd.dev.cosign.simplesigning.v1+json);
// sigB64 is the layer's dev.cosignproject.cosign/signature annotation.
//
// It succeeds iff the signature verifies under one of the trusted keys and the
// payload is a "cosign container image signature" whose
// critical.image.docker-manifest-digest is want. The claimed identity
// (critical.identity.docker-reference) is not checked.
func (v *Verifier) CosignSimple(payloadBytes []byte, sigB64 string, want digest.Digest) error {
	if err := want.Validate(); err != nil {
		return fmt.Errorf("sigverify: cosign: invalid subject digest %q: %w", want, err)
	}
	if len(v.keys) == 0 {
		return untrusted("policy has no cosign public key")
	}
	if len(payloadBytes) == 0 || len(payloadBytes) > maxSimplePayload {
		return untrusted("cosign payload is empty or larger than %d bytes", maxSimplePayload)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sigB64))
	if err != nil {
		return untrusted("cosign signature annotation is not base64: %v", err)
	}
	if len(sig) == 0 {
		return untrusted("cosign signature annotation is empty")
	}
	signer := 0
	for _, kv := range v.keys {
		if kv.sigsv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payloadBytes)) == nil {
			signer = kv.key
			break
		}
	}
	if signer == 0 {
		return untrusted("cosign signature does not verify under any of the %d trusted public key(s)", v.keyCount())
	}
	// Only now, with the payload authenticated, look inside it.
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(payloadBytes, &p); err != nil {
		return untrusted("cosign payload signed by key %d is not simple-signing JSON: %v", signer, err)
	}
	if p.Critical.Type != payload.CosignSignatureType {
		return untrusted("cosign payload signed by key %d has type %q, want %q", signer, short(p.Critical.Type), payload.CosignSignatureType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != want.String() {
		return untrusted("cosign signature by key %d is for image %q, not %s", signer, short(got), want)
	}
	return nil
}

// keyCount is the number of distinct trusted keys.
func (v *Verifier) keyCount() int {
	if len(v.keys) == 0 {
		return 0
	}
	return v.keys[len(v.keys)-1].key
}
