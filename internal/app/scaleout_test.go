package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/registry"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/pg/pgtest"
)

// scaleOutConfig is a configuration on the PostgreSQL and S3 servers that
// scripts/test.sh starts (BERTH_TEST_PG_DSN, BERTH_TEST_S3_*), in a fresh
// database and under a fresh key prefix. Without them the test is skipped,
// unless BERTH_REQUIRE_PG / BERTH_REQUIRE_S3 say they must be there.
func scaleOutConfig(t *testing.T) config.Config {
	t.Helper()
	dsn, endpoint := os.Getenv("BERTH_TEST_PG_DSN"), os.Getenv("BERTH_TEST_S3_ENDPOINT")
	if dsn == "" || endpoint == "" {
		if os.Getenv("BERTH_REQUIRE_PG") == "1" || os.Getenv("BERTH_REQUIRE_S3") == "1" {
			t.Fatal("BERTH_TEST_PG_DSN and BERTH_TEST_S3_ENDPOINT must be set (scripts/test.sh starts both servers)")
		}
		t.Skip("no PostgreSQL/S3 test servers: set BERTH_TEST_PG_DSN and BERTH_TEST_S3_* (scripts/test.sh does)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	pgDSN := pgtest.NewDatabase(t, dsn, "berth_app_")

	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Metadata.Driver = "postgres"
	cfg.Metadata.Postgres.DSN = pgDSN
	cfg.Storage.Driver = "s3"
	cfg.Storage.S3.Endpoint = endpoint
	cfg.Storage.S3.Insecure = true
	cfg.Storage.S3.Bucket = os.Getenv("BERTH_TEST_S3_BUCKET")
	cfg.Storage.S3.Region = os.Getenv("BERTH_TEST_S3_REGION")
	cfg.Storage.S3.AccessKey = os.Getenv("BERTH_TEST_S3_ACCESS_KEY")
	cfg.Storage.S3.SecretKey = os.Getenv("BERTH_TEST_S3_SECRET_KEY")
	cfg.Storage.S3.Prefix = "app-" + suffix + "/"
	cfg.Auth.AdminPassword = testAdminPassword
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestPushPullOnPostgresAndS3: two berth nodes share one PostgreSQL database
// and one bucket; an image pushed through one pulls and validates through
// the other.
func TestPushPullOnPostgresAndS3(t *testing.T) {
	cfg := scaleOutConfig(t)
	node := func() string {
		a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		return strings.TrimPrefix(srv.URL, "http://")
	}
	nodeA, nodeB := node(), node()
	img, err := random.Image(6<<20, 3) // layers over S3's 5 MiB part minimum
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	refA, _ := name.ParseReference(nodeA + "/scale/app:v1")
	if err := remote.Write(refA, img, remote.WithContext(context.Background()), asAdmin); err != nil {
		t.Fatalf("push through node A: %v", err)
	}
	refB, _ := name.ParseReference(nodeB + "/scale/app:v1")
	got, err := remote.Image(refB, asAdmin)
	if err != nil {
		t.Fatalf("pull through node B: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("node B serves %s, want %s", d, want)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("image pulled through node B: %v", err)
	}
	tags, err := remote.List(refB.Context(), asAdmin)
	if err != nil || strings.Join(tags, ",") != "v1" {
		t.Fatalf("tags through node B = %v, %v", tags, err)
	}
}

// TestTokensAcrossNodes: a token node A issued is accepted by node B (the
// signing keys are in PostgreSQL), and a key rotated on B signs tokens A
// accepts.
func TestTokensAcrossNodes(t *testing.T) {
	cfg := scaleOutConfig(t)
	var urls []string
	var apps []*App
	for range 2 {
		a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		urls, apps = append(urls, srv.URL), append(apps, a)
	}
	token := func(node string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", node+"/token?service=berth&scope=repository:scale/tok:pull,push", nil)
		req.SetBasicAuth("admin", testAdminPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
			t.Fatalf("token from %s: %d %v", node, resp.StatusCode, err)
		}
		return out.Token
	}
	use := func(node, tok string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", node+"/v2/scale/tok/blobs/uploads/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := use(urls[1], token(urls[0])); got != http.StatusAccepted {
		t.Fatalf("node B with node A's token = %d, want 202", got)
	}
	if err := apps[1].access.Tokens.Rotate(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	// Node A learns the new key when it first sees a token signed by it
	// (at most every few seconds).
	tokB := token(urls[1])
	deadline := time.Now().Add(15 * time.Second)
	for use(urls[0], tokB) != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("node A never accepted a token of node B's new key")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestChunkedUploadAlternatingNodes sends the chunks of one upload to two
// nodes in turn: the session (hash state in PostgreSQL, multipart upload in
// S3) continues wherever the next request lands.
func TestChunkedUploadAlternatingNodes(t *testing.T) {
	cfg := scaleOutConfig(t)
	var nodes []string
	for range 2 {
		a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		nodes = append(nodes, srv.URL)
	}
	data := make([]byte, 13<<20) // three chunks, crossing S3 part boundaries
	_, _ = rand.Read(data)
	const chunk = 5<<20 + 123

	do := func(method, url string, body []byte, hdr map[string]string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", testAdminPassword)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := do(http.MethodPost, nodes[0]+"/v2/scale/chunked/blobs/uploads/", nil, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	i := 1
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		resp = do(http.MethodPatch, nodes[i%2]+loc, data[off:end], map[string]string{
			"Content-Type":  "application/octet-stream",
			"Content-Range": fmt.Sprintf("%d-%d", off, end-1),
		})
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != fmt.Sprintf("0-%d", end-1) {
			t.Fatalf("PATCH %d-%d on node %d = %d, Range %q", off, end-1, i%2, resp.StatusCode, resp.Header.Get("Range"))
		}
		loc = resp.Header.Get("Location")
		i++
	}
	d := digest.FromBytes(data)
	resp = do(http.MethodPut, nodes[i%2]+loc+"?digest="+d.String(), nil, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("closing PUT on node %d = %d", i%2, resp.StatusCode)
	}
	for n, base := range nodes {
		req, _ := http.NewRequest(http.MethodGet, base+"/v2/scale/chunked/blobs/"+d.String(), nil)
		req.SetBasicAuth("admin", testAdminPassword)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil || r.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Fatalf("GET through node %d: %d, %d bytes, equal %v, err %v", n, r.StatusCode, len(got), bytes.Equal(got, data), err)
		}
	}
}

// TestRelocateIntoPostgresAndS3 moves an embedded registry (filesystem +
// SQLite) into PostgreSQL + S3, and pulls the image from a node on those.
func TestRelocateIntoPostgresAndS3(t *testing.T) {
	to := scaleOutConfig(t)
	from := config.Default()
	from.Storage.Path = t.TempDir()
	from.Auth.AdminPassword = testAdminPassword
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	img, err := random.Image(7<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	serve := func(cfg config.Config) (string, func()) {
		a, err := New(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		return strings.TrimPrefix(srv.URL, "http://"), func() { srv.Close(); a.Close() }
	}
	host, stop := serve(from)
	ref, _ := name.ParseReference(host + "/moving/app:v1")
	if err := remote.Write(ref, img, asAdmin); err != nil {
		t.Fatal(err)
	}
	stop()

	rep, err := Relocate(context.Background(), from, to, log)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repositories != 1 || rep.Manifests != 1 || rep.Tags != 1 || rep.BlobsCopied != 3 {
		t.Fatalf("report = %+v", rep)
	}
	host, stop = serve(to)
	defer stop()
	ref, _ = name.ParseReference(host + "/moving/app:v1")
	got, err := remote.Image(ref, asAdmin)
	if err != nil {
		t.Fatalf("pull after relocation: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("relocated image %s, want %s", d, want)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}
}

// TestBlobRedirectToPresignedURL: with storage.s3.redirect on, a blob GET
// answers 307 to a presigned S3 URL that a client follows; a repository the
// blob is not linked to still answers 404.
func TestBlobRedirectToPresignedURL(t *testing.T) {
	cfg := scaleOutConfig(t)
	cfg.Storage.S3.Redirect = true
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/redirect/app:v1")
	if err := remote.Write(ref, img, asAdmin); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth("admin", testAdminPassword)
		return noFollow.Do(req)
	}
	resp, err := get(srv.URL + "/v2/redirect/app/blobs/" + ld.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(loc, cfg.Storage.S3.Endpoint) || !strings.Contains(loc, "X-Amz-Signature") {
		t.Fatalf("blob GET = %d, Location %q; want 307 to a presigned URL on %s", resp.StatusCode, loc, cfg.Storage.S3.Endpoint)
	}
	resp, err = get(srv.URL + "/v2/elsewhere/blobs/" + ld.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("blob GET in a repository without the blob = %d, want 404", resp.StatusCode)
	}
	got, err := remote.Image(ref, asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("pull through redirects: %v", err)
	}
}

// TestGCAcrossNodes: garbage collection started on both nodes while one
// runs is refused on both (the lease is in PostgreSQL); then one run
// removes an untagged image's manifest and its blobs from S3.
func TestGCAcrossNodes(t *testing.T) {
	cfg := scaleOutConfig(t)
	var apps []*App
	var hosts []string
	for range 2 {
		a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		apps, hosts = append(apps, a), append(hosts, strings.TrimPrefix(srv.URL, "http://"))
	}
	img, err := random.Image(6<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(hosts[0] + "/scale/gc:v1")
	if err := remote.Write(ref, img, asAdmin); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()

	holding, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = jobs.New(apps[0].meta, nil).Once(context.Background(), gcRunLease, time.Minute, func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	for i, a := range apps {
		if _, err := a.RunGC(context.Background(), registry.GCOptions{}); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("node %d ran GC while a run held the lease: %v", i, err)
		}
	}
	close(release)

	req, _ := http.NewRequest(http.MethodDelete, "http://"+hosts[1]+"/v2/scale/gc/manifests/v1", nil)
	req.SetBasicAuth("admin", testAdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("untag: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(15 * time.Second)
	var rep registry.GCReport
	for {
		rep, err = apps[1].RunGC(context.Background(), registry.GCOptions{})
		if !errors.Is(err, jobs.ErrBusy) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || rep.Manifests != 1 || rep.Blobs < 2 {
		t.Fatalf("GC on node B = %+v, %v", rep, err)
	}
	if _, err := apps[0].blobs.Stat(context.Background(), digest.Digest(ld.String())); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the layer is still in S3: %v", err)
	}
}
