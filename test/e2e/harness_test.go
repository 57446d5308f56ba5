//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Target kinds: the registry binary the tests drive.
const (
	targetBerth        = "berth"
	targetDistribution = "distribution"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 25 * time.Second
)

// The system admin of every berth the tests start: authentication is on
// (berth's default) and berth creates this account on first start from
// BERTH_ADMIN_PASSWORD. Every client logs in as it. The reference registry
// runs without authentication and is sent no credentials.
const (
	adminUser     = "admin"
	adminPassword = "e2e-Admin-pw-4711"
)

// authOn tells whether the target registry asks for credentials.
func authOn() bool {
	k := os.Getenv("E2E_TARGET")
	return k == "" || k == targetBerth
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// targetKind is the registry under test, from E2E_TARGET.
func targetKind(t testing.TB) string {
	t.Helper()
	switch k := os.Getenv("E2E_TARGET"); k {
	case "", targetBerth:
		return targetBerth
	case targetDistribution:
		return targetDistribution
	default:
		t.Fatalf("E2E_TARGET=%q: want %q or %q", k, targetBerth, targetDistribution)
		return ""
	}
}

// requireBerth skips tests of berth-only behaviour when the target is the
// reference registry.
func requireBerth(t testing.TB) {
	t.Helper()
	if targetKind(t) != targetBerth {
		t.Skipf("berth-specific behaviour; target is %s", targetKind(t))
	}
}

// targetBinary returns the binary to start: BERTH_BIN, or berth built once
// into a temporary directory, or the reference registry.
func targetBinary(t testing.TB) string {
	t.Helper()
	if targetKind(t) == targetDistribution {
		bin := os.Getenv("E2E_DISTRIBUTION_BIN")
		if bin == "" {
			bin = "/usr/bin/docker-registry"
		}
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("reference registry: %v (apt-get install docker-registry)", err)
		}
		return bin
	}
	if bin := os.Getenv("BERTH_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatalf("BERTH_BIN: %v", err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("BERTH_BIN: %v", err)
		}
		return abs
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "berth")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/berth-registry/berth/cmd/berth")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/berth: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// serverOpts configures startServer.
type serverOpts struct {
	// DataDir is the registry's data directory (a fresh temp dir if empty).
	DataDir string
	// Env is added to the server's environment (KEY=VALUE).
	Env []string
	// TLS, for a server that Env makes serve HTTPS (BERTH_HTTP_TLS_*), is
	// the client configuration the harness's own requests use (RootCAs
	// trusting the server's certificate).
	TLS *tls.Config
}

// server is one registry process on 127.0.0.1 that can be stopped, killed
// and started again on the same address and data directory.
type server struct {
	t       testing.TB
	kind    string
	bin     string
	addr    string
	dataDir string
	env     []string
	logPath string
	cfgPath string
	// client makes the harness's own requests; tlsTr is its transport
	// when opts.TLS is set (HTTPS), nil otherwise.
	client *http.Client
	tlsTr  *http.Transport

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	starts  int
}

