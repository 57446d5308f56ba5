package sigverify

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

func pubPEM(t testing.TB, keyName string) string {
	t.Helper()
	b, err := cryptoutils.MarshalPublicKeyToPEM(privKey(t, keyName).Public())
	if err != nil {
		t.Fatalf("MarshalPublicKeyToPEM: %v", err)
	}
	return string(b)
}

func certPEM(t testing.TB, keyName string) string {
	t.Helper()
	roots, _ := testRoot(t, keyName, testSubject)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: roots[0].Raw}))
}

func TestParsePublicKeys(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		count int
		err   string
	}{
		{name: "one ecdsa", in: pubPEM(t, "p256"), count: 1},
		{name: "ed25519 and rsa", in: pubPEM(t, "ed25519") + "\n" + pubPEM(t, "rsa2048"), count: 2},
		{name: "three with blank lines", in: pubPEM(t, "p256") + "\n\n" + pubPEM(t, "p384") + pubPEM(t, "ed25519") + "\n", count: 3},
		{name: "empty", in: "", err: "no PEM block"},
		{name: "junk", in: "this is not a key", err: "no PEM block"},
		{name: "trailing junk", in: pubPEM(t, "p256") + "junk", err: "after PEM block 1"},
		{name: "certificate block", in: pubPEM(t, "p256") + certPEM(t, "a"), err: "PEM block 2 is \"CERTIFICATE\""},
		{name: "private key block", in: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", err: "PEM block 1 is \"PRIVATE KEY\""},
		{name: "garbage DER", in: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", err: "PEM block 1: parsing public key"},
		{name: "weak rsa", in: pubPEM(t, "rsa1024"), err: "PEM block 1: rsa key size"},
		{name: "p224", in: pubPEM(t, "p224"), err: "PEM block 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, err := ParsePublicKeys([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want error mentioning %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKeys: %v", err)
			}
			if len(keys) != c.count {
				t.Fatalf("got %d keys, want %d", len(keys), c.count)
			}
		})
	}
}

func TestParsePublicKeysRoundTrip(t *testing.T) {
	keys, err := ParsePublicKeys([]byte(pubPEM(t, "p256") + pubPEM(t, "rsa2048")))
	if err != nil {
		t.Fatalf("ParsePublicKeys: %v", err)
	}
	for i, name := range []string{"p256", "rsa2048"} {
		if err := cryptoutils.EqualKeys(keys[i], privKey(t, name).Public()); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
}

func TestParseCertificates(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		count int
		err   string
	}{
		{name: "one", in: certPEM(t, "a"), count: 1},
		{name: "two", in: certPEM(t, "a") + certPEM(t, "b"), count: 2},
		{name: "empty", in: "   \n", err: "no PEM block"},
		{name: "junk", in: "junk", err: "no PEM block"},
		{name: "trailing junk", in: certPEM(t, "a") + "junk", err: "after PEM block 1"},
		{name: "public key block", in: certPEM(t, "a") + pubPEM(t, "p256"), err: "PEM block 2 is \"PUBLIC KEY\""},
		{name: "garbage DER", in: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", err: "PEM block 1: parsing certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			certs, err := ParseCertificates([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want error mentioning %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCertificates: %v", err)
			}
			if len(certs) != c.count {
				t.Fatalf("got %d certificates, want %d", len(certs), c.count)
			}
			for _, ce := range certs {
				if _, err := x509.ParseCertificate(ce.Raw); err != nil {
					t.Fatalf("returned certificate does not re-parse: %v", err)
				}
			}
		})
	}
}
