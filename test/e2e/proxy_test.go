//go:build e2e

package e2e

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// berth behind a reverse proxy: Debian's nginx terminates TLS with the
// example configuration deploy/nginx/berth.conf and the Docker engine
// pushes and pulls a large layer through it; berth believes X-Forwarded-*
// only from its trusted proxies (http.trusted_proxies), and
// http.external_url pins the URL it sends clients to.

// proxyLayerPayload is the random file in the layer pushed through nginx.
const proxyLayerPayload = 200 << 20

// requireNginx returns the nginx binary; a missing one skips the test,
// or fails it with E2E_REQUIRE_CLIENTS=1 (scripts/test.sh installs nginx).
func requireNginx(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if st, err := os.Stat("/usr/sbin/nginx"); err == nil && st.Mode()&0o111 != 0 {
		return "/usr/sbin/nginx"
	}
	msg := "nginx is not installed (apt-get install nginx, or: source scripts/lib/common.sh scripts/lib/deps.sh scripts/lib/nginx.sh && ensure_nginx)"
	if os.Getenv("E2E_REQUIRE_CLIENTS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// nginxProxy is one nginx process in front of a berth.
type nginxProxy struct {
	addr     string // 127.0.0.1:PORT it listens on
	dir      string
	errorLog string
}

// renderExampleConf reads deploy/nginx/berth.conf and points it at the
// test's addresses and files. Every substitution must find its text
// exactly once, so a changed example fails here instead of being tested
// in a shape nobody wrote.
func renderExampleConf(t testing.TB, listen, upstream, cert, key string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "nginx", "berth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	for _, r := range []struct{ old, new string }{
		{"\tserver 127.0.0.1:5000;\n", "\tserver " + upstream + ";\n"},
		{"\tlisten 443 ssl;\n", "\tlisten " + listen + " ssl;\n"},
		{"\tlisten [::]:443 ssl;\n", ""},
		{"\tssl_certificate /etc/ssl/berth/fullchain.pem;\n", "\tssl_certificate " + cert + ";\n"},
		{"\tssl_certificate_key /etc/ssl/berth/privkey.pem;\n", "\tssl_certificate_key " + key + ";\n"},
	} {
		if n := strings.Count(conf, r.old); n != 1 {
			t.Fatalf("deploy/nginx/berth.conf holds %q %d times, the test substitutes it once", strings.TrimSpace(r.old), n)
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	return conf
}

// startNginx runs nginx in the foreground, as one process (so that it
// dies with the test binary), with the example site and every path of its
// own in a temporary directory, in front of s.
func startNginx(t testing.TB, s *server, cert, key string) *nginxProxy {
	t.Helper()
	bin := requireNginx(t)
	dir := t.TempDir()
	p := &nginxProxy{addr: freeAddr(t), dir: dir, errorLog: filepath.Join(dir, "error.log")}
	site := filepath.Join(dir, "berth.conf")
	if err := os.WriteFile(site, []byte(renderExampleConf(t, p.addr, s.host(), cert, key)), 0o644); err != nil {
		t.Fatal(err)
	}
	var temps strings.Builder
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temps, "\t%s_temp_path %s;\n", k, filepath.Join(dir, k))
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events {
	worker_connections 256;
}
http {
	access_log %[1]s/access.log;
%[2]s	include %[3]s;
}
`, dir, temps.String(), site)
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir + "/", "-c", mainPath, "-e", p.errorLog}
	if out, err := exec.Command(bin, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t with deploy/nginx/berth.conf: %v\n%s\nsite as tested:\n%s", err, out, tailFile(site, 8000))
	}
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("nginx error log:\n%s\nnginx stderr:\n%s", tailFile(p.errorLog, 4000), tailFile(filepath.Join(dir, "stderr.log"), 2000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("nginx exited at start: %v\n%s", err, tailFile(p.errorLog, 4000))
		default:
		}
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 20s\n%s", p.addr, tailFile(p.errorLog, 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeDockerArchive writes, without holding it in memory, a docker-archive
// (what `docker save` writes and `docker load` reads) of one image whose
// single layer is an uncompressed tar holding payload random bytes. It
// returns the archive's path and the image id (the config digest).
func writeDockerArchive(t testing.TB, rng *rand.Rand, dir, repoTag string, payload int64) (string, v1.Hash) {
	t.Helper()
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	// The layer first, to know its diff id.
	layerPath := filepath.Join(dir, "layer.tar")
	lf, err := os.Create(layerPath)
	if err != nil {
		t.Fatal(err)
	}
	hw := newHashWriter()
	bw := bufio.NewWriterSize(io.MultiWriter(lf, hw), 1<<20)
	tw := tar.NewWriter(bw)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, h := range []*tar.Header{
		{Name: "big/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mtime},
		{Name: "big/payload.bin", Mode: 0o644, Typeflag: tar.TypeReg, Size: payload, ModTime: mtime},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.CopyN(tw, rand.NewChaCha8(seed), payload); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := lf.Close(); err != nil {
		t.Fatal(err)
	}
	diffID := hw.digest()

	cfg, err := json.Marshal(&v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: mtime},
		Config:       v1.Config{Cmd: []string{"/bin/true"}, Env: []string{"PATH=/bin"}},
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := sha256Hash(cfg)
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   id.Hex + ".json",
		"RepoTags": []string{repoTag},
		"Layers":   []string{diffID.Hex + "/layer.tar"},
	}})
	if err != nil {
		t.Fatal(err)
	}

	archPath := filepath.Join(dir, "image.tar")
	af, err := os.Create(archPath)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	aw := tar.NewWriter(af)
	add := func(name string, size int64, r io.Reader) {
		t.Helper()
		if err := aw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: size, ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(aw, r); err != nil {
			t.Fatal(err)
		}
	}
	add(id.Hex+".json", int64(len(cfg)), strings.NewReader(string(cfg)))
	lr, err := os.Open(layerPath)
	if err != nil {
		t.Fatal(err)
	}
	add(diffID.Hex+"/layer.tar", hw.n, lr)
	lr.Close()
	add("manifest.json", int64(len(manifest)), strings.NewReader(string(manifest)))
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := af.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(layerPath); err != nil {
		t.Fatal(err)
	}
	return archPath, id
}

// challengeOf GETs /v2/ without credentials through client at base and
// returns the WWW-Authenticate header of the 401.
func challengeOf(t testing.TB, client *http.Client, base string, hdr http.Header) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s/v2/: %v", base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET %s/v2/ without credentials: status %d, want 401", base, resp.StatusCode)
	}
	return resp.Header.Get("WWW-Authenticate")
}

// realmOf is the realm parameter of a Bearer challenge.
func realmOf(challenge string) string {
	_, rest, ok := strings.Cut(challenge, `realm="`)
	if !ok {
		return ""
	}
	realm, _, _ := strings.Cut(rest, `"`)
	return realm
}

// clientFrom is an HTTP client whose connections leave from the loopback
// address src (127.0.0.0/8 is all local on Linux), so a server on
// 127.0.0.1 sees another client address.
func clientFrom(src string) *http.Client {
	tr := e2eTransport.Clone()
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// TestProxyForwardedHeaders: berth believes X-Forwarded-Proto and
// X-Forwarded-Host from its trusted proxy (127.0.0.1) and from no other
// client (127.0.0.2): the token realm and the upload location follow the
// headers only in the first case.
func TestProxyForwardedHeaders(t *testing.T) {
	requireBerth(t)
	s := startServer(t, serverOpts{Env: []string{"BERTH_HTTP_TRUSTED_PROXIES=127.0.0.1"}})
	spoof := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"registry.evil.test:8443"}}
	own := "http://" + s.host()
	for _, tc := range []struct {
		name, src, wantBase string
	}{
		{"from the trusted proxy", "127.0.0.1", "https://registry.evil.test:8443"},
		{"from a client not in trusted_proxies", "127.0.0.2", own},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientFrom(tc.src)
			defer c.CloseIdleConnections()
			if got := realmOf(challengeOf(t, c, own, spoof)); got != tc.wantBase+"/token" {
				t.Errorf("realm %q, want %q", got, tc.wantBase+"/token")
			}
			req, err := http.NewRequest(http.MethodPost, own+"/v2/e2e/forwarded/blobs/uploads/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range spoof {
				req.Header[k] = vs
			}
			req.SetBasicAuth(adminUser, adminPassword)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST upload: status %d, want 202", resp.StatusCode)
			}
			loc, err := resp.Location()
			if err != nil {
				t.Fatalf("upload Location %q: %v", resp.Header.Get("Location"), err)
			}
			if tc.src != "127.0.0.1" && loc.Host != s.host() {
				t.Errorf("upload Location %s names another host than %s: a header of an untrusted client was believed", loc, s.host())
			}
			if !strings.HasPrefix(loc.Path, "/v2/e2e/forwarded/blobs/uploads/") {
				t.Errorf("upload Location %s, want a path under /v2/e2e/forwarded/blobs/uploads/", loc)
			}
		})
	}
}

