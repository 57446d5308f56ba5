//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/berth-registry/berth/internal/meta/pg/pgtest"
)

// clusterEnv returns the environment of berth nodes that share a fresh
// PostgreSQL database and a fresh prefix of the S3 bucket that
// scripts/test.sh started (BERTH_TEST_PG_DSN, BERTH_TEST_S3_*). Without
// them the test is skipped, unless E2E_REQUIRE_CLUSTER=1.
func clusterEnv(t *testing.T) []string {
	t.Helper()
	requireBerth(t)
	dsn, endpoint := os.Getenv("BERTH_TEST_PG_DSN"), os.Getenv("BERTH_TEST_S3_ENDPOINT")
	if dsn == "" || endpoint == "" {
		if os.Getenv("E2E_REQUIRE_CLUSTER") == "1" {
			t.Fatal("BERTH_TEST_PG_DSN and BERTH_TEST_S3_* must be set (scripts/test.sh starts PostgreSQL and S3)")
		}
		t.Skip("no PostgreSQL/S3 test servers (scripts/test.sh starts them)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	pgDSN := pgtest.NewDatabase(t, dsn, "berth_e2e_")
	return []string{
		"BERTH_METADATA_DRIVER=postgres",
		"BERTH_METADATA_POSTGRES_DSN=" + pgDSN,
		"BERTH_STORAGE_DRIVER=s3",
		"BERTH_STORAGE_S3_ENDPOINT=" + endpoint,
		"BERTH_STORAGE_S3_INSECURE=true",
		"BERTH_STORAGE_S3_BUCKET=" + os.Getenv("BERTH_TEST_S3_BUCKET"),
		"BERTH_STORAGE_S3_REGION=" + os.Getenv("BERTH_TEST_S3_REGION"),
		"BERTH_STORAGE_S3_ACCESS_KEY=" + os.Getenv("BERTH_TEST_S3_ACCESS_KEY"),
		"BERTH_STORAGE_S3_SECRET_KEY=" + os.Getenv("BERTH_TEST_S3_SECRET_KEY"),
		"BERTH_STORAGE_S3_PREFIX=e2e-" + suffix + "/",
	}
}

// TestClusterDockerPushPull runs the Docker engine checks against two berth
// processes sharing PostgreSQL and S3: push through node A; re-push, mount
// and every pull through node B.
func TestClusterDockerPushPull(t *testing.T) {
	requireDocker(t)
	env := clusterEnv(t)
	a := startServer(t, serverOpts{Env: env})
	b := startServer(t, serverOpts{Env: env})
	dockerLogin(t, a)
	dockerLogin(t, b)
	runDockerPushPull(t, a, b)
}

// TestClusterKillDuringPush: node A is killed with SIGKILL in the middle of
// a chunk; the client asks node B how much the registry holds, sends the
// rest there and completes the push; the image pulls and validates through B.
func TestClusterKillDuringPush(t *testing.T) {
	env := clusterEnv(t)
	a := startServer(t, serverOpts{Env: env})
	b := startServer(t, serverOpts{Env: env})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	img, err := random.Image(12<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	rc, _ := layers[0].Compressed()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	const first = 6 << 20

	// Session on A, first chunk accepted by A.
	resp := clusterDo(t, ctx, http.MethodPost, a.url("/v2/cluster/app/blobs/uploads/"), nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST on A: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	resp = clusterDo(t, ctx, http.MethodPatch, a.url(loc), bytes.NewReader(data[:first]), map[string]string{
		"Content-Range": fmt.Sprintf("0-%d", first-1), "Content-Length": fmt.Sprint(first),
	})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first PATCH on A: %d", resp.StatusCode)
	}
	loc = resp.Header.Get("Location")

	// The second chunk is half sent when A dies.
	pr, pw := io.Pipe()
	failed := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, a.url(loc), pr)
		req.ContentLength = int64(len(data) - first)
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", first, len(data)-1))
		req.SetBasicAuth(adminUser, adminPassword)
		r, err := http.DefaultClient.Do(req)
		if err == nil {
			r.Body.Close()
			err = fmt.Errorf("PATCH answered %d", r.StatusCode)
		}
		failed <- err
	}()
	if _, err := pw.Write(data[first : first+(len(data)-first)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	a.kill()
	pw.CloseWithError(io.ErrClosedPipe)
	if err := <-failed; err == nil {
		t.Fatal("the chunk in flight on the killed node did not fail")
	}

	// The client retries on B: the session is there with what A acknowledged.
	resp = clusterDo(t, ctx, http.MethodGet, b.url(loc), nil, nil)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != fmt.Sprintf("0-%d", first-1) {
		t.Fatalf("upload status on B: %d, Range %q; want 204, 0-%d", resp.StatusCode, resp.Header.Get("Range"), first-1)
	}
	resp = clusterDo(t, ctx, http.MethodPut, b.url(loc)+"?digest="+ld.String(), bytes.NewReader(data[first:]), map[string]string{
		"Content-Range": fmt.Sprintf("%d-%d", first, len(data)-1), "Content-Length": fmt.Sprint(len(data) - first),
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("closing PUT on B: %d", resp.StatusCode)
	}

	// The rest of the image through B, then pull and validate through B.
	ref, _ := name.ParseReference(b.host() + "/cluster/app:v1")
	if err := remote.Write(ref, img, remote.WithContext(ctx), registryAuth()); err != nil {
		t.Fatalf("finishing the push on B: %v", err)
	}
	got, err := remote.Image(ref, remote.WithContext(ctx), registryAuth())
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("image pushed across the crash: %v", err)
	}
}

// clusterDo sends one request as the admin and returns the response, body
// closed.
func clusterDo(t *testing.T, ctx context.Context, method, url string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.SetBasicAuth(adminUser, adminPassword)
	if cl, ok := hdr["Content-Length"]; ok {
		fmt.Sscan(cl, &req.ContentLength)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp
}
