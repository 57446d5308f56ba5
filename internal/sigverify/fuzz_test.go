package sigverify

import (
	"context"
	"errors"
	"testing"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The fuzz targets check that no input panics and that every rejection
// wraps ErrUntrusted. Run one with e.g.
// go test -run '^$' -fuzz FuzzCosignBundle -fuzztime 30s ./internal/sigverify/

func FuzzCosignSimple(f *testing.F) {
	want := digestOf("manifest")
	good := simplePayload(f, want)
	f.Add(good, cosignSign(f, "p256", good))
	f.Add([]byte(`{"critical":{"type":"cosign container image signature"}}`), "MEUCIQ==")
	f.Add([]byte(nil), "")
	v := newVerifier(f, Trust{Keys: pubKeys(f, "p256", "ed25519")})
	f.Fuzz(func(t *testing.T, p []byte, sig string) {
		if err := v.CosignSimple(p, sig, want); err != nil && !errors.Is(err, ErrUntrusted) {
			t.Fatalf("rejection does not wrap ErrUntrusted: %v", err)
		}
	})
}

func FuzzCosignBundle(f *testing.F) {
	want := digestOf("manifest")
	f.Add(dsseBundle(f, "p256", want))
	f.Add([]byte(realCosignBundle))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{}}`))
	f.Add([]byte(`{}`))
	v := newVerifier(f, Trust{Keys: bundleKeyPubs(f, "p256", "ed25519")})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := v.CosignBundle(b, want); err != nil && !errors.Is(err, ErrUntrusted) {
			t.Fatalf("rejection does not wrap ErrUntrusted: %v", err)
		}
	})
}

func FuzzNotation(f *testing.F) {
	want := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digestOf("manifest"), Size: 8}
	// ECDSA, not RSA: key generation under fuzzing instrumentation is slow.
	roots, key := testRoot(f, "p256-fuzz", testSubject)
	f.Add(notationSign(f, key, roots, want, jws.MediaTypeEnvelope), false)
	f.Add(notationSign(f, key, roots, want, cose.MediaTypeEnvelope), true)
	f.Add([]byte(`{"payload":"","protected":"","signature":""}`), false)
	v := newVerifier(f, Trust{Roots: roots})
	f.Fuzz(func(t *testing.T, env []byte, useCOSE bool) {
		mt := jws.MediaTypeEnvelope
		if useCOSE {
			mt = cose.MediaTypeEnvelope
		}
		if err := v.Notation(context.Background(), env, mt, want); err != nil && !errors.Is(err, ErrUntrusted) {
			t.Fatalf("rejection does not wrap ErrUntrusted: %v", err)
		}
	})
}
