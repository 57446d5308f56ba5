package sigverify

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// realCosignBundle is a bundle exactly as cosign v2.6.5 "sign
// --new-bundle-format --key" stored it; its key is not available.
const realCosignBundle = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial":{"publicKey":{"hint":"HouWOpUcld3Zz0QBtBw1VqS9XsRLe0p4UwqIEzS+mm0="}}, "dsseEnvelope":{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCAic3ViamVjdCI6W3siZGlnZXN0Ijp7InNoYTI1NiI6IjUwZGNkNzhiOGFiNDAxZTJlNGU0NmEwZWIzZTZmNjI0YjFlNjYzNjdhODdmNzc1ZGY4ODY1N2ExMTQ4ZjMzZWYifX1dLCAicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2lnc3RvcmUuZGV2L2Nvc2lnbi9zaWduL3YxIn0=", "payloadType":"application/vnd.in-toto+json", "signatures":[{"sig":"MEUCIQCQEK0HRgDpCvBfna5uJatrzs/2YmqUEiJcrvqsiR9KwAIgAKWY8L0MKiSYEvl3YTcz5lDbN5FMo5lRVyCwn+4OyRE="}]}}`

// realCosignSubject is the image digest the real bundle's statement names.
const realCosignSubject = digest.Digest("sha256:50dcd78b8ab401e2e4e46a0eb3e6f624b1e66367a87f775df88657a1148f33ef")

// bundleKeys caches keypairs by name so that "other key" cases differ.
var bundleKeys = map[string]*sign.EphemeralKeypair{}

func bundleKey(t testing.TB, keyName string) *sign.EphemeralKeypair {
	t.Helper()
	if kp, ok := bundleKeys[keyName]; ok {
		return kp
	}
	algs := map[string]protocommon.PublicKeyDetails{
		"p256":    protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
		"p384":    protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384,
		"ed25519": protocommon.PublicKeyDetails_PKIX_ED25519,
		"rsa2048": protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256,
	}
	alg, ok := algs[strings.SplitN(keyName, "-", 2)[0]]
	if !ok {
		t.Fatalf("unknown bundle key %q", keyName)
	}
	kp, err := sign.NewEphemeralKeypair(&sign.EphemeralKeypairOptions{Algorithm: alg, Hint: []byte("not-a-real-hint")})
	if err != nil {
		t.Fatalf("NewEphemeralKeypair: %v", err)
	}
	bundleKeys[keyName] = kp
	return kp
}

// statement is cosign's in-toto statement for an image signature.
func statement(d digest.Digest) []byte {
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"registry.example/team/app","digest":{"%s":"%s"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
		d.Algorithm(), d.Encoded())
}

// makeBundle signs content with the named key into a v0.3 bundle JSON.
func makeBundle(t testing.TB, keyName string, content sign.Content) []byte {
	t.Helper()
	pb, err := sign.Bundle(content, bundleKey(t, keyName), sign.BundleOptions{})
	if err != nil {
		t.Fatalf("sign.Bundle: %v", err)
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatalf("marshal bundle: %v", err)
	}
	return b
}

func dsseBundle(t testing.TB, keyName string, d digest.Digest) []byte {
	t.Helper()
	return makeBundle(t, keyName, &sign.DSSEData{Data: statement(d), PayloadType: "application/vnd.in-toto+json"})
}

// editBundle decodes b, lets edit change it, and encodes it again.
func editBundle(t testing.TB, b []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode bundle: %v", err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode bundle: %v", err)
	}
	return out
}

func bundleKeyPubs(t testing.TB, names ...string) []crypto.PublicKey {
	t.Helper()
	out := make([]crypto.PublicKey, 0, len(names))
	for _, n := range names {
		out = append(out, bundleKey(t, n).GetPublicKey())
	}
	return out
}

func TestCosignBundle(t *testing.T) {
	want := digestOf("manifest")
	other := digestOf("another manifest")
	good := dsseBundle(t, "p256", want)

	type tc struct {
		name    string
		trusted []string
		bundle  []byte
		want    digest.Digest
		ok      bool
		msg     string
	}
	var cases []tc
	for _, k := range []string{"p256", "p384", "ed25519", "rsa2048"} {
		b := dsseBundle(t, k, want)
		cases = append(cases,
			tc{name: k + "/valid", trusted: []string{k}, bundle: b, want: want, ok: true},
			tc{name: k + "/other key", trusted: []string{k + "-other"}, bundle: b, want: want, msg: "does not verify"},
			tc{name: k + "/other subject", trusted: []string{k}, bundle: b, want: other, msg: "has no in-toto subject"},
		)
	}
	tampered := editBundle(t, good, func(m map[string]any) {
		m["dsseEnvelope"].(map[string]any)["payload"] = base64.StdEncoding.EncodeToString(statement(other))
	})
	noHint := editBundle(t, good, func(m map[string]any) {
		m["verificationMaterial"] = map[string]any{"publicKey": map[string]any{}}
	})
	v01 := editBundle(t, good, func(m map[string]any) {
		m["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	})
	twoSigs := editBundle(t, good, func(m map[string]any) {
		env := m["dsseEnvelope"].(map[string]any)
		sigs := env["signatures"].([]any)
		env["signatures"] = append(sigs, sigs[0])
	})
	wrongPayloadType := makeBundle(t, "p256", &sign.DSSEData{Data: statement(want), PayloadType: "application/json"})
	msgBundle := makeBundle(t, "p256", &sign.PlainData{Data: []byte("manifest")})
	msgEd := makeBundle(t, "ed25519", &sign.PlainData{Data: []byte("manifest")})
	cases = append(cases,
		tc{name: "tampered payload", trusted: []string{"p256"}, bundle: tampered, want: other, msg: "does not verify"},
		tc{name: "hint absent", trusted: []string{"p256"}, bundle: noHint, want: want, ok: true},
		tc{name: "v0.1 media type", trusted: []string{"p256"}, bundle: v01, want: want, ok: true},
		tc{name: "second key matches", trusted: []string{"rsa2048-other", "p256", "ed25519-other"}, bundle: good, want: want, ok: true},
		tc{name: "two signatures", trusted: []string{"p256"}, bundle: twoSigs, want: want, msg: "has 2 signatures"},
		tc{name: "payload type not in-toto", trusted: []string{"p256"}, bundle: wrongPayloadType, want: want, msg: "payload type is \"application/json\""},
		tc{name: "message signature", trusted: []string{"p256"}, bundle: msgBundle, want: want, ok: true},
		tc{name: "message signature other key", trusted: []string{"p256-other"}, bundle: msgBundle, want: want, msg: "does not verify"},
		tc{name: "message signature other digest", trusted: []string{"p256"}, bundle: msgBundle, want: other, msg: "message signature is over"},
		tc{name: "message signature ed25519 cannot match a digest", trusted: []string{"ed25519"}, bundle: msgEd, want: want, msg: "message signature is over"},
		tc{name: "real cosign bundle, our key", trusted: []string{"p256"}, bundle: []byte(realCosignBundle), want: realCosignSubject, msg: "does not verify"},
		tc{name: "real cosign bundle, other digest", trusted: []string{"p256", "ed25519"}, bundle: []byte(realCosignBundle), want: want, msg: "does not verify under any of the 2"},
		tc{name: "not JSON", trusted: []string{"p256"}, bundle: []byte("{nope"), want: want, msg: "malformed sigstore bundle"},
		tc{name: "empty", trusted: []string{"p256"}, bundle: nil, want: want, msg: "empty"},
		tc{name: "unknown media type", trusted: []string{"p256"}, want: want, msg: "malformed sigstore bundle",
			bundle: editBundle(t, good, func(m map[string]any) { m["mediaType"] = "application/json" })},
		tc{name: "certificate instead of key", trusted: []string{"p256"}, want: want, msg: "keyless",
			bundle: editBundle(t, good, func(m map[string]any) {
				m["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": certDERBase64(t)}}
			})},
		tc{name: "malformed certificate", trusted: []string{"p256"}, want: want, msg: "x509",
			bundle: editBundle(t, good, func(m map[string]any) {
				m["verificationMaterial"] = map[string]any{"certificate": map[string]any{"rawBytes": "AAAA"}}
			})},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, Trust{Keys: bundleKeyPubs(t, c.trusted...)})
			err := v.CosignBundle(c.bundle, c.want)
			checkOutcome(t, err, c.ok, c.msg)
		})
	}
}

func certDERBase64(t testing.TB) string {
	t.Helper()
	roots, _ := testRoot(t, "a", testSubject)
	return base64.StdEncoding.EncodeToString(roots[0].Raw)
}

func TestCosignBundleRealParses(t *testing.T) {
	// The real bundle must get as far as signature checking: a parse error
	// would say "malformed".
	v := newVerifier(t, Trust{Keys: pubKeys(t, "p256")})
	err := v.CosignBundle([]byte(realCosignBundle), realCosignSubject)
	checkOutcome(t, err, false, "signature does not verify")
}
