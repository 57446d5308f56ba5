//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerImmutableTag: with an immutable rule on v*, the Docker engine's
// push of another image as v1 fails and shows why; a new tag still works.
func TestDockerImmutableTag(t *testing.T) {
	requireBerth(t)
	requireDocker(t)
	s := startServer(t, serverOpts{})
	dockerLogin(t, s)
	image := func(ref, content string) {
		t.Helper()
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: "v.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(content))
		_ = tw.Close()
		path := filepath.Join(t.TempDir(), "rootfs.tar")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(mustDocker(t, "import", path, ref))
		t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", id) })
	}
	v1 := s.host() + "/e2e/locked:v1"
	image(v1, "first")
	dockerPush(t, v1)

	req, _ := http.NewRequest(http.MethodPost, s.url("/api/v1/projects/e2e/immutable-rules"), strings.NewReader(`{"repositories":"e2e/**","tags":"v*"}`))
	req.SetBasicAuth(adminUser, adminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add rule = %d", resp.StatusCode)
	}

	image(v1, "second") // v1 now names another image locally
	out, err := dockerCLI(t, "push", v1)
	if err == nil || !strings.Contains(out, "immutable") {
		t.Fatalf("docker push over an immutable tag: err %v, output:\n%s\nwant a failure naming the immutable tag", err, out)
	}
	t.Logf("docker push printed: %s", strings.TrimSpace(out))

	v2 := s.host() + "/e2e/locked:v2"
	mustDocker(t, "tag", v1, v2)
	dockerPush(t, v2)
	code, _, body, err := s.httpDo(context.Background(), http.MethodDelete, "/v2/e2e/locked/manifests/v2", nil)
	if err != nil || code != http.StatusForbidden || !strings.Contains(string(body), "immutable") {
		t.Fatalf("untag v2 = %d %s %v, want 403 naming the rule", code, body, err)
	}
}
