package sigverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

// testKeys caches generated private keys by name: RSA generation is slow.
var testKeys = struct {
	sync.Mutex
	m map[string]crypto.Signer
}{m: map[string]crypto.Signer{}}

// privKey returns the private key named name, generating it on first use.
// The name's prefix picks the type: "p256", "p384", "p224", "ed25519",
// "rsa2048", "rsa1024".
func privKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	testKeys.Lock()
	defer testKeys.Unlock()
	if k, ok := testKeys.m[name]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch {
	case strings.HasPrefix(name, "p256"):
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case strings.HasPrefix(name, "p384"):
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case strings.HasPrefix(name, "p224"):
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case strings.HasPrefix(name, "ed25519"):
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case strings.HasPrefix(name, "rsa2048"):
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case strings.HasPrefix(name, "rsa1024"):
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	default:
		t.Fatalf("unknown test key kind %q", name)
	}
	if err != nil {
		t.Fatalf("generating %s: %v", name, err)
	}
	testKeys.m[name] = k
	return k
}

// pubKeys returns the public halves of the named keys.
func pubKeys(t testing.TB, names ...string) []crypto.PublicKey {
	t.Helper()
	out := make([]crypto.PublicKey, 0, len(names))
	for _, n := range names {
		out = append(out, privKey(t, n).Public())
	}
	return out
}

// digestOf is the sha256 digest of s.
func digestOf(s string) digest.Digest {
	sum := sha256.Sum256([]byte(s))
	return digest.NewDigestFromBytes(digest.SHA256, sum[:])
}

// newVerifier builds a Verifier or fails the test.
func newVerifier(t testing.TB, tr Trust) *Verifier {
	t.Helper()
	v, err := New(tr)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// checkOutcome fails t unless err is nil when wantOK, or wraps ErrUntrusted
// and mentions wantMsg (when given) otherwise.
func checkOutcome(t *testing.T, err error, wantOK bool, wantMsg string) {
	t.Helper()
	if wantOK {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	t.Logf("rejected: %v", err)
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("want an error wrapping ErrUntrusted, got %v", err)
	}
	if wantMsg != "" && !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("error %q does not mention %q", err, wantMsg)
	}
}
