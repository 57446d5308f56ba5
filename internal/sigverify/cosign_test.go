package sigverify

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// simplePayload is the simple-signing payload cosign writes for an image.
func simplePayload(t testing.TB, d digest.Digest) []byte {
	t.Helper()
	ref, err := name.NewDigest("registry.example/team/app@" + d.String())
	if err != nil {
		t.Fatalf("digest reference: %v", err)
	}
	b, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	return b
}

// cosignSign signs p with the named key the way cosign sign --key does and
// returns the base64 annotation value.
func cosignSign(t testing.TB, keyName string, p []byte) string {
	t.Helper()
	s, err := signature.LoadSigner(privKey(t, keyName), crypto.SHA256)
	if err != nil {
		t.Fatalf("LoadSigner: %v", err)
	}
	sig, err := s.SignMessage(bytes.NewReader(p))
	if err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestCosignSimple(t *testing.T) {
	want := digestOf("manifest")
	other := digestOf("another manifest")
	good := simplePayload(t, want)

	type tc struct {
		name    string
		trusted []string // key names in Trust.Keys
		payload []byte
		sig     string
		ok      bool
		msg     string
	}
	var cases []tc
	for _, k := range []string{"p256", "p384", "ed25519", "rsa2048"} {
		cases = append(cases,
			tc{name: k + "/valid", trusted: []string{k}, payload: good, sig: cosignSign(t, k, good), ok: true},
			tc{name: k + "/other key", trusted: []string{k + "-other"}, payload: good, sig: cosignSign(t, k, good),
				msg: "does not verify under any of the 1 trusted"},
			tc{name: k + "/other digest", trusted: []string{k}, payload: simplePayload(t, other),
				sig: cosignSign(t, k, simplePayload(t, other)), msg: "is for image \"" + other.String()},
		)
	}
	tampered := bytes.Replace(good, []byte(want.Encoded()), []byte(other.Encoded()), 1)
	wrongType := []byte(strings.Replace(string(good), payload.CosignSignatureType, "atomic container signature", 1))
	notJSON := []byte("not json at all")
	cases = append(cases,
		tc{name: "tampered payload", trusted: []string{"p256"}, payload: tampered, sig: cosignSign(t, "p256", good),
			msg: "does not verify"},
		tc{name: "bad base64", trusted: []string{"p256"}, payload: good, sig: "%%%not base64", msg: "not base64"},
		tc{name: "empty signature", trusted: []string{"p256"}, payload: good, sig: "", msg: "empty"},
		tc{name: "empty payload", trusted: []string{"p256"}, payload: nil, sig: cosignSign(t, "p256", good), msg: "empty"},
		tc{name: "signature of another key type", trusted: []string{"rsa2048"}, payload: good,
			sig: cosignSign(t, "p256", good), msg: "does not verify"},
		tc{name: "second key matches", trusted: []string{"p256-other", "ed25519-other", "rsa2048"}, payload: good,
			sig: cosignSign(t, "rsa2048", good), ok: true},
		tc{name: "no key matches of three", trusted: []string{"p256-other", "ed25519-other", "rsa2048-other"},
			payload: good, sig: cosignSign(t, "rsa2048", good), msg: "any of the 3 trusted"},
		tc{name: "signed payload of wrong type", trusted: []string{"p256"}, payload: wrongType,
			sig: cosignSign(t, "p256", wrongType), msg: "has type"},
		tc{name: "signed payload not JSON", trusted: []string{"p256"}, payload: notJSON,
			sig: cosignSign(t, "p256", notJSON), msg: "not simple-signing JSON"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, Trust{Keys: pubKeys(t, c.trusted...)})
			err := v.CosignSimple(c.payload, c.sig, want)
			checkOutcome(t, err, c.ok, c.msg)
		})
	}
}

func TestCosignSimpleWithoutKeys(t *testing.T) {
	roots, _ := testRoot(t, "root-a", testSubject)
	v := newVerifier(t, Trust{Roots: roots})
	good := simplePayload(t, digestOf("m"))
	err := v.CosignSimple(good, cosignSign(t, "p256", good), digestOf("m"))
	checkOutcome(t, err, false, "no cosign public key")
}

func TestCosignSimpleInvalidWant(t *testing.T) {
	v := newVerifier(t, Trust{Keys: pubKeys(t, "p256")})
	good := simplePayload(t, digestOf("m"))
	err := v.CosignSimple(good, cosignSign(t, "p256", good), digest.Digest("sha256:nothex"))
	if err == nil || !strings.Contains(err.Error(), "invalid subject digest") {
		t.Fatalf("want an invalid subject digest error, got %v", err)
	}
}
