package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for cn and its key.
func writePair(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func commonName(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.Subject.CommonName
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "first.example")
	r, err := New(certFile, keyFile, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	r.now = func() time.Time { return clock }
	tick := func() { clock = clock.Add(2 * checkEvery) }

	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"as loaded", func() {}, "first.example"},
		{"rotated", func() { writePair(t, dir, "second.example") }, "second.example"},
		{"a broken key keeps the last good pair", func() {
			if err := os.WriteFile(keyFile, []byte("half-written"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "second.example"},
		{"a removed file keeps the last good pair", func() { os.Remove(certFile) }, "second.example"},
		{"fixed again", func() { writePair(t, dir, "third.example") }, "third.example"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change()
			tick()
			if got := commonName(t, r); got != s.want {
				t.Fatalf("serving %s, want %s", got, s.want)
			}
		})
	}
	t.Run("not looked at more than once a second", func(t *testing.T) {
		writePair(t, dir, "fourth.example")
		if got := commonName(t, r); got != "third.example" {
			t.Fatalf("reloaded within the interval: %s", got)
		}
	})
}

func TestNewRefusesBadPairs(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "a.example")
	other, _ := writePair(t, t.TempDir(), "b.example")
	for _, tc := range []struct{ name, cert, key string }{
		{"missing certificate", filepath.Join(dir, "none.crt"), keyFile},
		{"certificate and key do not match", other, keyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cert, tc.key, nil); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	r, err := New(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := r.Config(); cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("MinVersion = %x", cfg.MinVersion)
	}
}
