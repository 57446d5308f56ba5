//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bindReadOnly makes dir read-only in place (a read-only bind mount of dir
// on itself: root ignores file modes, not a read-only mount) and returns
// the function that restores it. The mount is also removed when the test
// ends. Skips without root or when the kernel refuses the mount.
func bindReadOnly(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root")
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount of %s on itself refused (%v): cannot make the data directory unwritable here", dir, err)
	}
	mounted := true
	restore = func() {
		t.Helper()
		if !mounted {
			return
		}
		for i := 0; i < 50; i++ {
			if err := syscall.Unmount(dir, 0); err == nil {
				mounted = false
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			return
		}
		mounted = false
	}
	t.Cleanup(restore)
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		restore()
		t.Skipf("remounting %s read-only refused: %v", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ro-check"), nil, 0o644); err == nil {
		t.Fatalf("%s still takes writes after the read-only remount", dir)
	}
	return restore
}

// readyz is one GET /readyz: its status and body.
func readyz(t *testing.T, s *server) (int, map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _, raw, err := s.httpDoAs(ctx, false, "GET", "/readyz", nil)
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	var body map[string]string
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("GET /readyz: body is not JSON: %v: %s", err, raw)
	}
	return code, body
}

// waitReadyz polls /readyz until it answers want, and returns its body.
func waitReadyz(t *testing.T, s *server, want int, within time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := readyz(t, s)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz still %d %v after %s, want %d", code, body, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadyzUnwritableDataDir: /readyz turns unready when the data
// directory stops taking writes, says why, and turns ready again once it
// takes them; /healthz stays 200 throughout.
func TestReadyzUnwritableDataDir(t *testing.T) {
	requireBerth(t)
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root")
	}
	s := startServer(t, serverOpts{Env: []string{
		"BERTH_HEALTH_INTERVAL=200ms", "BERTH_HEALTH_THRESHOLD=2", "BERTH_HEALTH_TIMEOUT=2s",
	}})
	body := waitReadyz(t, s, 200, 10*time.Second)
	if body["storage"] != "ok" || body["metadata"] != "ok" || body["status"] != "ready" {
		t.Fatalf("ready body: %v", body)
	}

	restore := bindReadOnly(t, s.dataDir)
	body = waitReadyz(t, s, 503, 10*time.Second)
	if body["status"] != "unready" || !strings.Contains(strings.ToLower(body["storage"]), "read-only") {
		t.Fatalf("unready body does not name the read-only storage: %v", body)
	}
	if code, hb := healthz(t, s); code != 200 {
		t.Fatalf("GET /healthz with the data directory read-only = %d %v, want 200 (liveness)", code, hb)
	}

	restore()
	body = waitReadyz(t, s, 200, 10*time.Second)
	if body["storage"] != "ok" {
		t.Fatalf("ready again, but storage says %q", body["storage"])
	}
	s.checkAlive(t)
}

func healthz(t *testing.T, s *server) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _, raw, err := s.httpDoAs(ctx, false, "GET", "/healthz", nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	return code, string(raw)
}

// TestAccessLogRequestID: every answer carries X-Request-Id, and the
// server's access log has a line for that request with its user, status
// and repository.
func TestAccessLogRequestID(t *testing.T) {
	requireBerth(t)
	s := startServer(t, serverOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, hdr, _, err := s.httpDo(ctx, "GET", "/v2/library/nothing/tags/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := hdr.Get("X-Request-Id")
	if id == "" {
		t.Fatalf("no X-Request-Id on a %d answer", code)
	}
	want := []string{"msg=access", "request_id=" + id, "user=" + adminUser, "repository=library/nothing", "status=404", "method=GET"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := os.ReadFile(s.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if !strings.Contains(line, "request_id="+id) || !strings.Contains(line, "msg=access") {
				continue
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Fatalf("access line lacks %q: %s", w, line)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line with request_id=%s (status %d) in %s", id, code, s.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
