//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// berth serving HTTPS itself (http.tls.certificate, http.tls.key) with a
// certificate for 127.0.0.1 issued by a CA the test makes: skopeo and crane
// verify it and refuse another CA's, the Docker engine logs in, pushes and
// pulls over it (the engine does not verify certificates of registries on
// 127.0.0.0/8, which it treats as insecure: it tries HTTPS first without
// verification, so this proves the protocol, not the trust), and a rotated
// certificate is served without a restart.

// testCA is a certificate authority made by a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// file is the CA certificate as a PEM file; dir holds only it, as
	// ca.crt (a containers/image --cert-dir).
	file, dir string
}

func randSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(t),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"berth e2e"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.file = filepath.Join(ca.dir, "ca.crt")
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pool is a certificate pool holding only the CA.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// clientTLS trusts the CA and nothing else.
func (ca *testCA) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}
}

// issue writes a server certificate for 127.0.0.1, ::1 and localhost, signed
// by the CA, and its key to certFile and keyFile, each replaced in one
// rename (as a certificate renewal tool would), and returns its serial.
func (ca *testCA) issue(t testing.TB, certFile, keyFile string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t),
		Subject:      pkix.Name{CommonName: "127.0.0.1", Organization: []string{"berth e2e"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{keyFile, "PRIVATE KEY", keyDER}, {certFile, "CERTIFICATE", der}} {
		tmp := f.path + ".new"
		writePEM(t, tmp, f.typ, f.der)
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return tmpl.SerialNumber
}

// tlsPair is where a TLS server's certificate and key live.
type tlsPair struct{ cert, key string }

// startTLSServer starts berth serving HTTPS with a certificate the CA
// issued; env is added to its environment.
func startTLSServer(t testing.TB, ca *testCA, env ...string) (*server, tlsPair) {
	t.Helper()
	dir := t.TempDir()
	p := tlsPair{cert: filepath.Join(dir, "server.crt"), key: filepath.Join(dir, "server.key")}
	ca.issue(t, p.cert, p.key)
	env = append([]string{"BERTH_HTTP_TLS_CERTIFICATE=" + p.cert, "BERTH_HTTP_TLS_KEY=" + p.key}, env...)
	return startServer(t, serverOpts{Env: env, TLS: ca.clientTLS()}), p
}

// servedSerial is the serial number of the certificate addr presents
// (not verified: this asks which one it is).
func servedSerial(t testing.TB, addr string) *big.Int {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// waitServed waits until addr presents the certificate with serial want.
func waitServed(t testing.TB, addr string, want *big.Int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := servedSerial(t, addr)
		if got.Cmp(want) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still presents certificate %x 20s after the files changed, want %x", addr, got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// untrustedCert tells whether a client's message says the server's
// certificate is not trusted (Go's x509 wording, which skopeo and crane
// both print).
func untrustedCert(out string) bool {
	return strings.Contains(out, "x509: certificate signed by unknown authority")
}

// TestTLSHandshake checks the protocol floor and the rotation of the pair
// with plain Go clients: TLS 1.2 and 1.3 are accepted, 1.1 refused, the
// certificate verifies for 127.0.0.1 with the test CA only, a renewed pair
// is served without a restart, and a broken one is ignored.
func TestTLSHandshake(t *testing.T) {
	requireBerth(t)
	ca := newTestCA(t, "berth e2e CA")
	s, pair := startTLSServer(t, ca)
	dial := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.host(), cfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.ConnectionState()
		return &st, nil
	}

	for _, tc := range []struct {
		name     string
		min, max uint16
		roots    *x509.CertPool
		ok       bool
	}{
		{"TLS 1.3, the test CA", tls.VersionTLS13, tls.VersionTLS13, ca.pool(), true},
		{"TLS 1.2, the test CA", tls.VersionTLS12, tls.VersionTLS12, ca.pool(), true},
		{"TLS 1.1 refused", tls.VersionTLS10, tls.VersionTLS11, ca.pool(), false},
		{"another CA refused", tls.VersionTLS12, tls.VersionTLS13, newTestCA(t, "other CA").pool(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := dial(&tls.Config{MinVersion: tc.min, MaxVersion: tc.max, RootCAs: tc.roots, ServerName: "127.0.0.1"})
			if tc.ok && (err != nil || st.Version < tc.min) {
				t.Fatalf("handshake: %v (state %+v), want TLS %x", err, st, tc.min)
			}
			if !tc.ok && err == nil {
				t.Fatalf("handshake succeeded with version %x, want a refusal", st.Version)
			}
		})
	}

	t.Run("plain HTTP on the TLS port is not served", func(t *testing.T) {
		resp, err := http.Get("http://" + s.host() + "/v2/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain GET /v2/ on the TLS port: status %d %q, want 400 or a refused connection", resp.StatusCode, body)
			}
		}
	})

	t.Run("rotation without a restart", func(t *testing.T) {
		serial := ca.issue(t, pair.cert, pair.key)
		waitServed(t, s.host(), serial)
		if st, _, _, err := s.httpDo(context.Background(), http.MethodGet, "/v2/", nil); err != nil || st != http.StatusOK {
			t.Fatalf("GET /v2/ after the rotation: status %d, %v", st, err)
		}
		// A broken renewal (a key that does not match) keeps the last
		// good pair.
		other := filepath.Join(t.TempDir(), "other")
		ca.issue(t, other+".crt", other+".key")
		raw, err := os.ReadFile(other + ".key")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pair.key, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond) // berth looks at the files at most once a second
		if got := servedSerial(t, s.host()); got.Cmp(serial) != 0 {
			t.Fatalf("after a broken renewal berth presents %x, want the last good %x", got, serial)
		}
		if st, _, _, err := s.httpDo(context.Background(), http.MethodGet, "/v2/", nil); err != nil || st != http.StatusOK {
			t.Fatalf("GET /v2/ after a broken renewal: status %d, %v", st, err)
		}
		if s.starts != 1 || !s.running() {
			t.Fatalf("berth was started %d times and runs: %v; want one start, still running", s.starts, s.running())
		}
	})
}