// startServer starts the target registry and waits until GET /v2/ answers.
// The server is stopped with SIGTERM when the test ends; its log is printed
// if the test failed (or always with E2E_SERVER_LOGS set).
func startServer(t testing.TB, opts serverOpts) *server {
	t.Helper()
	s := &server{
		t:       t,
		kind:    targetKind(t),
		bin:     targetBinary(t),
		addr:    freeAddr(t),
		dataDir: opts.DataDir,
		env:     opts.Env,
		client:  httpClient,
	}
	if opts.TLS != nil {
		s.tlsTr = e2eTransport.Clone()
		s.tlsTr.TLSClientConfig = opts.TLS.Clone()
		s.client = &http.Client{Transport: s.tlsTr, Timeout: httpClient.Timeout}
	}
	logDir := t.TempDir()
	if s.dataDir == "" {
		s.dataDir = filepath.Join(logDir, "data")
	}
	s.logPath = filepath.Join(logDir, "server.log")
	if s.kind == targetDistribution {
		s.cfgPath = filepath.Join(logDir, "config.yml")
		if err := os.WriteFile(s.cfgPath, []byte(distributionConfig(s.addr, s.dataDir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if s.running() {
			s.stop()
		}
		if t.Failed() || os.Getenv("E2E_SERVER_LOGS") != "" {
			t.Logf("server log (%s), last part:\n%s", s.logPath, tailFile(s.logPath, 6000))
		}
	})
	s.start()
	return s
}

func distributionConfig(addr, dataDir string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`, dataDir, addr)
}

// start launches the process and waits for readiness; fatal on failure.
func (s *server) start() {
	s.t.Helper()
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.mu.Lock()
	s.starts++
	fmt.Fprintf(logf, "==== start #%d at %s ====\n", s.starts, time.Now().Format(time.RFC3339Nano))
	s.mu.Unlock()

	var cmd *exec.Cmd
	if s.kind == targetDistribution {
		cmd = exec.Command(s.bin, "serve", s.cfgPath)
	} else {
		cmd = exec.Command(s.bin, "serve", "--addr", s.addr, "--data", s.dataDir)
	}
	cmd.Env = append(os.Environ(), "BERTH_HTTP_SHUTDOWN_TIMEOUT=10s")
	if s.kind == targetBerth {
		cmd.Env = append(cmd.Env, "BERTH_ADMIN_PASSWORD="+adminPassword)
	}
	cmd.Env = append(cmd.Env, s.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Never outlive the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.waitErr = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()
	if err := s.waitReady(done); err != nil {
		s.t.Fatalf("%s on %s: %v\nlog:\n%s", s.kind, s.addr, err, tailFile(s.logPath, 4000))
	}
}

func (s *server) waitReady(done chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	if s.tlsTr != nil {
		client.Transport = s.tlsTr
	}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("exited before answering: %v", s.exitErr())
		default:
		}
		resp, err := client.Get(s.url("/v2/"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("GET /v2/ did not answer within %s", readyTimeout)
}

func (s *server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// running reports whether the process has been started and not yet exited.
func (s *server) running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the process to exit; berth must exit 0.
func (s *server) stop() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// Idle keep-alive connections of our own clients would only slow the
	// drain down (net/http waits up to 5s for connections that never sent
	// a request).
	e2eTransport.CloseIdleConnections()
	if s.tlsTr != nil {
		s.tlsTr.CloseIdleConnections()
	}
	began := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if d := time.Since(began); d > 3*time.Second {
			s.t.Logf("%s took %s to exit after SIGTERM", s.kind, d.Round(time.Millisecond))
		}
	case <-time.After(stopTimeout):
		s.t.Errorf("%s did not exit within %s of SIGTERM; killing it", s.kind, stopTimeout)
		_ = cmd.Process.Kill()
		<-done
		return
	}
	if err := s.exitErr(); err != nil && s.kind == targetBerth {
		s.t.Errorf("berth exited with %v after SIGTERM; want a clean exit", err)
	}
}

// kill sends SIGKILL and reaps the process.
func (s *server) kill() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// restart starts the server again on the same address and data directory,
// stopping it first (SIGTERM) if it still runs.
func (s *server) restart() {
	s.t.Helper()
	if s.running() {
		s.stop()
	}
	s.start()
}

// host is the registry host for image references: 127.0.0.1:PORT.
func (s *server) host() string { return s.addr }

func (s *server) url(path string) string {
	if s.tlsTr != nil {
		return "https://" + s.addr + path
	}
	return "http://" + s.addr + path
}

// checkAlive fails the test unless the process runs and GET /v2/ answers.
func (s *server) checkAlive(t testing.TB) {
	t.Helper()
	if !s.running() {
		t.Fatalf("%s is not running (exit: %v)", s.kind, s.exitErr())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if s.tlsTr != nil {
		client.Transport = s.tlsTr
	}
	resp, err := client.Get(s.url("/v2/"))
	if err != nil {
		t.Fatalf("GET /v2/: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v2/: status %d", resp.StatusCode)
	}
}

// httpDo sends one request to the server as the admin (Basic credentials,
// when the target asks for them) and returns status, headers and body.
func (s *server) httpDo(ctx context.Context, method, path string, hdr http.Header) (int, http.Header, []byte, error) {
	return s.httpDoAs(ctx, s.kind == targetBerth, method, path, hdr)
}

// httpDoAs is httpDo with the admin's Basic credentials (asAdmin) or none.
func (s *server) httpDoAs(ctx context.Context, asAdmin bool, method, path string, hdr http.Header) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url(path), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if asAdmin {
		req.SetBasicAuth(adminUser, adminPassword)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, body, fmt.Errorf("reading body: %w", err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// addRegistryAuth writes the admin's credentials for hosts into the
// Docker-format auth file at path ({"auths":{HOST:{"auth":…}}}: a client's
// config.json or auth.json), keeping what else the file holds. Nothing is
// written when the target asks for no credentials.
func addRegistryAuth(t testing.TB, path string, hosts ...string) {
	t.Helper()
	if !authOn() {
		return
	}
	doc := map[string]any{}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("auth file %s: %v", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatal(err)
	}
	auths, _ := doc["auths"].(map[string]any)
	if auths == nil {
		auths = map[string]any{}
	}
	token := base64.StdEncoding.EncodeToString([]byte(adminUser + ":" + adminPassword))
	for _, h := range hosts {
		auths[h] = map[string]any{"auth": token}
	}
	doc["auths"] = auths
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tailFile returns the last n bytes of a file (for failure logs).
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		return "...\n" + string(b)
	}
	return strings.TrimRight(string(b), "\n")
}