// TestProxyExternalURL: with http.external_url set, the token realm is that
// URL, whatever host the request named.
func TestProxyExternalURL(t *testing.T) {
	requireBerth(t)
	const ext = "https://registry.example.test:5443"
	s := startServer(t, serverOpts{Env: []string{"BERTH_HTTP_EXTERNAL_URL=" + ext}})
	if got := realmOf(challengeOf(t, httpClient, "http://"+s.host(), nil)); got != ext+"/token" {
		t.Errorf("realm %q, want %q", got, ext+"/token")
	}
}

// TestProxyNginxDocker puts Debian's nginx, configured with
// deploy/nginx/berth.conf, in front of berth (trusted_proxies 127.0.0.1)
// and has the Docker engine log in, push an image with a 200 MiB layer of
// random bytes through it and pull it back.
func TestProxyNginxDocker(t *testing.T) {
	scenario(t, "docker", "through nginx terminating TLS (deploy/nginx/berth.conf): the challenge names the proxy's token URL, login, push and pull of a 200 MiB layer, digest unchanged, nothing spooled by the proxy")
	requireBerth(t)
	requireNginx(t)
	requireDocker(t)
	rng := newRand(t)
	ca := newTestCA(t, "berth e2e proxy CA")
	pairDir := t.TempDir()
	cert, key := filepath.Join(pairDir, "fullchain.pem"), filepath.Join(pairDir, "privkey.pem")
	ca.issue(t, cert, key)
	s := startServer(t, serverOpts{Env: []string{"BERTH_HTTP_TRUSTED_PROXIES=127.0.0.1"}})
	p := startNginx(t, s, cert, key)
	h := p.addr
	base := "https://" + h
	tr := e2eTransport.Clone()
	tr.TLSClientConfig = ca.clientTLS()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	defer tr.CloseIdleConnections()

	t.Run("challenge through nginx", func(t *testing.T) {
		if got := realmOf(challengeOf(t, client, base, nil)); got != base+"/token" {
			t.Errorf("realm through nginx %q, want %q", got, base+"/token")
		}
		// berth's own address still answers with its own.
		if got := realmOf(challengeOf(t, httpClient, "http://"+s.host(), nil)); got != "http://"+s.host()+"/token" {
			t.Errorf("realm on berth's own address %q, want http://%s/token", got, s.host())
		}
	})

	t.Run("upload location through nginx", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, base+"/v2/e2e/proxy/blobs/uploads/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(adminUser, adminPassword)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST upload through nginx: status %d, want 202", resp.StatusCode)
		}
		loc, err := resp.Location() // resolved against the request's URL
		if err != nil {
			t.Fatal(err)
		}
		if loc.Scheme != "https" || loc.Host != h {
			t.Errorf("upload Location %s resolves outside the proxy %s", loc, base)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	tag := fmt.Sprintf("berth-e2e-local/proxy:%08x", rng.Uint32())
	archive, id := writeDockerArchive(t, rng, t.TempDir(), tag, proxyLayerPayload)
	out := mustDocker(t, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: "+tag) {
		t.Fatalf("docker load printed %q, want it to name %s", out, tag)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", id.String()) })
	if err := os.Remove(archive); err != nil {
		t.Fatal(err)
	}

	out, err := dockerCLIInput(t, adminPassword, "login", "--username", adminUser, "--password-stdin", h)
	if err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login through nginx: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "logout", h) })

	ref := h + "/e2e/proxy:v1"
	var pushed string
	t.Run("push a 200 MiB layer", func(t *testing.T) {
		mustDocker(t, "tag", tag, ref)
		began := time.Now()
		r := dockerPush(t, ref)
		t.Logf("docker push through nginx took %s", time.Since(began).Round(time.Second))
		checkLayerStatuses(t, r, 1, func(s string) bool { return s == "Pushed" }, `"Pushed"`)
		pushed = r.Digest
		// berth, asked directly, serves what the engine pushed through
		// the proxy, with the whole layer.
		raw, got := ctrManifest(t, s, "e2e/proxy", "v1")
		if got != pushed {
			t.Errorf("berth serves e2e/proxy:v1 as %q, docker pushed %s", got, pushed)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Layers) != 1 || m.Layers[0].Size < proxyLayerPayload {
			t.Errorf("manifest layers %+v, want one layer of at least %d bytes", m.Layers, proxyLayerPayload)
		}
	})
	if pushed == "" {
		t.FailNow()
	}

	t.Run("pull it back", func(t *testing.T) {
		removeImage(t, id.String(), ref, tag)
		began := time.Now()
		out := mustDocker(t, "pull", ref)
		t.Logf("docker pull through nginx took %s", time.Since(began).Round(time.Second))
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != pushed {
			t.Errorf("docker pull printed %q, want Digest: %s", out, pushed)
		}
		if got := imageID(t, ref); got != id.String() {
			t.Errorf("pulled image id %s, want %s", got, id)
		}
	})

	t.Run("nothing spooled by nginx", func(t *testing.T) {
		raw, err := os.ReadFile(p.errorLog)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range []string{"buffered to a temporary file", "client intended to send too large body"} {
			if strings.Contains(string(raw), msg) {
				t.Errorf("nginx error log says %q:\n%s", msg, tailFile(p.errorLog, 4000))
			}
		}
	})
}