// TestTLSSkopeo: skopeo verifies berth's certificate with the test CA
// given by --cert-dir, copies an image in and out over HTTPS, and refuses
// berth when --cert-dir holds another CA.
func TestTLSSkopeo(t *testing.T) {
	scenario(t, "skopeo", "over TLS, the certificate verified with a test CA (--cert-dir): login, copy to berth and back, inspect, and another CA refused")
	requireBerth(t)
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	ca, other := newTestCA(t, "berth e2e CA"), newTestCA(t, "another CA")
	s, _ := startTLSServer(t, ca)
	h := s.host()

	src := filepath.Join(t.TempDir(), "src")
	img := ctrOCIImage(t, rng, runtime.GOARCH, 2)
	ctrWriteLayout(t, src, map[string]v1.Image{"v1": img}, nil)
	want := mustDigest(t, img).String()
	ref := "docker://" + h + "/e2e/skopeo-tls:v1"

	t.Run("login", func(t *testing.T) {
		out, errOut, err := c.skopeoInput(t, adminPassword, bin, "login", "--cert-dir", ca.dir, "--username", adminUser, "--password-stdin", h)
		if err != nil || !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("skopeo login over TLS: %v\n%s%s", err, out, errOut)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("copy in", func(t *testing.T) {
		c.mustSkopeo(t, bin, "copy", "--preserve-digests", "--dest-cert-dir", ca.dir, "oci:"+src+":v1", ref)
		if _, got := ctrManifest(t, s, "e2e/skopeo-tls", "v1"); got != want {
			t.Fatalf("berth serves e2e/skopeo-tls:v1 as %q, skopeo copied %s", got, want)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		out := c.mustSkopeo(t, bin, "inspect", "--cert-dir", ca.dir, ref)
		var got skopeoInspectOut
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("skopeo inspect output: %v\n%s", err, out)
		}
		if got.Digest != want {
			t.Errorf("skopeo inspect over TLS: Digest %s, want %s", got.Digest, want)
		}
	})

	t.Run("copy out", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "dst")
		c.mustSkopeo(t, bin, "copy", "--preserve-digests", "--src-cert-dir", ca.dir, ref, "oci:"+dst+":v1")
		ctrCompareBlobs(t, ctrLayoutBlobs(t, src), ctrLayoutBlobs(t, dst))
	})

	t.Run("another CA refused", func(t *testing.T) {
		for _, args := range [][]string{
			{"inspect", "--cert-dir", other.dir, ref},
			{"copy", "--dest-cert-dir", other.dir, "oci:" + src + ":v1", "docker://" + h + "/e2e/skopeo-tls:v2"},
		} {
			out, errOut, err := c.skopeo(t, bin, args...)
			if !exitedNonZero(err) {
				t.Fatalf("skopeo %s with another CA: err %v, want a non-zero exit\n%s%s", args[0], err, out, errOut)
			}
			if !untrustedCert(errOut) {
				t.Errorf("skopeo %s with another CA printed %q, want a certificate error", args[0], errOut)
			}
		}
		if st := ctrManifestStatus(t, s, "e2e/skopeo-tls", "v2"); st != http.StatusNotFound {
			t.Errorf("e2e/skopeo-tls:v2 after the refused copy: status %d, want 404", st)
		}
	})
}

