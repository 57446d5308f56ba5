package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// TestTrustedIssuer: tokens of an external token service (a certificate
// bundle, or a JWKS document) are accepted with their access claims, and
// only those.
func TestTrustedIssuer(t *testing.T) {
	dir := t.TempDir()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "idp"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	certFile := filepath.Join(dir, "idp.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]string{
		"kty": "RSA", "kid": "r1",
		"n": base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes()),
	}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}

	a, base := startApp(t, func(cfg *config.Config) {
		cfg.Auth.Token.Realm = "https://idp.example/token"
		cfg.Auth.Token.TrustedIssuer = "idp"
		cfg.Auth.Token.TrustedCertificates = certFile
		cfg.Auth.Token.TrustedJWKS = jwksFile
	})
	if err := a.meta.Update(t.Context(), func(tx meta.Tx) error { return tx.CreateProject(meta.Project{Name: "team"}) }); err != nil {
		t.Fatal(err)
	}

	mint := func(method jwt.SigningMethod, key any, iss string) string {
		claims := jwt.MapClaims{
			"iss": iss, "sub": "ci-bot", "aud": "berth", "exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix(),
			"access": []map[string]any{{"type": "repository", "name": "team/app", "actions": []string{"pull", "push"}}},
			"adm":    true, // an external issuer cannot make anyone a berth admin
		}
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	do := func(tok, method, path string) (int, http.Header) {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for _, tc := range []struct {
		name, token, method, path string
		want                      int
	}{
		{"certificate-signed token, granted push", mint(jwt.SigningMethodES256, ecKey, "idp"), "POST", "/v2/team/app/blobs/uploads/", 202},
		{"JWKS-signed token, granted pull", mint(jwt.SigningMethodRS256, rsaKey, "idp"), "GET", "/v2/team/app/tags/list", 404},
		{"outside the token's access", mint(jwt.SigningMethodES256, ecKey, "idp"), "POST", "/v2/team/other/blobs/uploads/", 403},
		{"no admin rights from the issuer", mint(jwt.SigningMethodES256, ecKey, "idp"), "GET", "/api/v1/users", 403},
		{"signed by an unknown key", mint(jwt.SigningMethodES256, otherKey, "idp"), "GET", "/v2/", 401},
		{"another issuer", mint(jwt.SigningMethodES256, ecKey, "someone"), "GET", "/v2/", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := do(tc.token, tc.method, tc.path); got != tc.want {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, got, tc.want)
			}
		})
	}
	t.Run("the challenge names the external realm", func(t *testing.T) {
		resp, err := http.Get(base + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="https://idp.example/token",service="berth"`) {
			t.Fatalf("challenge = %q", ch)
		}
	})
}
