//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerQuota: in a project at its storage quota, the Docker engine's
// push of a new image fails and shows "quota exceeded"; a push of an image
// the project holds already still works, and so does everything once the
// quota is lifted.
func TestDockerQuota(t *testing.T) {
	requireBerth(t)
	requireDocker(t)
	s := startServer(t, serverOpts{})
	dockerLogin(t, s)
	// image imports a one-file image of random (incompressible) content.
	image := func(ref string, size int) {
		t.Helper()
		content := make([]byte, size)
		_, _ = rand.Read(content)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: int64(size), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(content)
		_ = tw.Close()
		path := filepath.Join(t.TempDir(), "rootfs.tar")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(mustDocker(t, "import", path, ref))
		t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", id) })
	}
	quota := func(method, body string) (q struct {
		QuotaBytes int64 `json:"quota_bytes"`
		UsedBytes  int64 `json:"used_bytes"`
	}) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url("/api/v1/projects/e2e/quota"), strings.NewReader(body))
		req.SetBasicAuth(adminUser, adminPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s quota = %d", method, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&q); err != nil {
			t.Fatal(err)
		}
		return q
	}

	first := s.host() + "/e2e/capped:v1"
	image(first, 64<<10)
	dockerPush(t, first)
	used := quota(http.MethodGet, "").UsedBytes
	if used < 64<<10 {
		t.Fatalf("usage after a 64 KiB image = %d bytes", used)
	}
	if q := quota(http.MethodPut, fmt.Sprintf(`{"quota_bytes":%d}`, used+1024)); q.QuotaBytes != used+1024 || q.UsedBytes != used {
		t.Fatalf("set quota = %+v", q)
	}

	second := s.host() + "/e2e/capped:v2"
	image(second, 64<<10)
	out, err := dockerCLI(t, "push", second)
	if err == nil || !strings.Contains(out, "quota exceeded: project e2e") {
		t.Fatalf("docker push over the quota: err %v, output:\n%s\nwant a failure saying the quota is exceeded", err, out)
	}
	t.Logf("docker push printed: %s", strings.TrimSpace(out))
	if got := quota(http.MethodGet, "").UsedBytes; got != used {
		t.Fatalf("usage after the refused push = %d, want %d", got, used)
	}

	again := s.host() + "/e2e/other:v1" // the first image in another repository: nothing new
	mustDocker(t, "tag", first, again)
	dockerPush(t, again)

	quota(http.MethodPut, `{"quota_bytes":0}`)
	dockerPush(t, second)
}