// TestTLSCrane: crane (Go's TLS stack, roots from SSL_CERT_FILE) verifies
// berth's certificate, pushes and pulls over HTTPS, refuses an untrusted
// CA, and follows a certificate rotated to a new CA without a restart.
func TestTLSCrane(t *testing.T) {
	scenario(t, "crane", "over TLS, the certificate verified with a test CA (SSL_CERT_FILE): push, digest, pull, another CA refused, a certificate rotated to a new CA served without a restart")
	requireBerth(t)
	bin := requireTool(t, "crane")
	rng := newRand(t)
	ca, next := newTestCA(t, "berth e2e CA"), newTestCA(t, "berth e2e CA, renewed")
	s, pair := startTLSServer(t, ca)
	h := s.host()
	cfgDir, noDir := t.TempDir(), t.TempDir()
	addRegistryAuth(t, filepath.Join(cfgDir, "config.json"), h)

	// No --insecure: crane verifies the certificate against SSL_CERT_FILE
	// only (SSL_CERT_DIR points at an empty directory).
	crane := func(t *testing.T, roots *testCA, args ...string) cmdResult {
		t.Helper()
		env := []string{"DOCKER_CONFIG=" + cfgDir, "SSL_CERT_FILE=" + roots.file, "SSL_CERT_DIR=" + noDir}
		return runClientCmd(t, clientCmdTimeout, env, "", nil, bin, args...)
	}
	mustCrane := func(t *testing.T, roots *testCA, args ...string) string {
		t.Helper()
		r := crane(t, roots, args...)
		if r.Err != nil {
			t.Fatalf("crane %s: %s", strings.Join(args, " "), r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	refused := func(t *testing.T, roots *testCA, args ...string) {
		t.Helper()
		r := crane(t, roots, args...)
		if !exitedNonZero(r.Err) {
			t.Fatalf("crane %s with an untrusted CA: %s\nwant a non-zero exit", strings.Join(args, " "), r)
		}
		if !untrustedCert(r.Stderr) {
			t.Errorf("crane %s with an untrusted CA printed %q, want a certificate error", strings.Join(args, " "), r.Stderr)
		}
	}

	img := randomImage(t, rng, 2, 16<<10, 64<<10)
	want := mustDigest(t, img).String()
	tarPath := writeImageTarball(t, img, "v1")
	ref := h + "/e2e/crane-tls:v1"

	t.Run("push, digest, pull", func(t *testing.T) {
		mustCrane(t, ca, "push", tarPath, ref)
		if got := mustCrane(t, ca, "digest", ref); got != want {
			t.Errorf("crane digest %s, pushed %s", got, want)
		}
		out := filepath.Join(t.TempDir(), "pulled.tar")
		mustCrane(t, ca, "pull", ref, out)
		if st, err := os.Stat(out); err != nil || st.Size() == 0 {
			t.Errorf("crane pull wrote nothing: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("another CA refused", func(t *testing.T) {
		refused(t, next, "digest", ref)
		refused(t, next, "push", tarPath, h+"/e2e/crane-tls:v2")
		if st := ctrManifestStatus(t, s, "e2e/crane-tls", "v2"); st != http.StatusNotFound {
			t.Errorf("e2e/crane-tls:v2 after the refused push: status %d, want 404", st)
		}
	})

	t.Run("rotation to a new CA without a restart", func(t *testing.T) {
		serial := next.issue(t, pair.cert, pair.key)
		waitServed(t, h, serial)
		if got := mustCrane(t, next, "digest", ref); got != want {
			t.Errorf("crane digest after the rotation: %s, want %s", got, want)
		}
		mustCrane(t, next, "tag", ref, "v2")
		refused(t, ca, "digest", ref)
		if s.starts != 1 || !s.running() {
			t.Fatalf("berth was started %d times and runs: %v; want one start, still running", s.starts, s.running())
		}
	})
}

// apiCall sends a management API request as the admin and decodes a JSON
// answer into out (when not nil); it fails the test unless the status is
// want.
func apiCall(t testing.TB, s *server, method, path string, body any, want int, out any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.url(path), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(adminUser, adminPassword)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, got)
		}
	}
}

// robotToken gets an access token for scope from berth's token service
// with Basic credentials.
func robotToken(t testing.TB, s *server, user, password, scope string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url("/token?service=berth&scope="+scope), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET /token: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || (tok.Token == "" && tok.AccessToken == "") {
		t.Fatalf("GET /token as %s: status %d: %s", user, resp.StatusCode, body)
	}
	if tok.Token != "" {
		return tok.Token
	}
	return tok.AccessToken
}

// bearerStatus is the status of a GET with a Bearer token.
func bearerStatus(t testing.TB, s *server, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, vs := range manifestAccept {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestTLSDocker runs the Docker engine's whole login story against berth
// serving HTTPS: a wrong password refused; the admin pushes and pulls; a
// robot account made through the management API logs in, pushes and pulls;
// its access token (auth.token.ttl 5s) expires and the engine gets a new
// one with the identity token docker login kept; after docker logout a
// push is refused.
func TestTLSDocker(t *testing.T) {
	scenario(t, "docker", "over TLS (berth's certificate, which the engine does not verify on 127.0.0.1): login (a wrong password refused), push and pull as the admin, a robot account made through the API logs in, pushes and pulls, its 5s access token expires and the engine re-authenticates with the identity token, logout: push refused")
	requireBerth(t)
	requireDocker(t)
	// berth accepts a token up to 30s past its expiry (the clock leeway
	// between cluster nodes, internal/auth/tokens.go), so a token of
	// auth.token.ttl 5s is refused 35s after it was issued.
	const ttl, leeway = 5 * time.Second, 30 * time.Second
	rng := newRand(t)
	ca := newTestCA(t, "berth e2e CA")
	s, _ := startTLSServer(t, ca, "BERTH_AUTH_TOKEN_TTL="+ttl.String())
	h := s.host()
	cfgFile := filepath.Join(dockerConfig(t), "config.json")
	t.Cleanup(func() { _, _ = dockerCLI(t, "logout", h) })

	// The challenge names the token service over HTTPS.
	if _, hdr, _, err := s.httpDoAs(context.Background(), false, http.MethodGet, "/v2/", nil); err != nil {
		t.Fatal(err)
	} else if got, want := hdr.Get("WWW-Authenticate"), `Bearer realm="https://`+h+`/token"`; !strings.HasPrefix(got, want) {
		t.Errorf("WWW-Authenticate %q, want it to start with %q", got, want)
	}

	img := imageFromLayers(t, randomLayer(t, rng, 256<<10), randomLayer(t, rng, 64<<10))
	wantID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	localRef := fmt.Sprintf("berth-e2e-local/tls:%08x", rng.Uint32())
	dockerLoad(t, img, localRef)
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", wantID.String()) })
	login := func(t *testing.T, user, password string) {
		t.Helper()
		out, err := dockerCLIInput(t, password, "login", "--username", user, "--password-stdin", h)
		if err != nil || !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login %s as %s: %v\n%s", h, user, err, out)
		}
		if e := authFileEntries(t, cfgFile)[h]; e["identitytoken"] == "" {
			t.Errorf("after docker login as %s, %s holds %v for %s; want an identitytoken", user, cfgFile, e, h)
		}
	}
	pushPull := func(t *testing.T, ref string) string {
		t.Helper()
		mustDocker(t, "tag", localRef, ref)
		r := dockerPush(t, ref)
		removeImage(t, wantID.String())
		out := mustDocker(t, "pull", ref)
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != r.Digest {
			t.Errorf("docker pull %s printed %q, want Digest: %s", ref, out, r.Digest)
		}
		if got := imageID(t, ref); got != wantID.String() {
			t.Errorf("pulled image id %s, want %s", got, wantID)
		}
		mustDocker(t, "tag", ref, localRef)
		return r.Digest
	}

	t.Run("login with a wrong password fails", func(t *testing.T) {
		dockerMustFail(t, loginWrongPassword, "login", "--username", adminUser, "--password-stdin", h)
		if e, ok := authFileEntries(t, cfgFile)[h]; ok {
			t.Errorf("a failed docker login stored credentials for %s: %v", h, e)
		}
	})

	t.Run("admin push and pull", func(t *testing.T) {
		login(t, adminUser, adminPassword)
		d := pushPull(t, h+"/e2e/tls:v1")
		if got := registryDigest(t, s, "e2e/tls", "v1"); got != d {
			t.Errorf("berth serves e2e/tls:v1 as %q, docker pushed %s", got, d)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	apiCall(t, s, http.MethodPost, "/api/v1/projects", map[string]any{"name": "team"}, http.StatusCreated, nil)
	var robot struct{ Name, Secret string }
	apiCall(t, s, http.MethodPost, "/api/v1/projects/team/robots", map[string]any{
		"name":        "ci",
		"permissions": []map[string]any{{"repositories": "team/**", "actions": []string{"pull", "push"}}},
	}, http.StatusCreated, &robot)
	if robot.Name != "robot$team+ci" || robot.Secret == "" {
		t.Fatalf("robot created as %q with secret %q, want robot$team+ci and a secret", robot.Name, robot.Secret)
	}

	var robotDigest string
	t.Run("robot login, push and pull", func(t *testing.T) {
		login(t, robot.Name, robot.Secret)
		if raw, _ := base64.StdEncoding.DecodeString(authFileEntries(t, cfgFile)[h]["auth"]); strings.Contains(string(raw), robot.Secret) {
			t.Errorf("docker login stored the robot's secret for %s, want only the identity token", h)
		}
		robotDigest = pushPull(t, h+"/team/app:v1")
	})
	if robotDigest == "" {
		t.FailNow()
	}

	t.Run("token expiry and re-authentication", func(t *testing.T) {
		scope := "repository:team/app:pull"
		tok := robotToken(t, s, robot.Name, robot.Secret, scope)
		if st := bearerStatus(t, s, "/v2/team/app/manifests/v1", tok); st != http.StatusOK {
			t.Fatalf("GET manifest with a fresh robot token: status %d, want 200", st)
		}
		time.Sleep(ttl + leeway + 2*time.Second)
		if st := bearerStatus(t, s, "/v2/team/app/manifests/v1", tok); st != http.StatusUnauthorized {
			t.Fatalf("GET manifest with a robot token older than auth.token.ttl and the leeway: status %d, want 401", st)
		}
		// The engine's tokens from the push above have expired too: it
		// must get new ones with the identity token, not the secret.
		if d := pushPull(t, h+"/team/app:v2"); d != robotDigest {
			t.Errorf("push of team/app:v2 after the token expired: digest %s, want %s", d, robotDigest)
		}
	})

	t.Run("logout then push refused", func(t *testing.T) {
		out := mustDocker(t, "logout", h)
		if !strings.Contains(out, "Removing login credentials for "+h) {
			t.Errorf("docker logout printed %q", out)
		}
		ref := h + "/team/app:v3"
		mustDocker(t, "tag", localRef, ref)
		dockerMustFail(t, "", "push", ref)
		if st, _, err := headStatus(context.Background(), s, "/v2/team/app/manifests/v3", manifestAccept); err != nil || st != http.StatusNotFound {
			t.Errorf("HEAD team/app:v3 after the refused push: status %d, %v; want 404", st, err)
		}
	})
}
