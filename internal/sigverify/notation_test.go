package sigverify

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testSubject is the subject of the default test signing certificate.
var testSubject = pkix.Name{
	CommonName:   "berth-test",
	Organization: []string{"Berth"},
	Province:     []string{"WA"},
	Country:      []string{"US"},
}

// testRoot makes a self-signed signing certificate like "notation cert
// generate-test" (CA false, key usage digitalSignature, EKU code signing) for
// the named key; an unprefixed name means RSA 2048 (see privKey).
func testRoot(t testing.TB, keyName string, subject pkix.Name) ([]*x509.Certificate, crypto.Signer) {
	t.Helper()
	if !strings.HasPrefix(keyName, "p256") {
		keyName = "rsa2048-" + keyName
	}
	key := privKey(t, keyName)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	return []*x509.Certificate{makeCert(t, tmpl, tmpl, key, key)}, key
}

// testCAChain makes a root CA and a code-signing leaf it issued; it returns
// the chain (leaf first), the leaf's key and the root.
func testCAChain(t testing.TB, keyName string, subject pkix.Name) ([]*x509.Certificate, crypto.Signer, *x509.Certificate) {
	t.Helper()
	caKey := privKey(t, "rsa2048-ca-"+keyName)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "berth test CA", Organization: []string{"Berth"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	ca := makeCert(t, caTmpl, caTmpl, caKey, caKey)
	leafKey := privKey(t, "rsa2048-leaf-"+keyName)
	leafTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano() + 1),
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leaf := makeCert(t, leafTmpl, ca, leafKey, caKey)
	return []*x509.Certificate{leaf, ca}, leafKey, ca
}

func makeCert(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return cert
}

// notationSign signs desc with notation-go's generic signer.
func notationSign(t testing.TB, key crypto.Signer, chain []*x509.Certificate, desc ocispec.Descriptor, mediaType string) []byte {
	t.Helper()
	s, err := signer.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatalf("NewGenericSigner: %v", err)
	}
	env, _, err := s.Sign(context.Background(), desc, notation.SignerSignOptions{SignatureMediaType: mediaType})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return env
}

func TestNotation(t *testing.T) {
	want := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digestOf("manifest"), Size: 8}
	otherDigest := want
	otherDigest.Digest = digestOf("another manifest")
	otherType := want
	otherType.MediaType = ocispec.MediaTypeImageIndex
	otherSize := want
	otherSize.Size = 9

	roots, key := testRoot(t, "a", testSubject)
	otherRoots, _ := testRoot(t, "b", testSubject)
	const rightID = "x509.subject: CN=berth-test, O=Berth, ST=WA, C=US"
	const otherID = "x509.subject: CN=someone-else, O=Berth, ST=WA, C=US"

	for _, mt := range []string{jws.MediaTypeEnvelope, cose.MediaTypeEnvelope} {
		env := notationSign(t, key, roots, want, mt)
		tamperedEnv := append([]byte(nil), env...)
		tamperedEnv[len(tamperedEnv)/2] ^= 0x01
		wrongMT := cose.MediaTypeEnvelope
		if mt == cose.MediaTypeEnvelope {
			wrongMT = jws.MediaTypeEnvelope
		}
		cases := []struct {
			name  string
			roots []*x509.Certificate
			ids   []string
			env   []byte
			mt    string
			want  ocispec.Descriptor
			ok    bool
			msg   string
		}{
			{name: "valid", roots: roots, env: env, mt: mt, want: want, ok: true},
			{name: "valid among roots", roots: append(append([]*x509.Certificate{}, otherRoots...), roots...), env: env, mt: mt, want: want, ok: true},
			{name: "another root", roots: otherRoots, env: env, mt: mt, want: want, msg: "notation signature"},
			{name: "another digest", roots: roots, env: env, mt: mt, want: otherDigest, msg: "descriptor mismatch"},
			{name: "another media type", roots: roots, env: env, mt: mt, want: otherType, msg: "descriptor mismatch"},
			{name: "another size", roots: roots, env: env, mt: mt, want: otherSize, msg: "descriptor mismatch"},
			{name: "identity of another subject", roots: roots, ids: []string{otherID}, env: env, mt: mt, want: want, msg: "trusted identities"},
			{name: "identity of the right subject", roots: roots, ids: []string{rightID}, env: env, mt: mt, want: want, ok: true},
			{name: "one of two identities", roots: roots, ids: []string{otherID, rightID}, env: env, mt: mt, want: want, ok: true},
			{name: "tampered", roots: roots, env: tamperedEnv, mt: mt, want: want, msg: "notation signature"},
			{name: "wrong envelope media type", roots: roots, env: env, mt: wrongMT, want: want, msg: "notation signature"},
			{name: "unsupported media type", roots: roots, env: env, mt: "application/json", want: want, msg: "neither"},
			{name: "junk", roots: roots, env: []byte("junk"), mt: mt, want: want, msg: "notation signature"},
			{name: "empty", roots: roots, env: nil, mt: mt, want: want, msg: "empty"},
		}
		chain, leafKey, ca := testCAChain(t, "a", testSubject)
		_, _, otherCA := testCAChain(t, "b", testSubject)
		caEnv := notationSign(t, leafKey, chain, want, mt)
		cases = append(cases, []struct {
			name  string
			roots []*x509.Certificate
			ids   []string
			env   []byte
			mt    string
			want  ocispec.Descriptor
			ok    bool
			msg   string
		}{
			{name: "CA chain", roots: []*x509.Certificate{ca}, ids: []string{rightID}, env: caEnv, mt: mt, want: want, ok: true},
			{name: "CA chain, another CA", roots: []*x509.Certificate{otherCA}, env: caEnv, mt: mt, want: want, msg: "notation signature"},
			{name: "CA chain, trusting the leaf only", roots: roots, env: caEnv, mt: mt, want: want, msg: "notation signature"},
		}...)
		for _, c := range cases {
			t.Run(mt+"/"+c.name, func(t *testing.T) {
				v := newVerifier(t, Trust{Roots: c.roots, Identities: c.ids})
				err := v.Notation(context.Background(), c.env, c.mt, c.want)
				checkOutcome(t, err, c.ok, c.msg)
			})
		}
	}
}

func TestNotationWithoutRoots(t *testing.T) {
	v := newVerifier(t, Trust{Keys: pubKeys(t, "p256")})
	want := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digestOf("m"), Size: 1}
	err := v.Notation(context.Background(), []byte("x"), jws.MediaTypeEnvelope, want)
	checkOutcome(t, err, false, "no notation trust root")
}
