package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// blobBytes is the size of an image's config and layers.
func blobBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// pullAll pulls ref's manifest, config and every layer through ggcr.
func pullAll(t *testing.T, ref string) {
	t.Helper()
	img, err := remote.Image(mustRef(t, ref), asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRequestMetrics(t *testing.T) {
	a, base := startApp(t, nil)
	host := strings.TrimPrefix(base, "http://")
	img, err := random.Image(20000, 3)
	if err != nil {
		t.Fatal(err)
	}
	size := blobBytes(t, img)
	if err := remote.Write(mustRef(t, host+"/team/app:v1"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, host+"/library/base:v1"), img, asAdmin); err != nil { // mounted, not uploaded
		t.Fatal(err)
	}
	pullAll(t, host+"/team/app:v1")
	pullAll(t, host+"/team/app:v1")
	pullAll(t, host+"/library/base:v1")
	// A tag deleted through /v2/.
	req, _ := http.NewRequest("DELETE", base+"/v2/library/base/manifests/v1", nil)
	req.SetBasicAuth("admin", testAdminPassword)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("delete tag: %v %v", resp, err)
	}
	// Two failed logins at the token service, one upload left open.
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", base+"/token?scope=repository:team/app:pull", nil)
		req.SetBasicAuth("admin", "wrong")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("token with a wrong password: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	// A session counts once it holds bytes: a POST alone writes nothing.
	for _, body := range []string{"", "some bytes"} {
		req, _ = http.NewRequest("POST", base+"/v2/team/app/blobs/uploads/", nil)
		req.SetBasicAuth("admin", testAdminPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("start upload: %v %v", resp, err)
		}
		resp.Body.Close()
		if body == "" {
			continue
		}
		loc, _ := resp.Location()
		req, _ = http.NewRequest("PATCH", loc.String(), strings.NewReader(body))
		req.SetBasicAuth("admin", testAdminPassword)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 202 {
			t.Fatalf("PATCH upload: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
	}
	if err := a.meta.Update(context.Background(), func(tx meta.Tx) error { return tx.SetProjectQuota("team", 1<<30) }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RunGC(context.Background(), registry.GCOptions{}); err != nil {
		t.Fatal(err)
	}

	code, s := scrape(t, base, "admin", testAdminPassword)
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{`berth_registry_operations_total{operation="push",project="team"}`, 1},
		{`berth_registry_operations_total{operation="push",project="library"}`, 1},
		{`berth_registry_operations_total{operation="pull",project="team"}`, 2},
		{`berth_registry_operations_total{operation="pull",project="library"}`, 1},
		{`berth_registry_operations_total{operation="delete",project="library"}`, 1},
		{`berth_http_requests_total{code="201",method="PUT",route="manifest"}`, 2},
		{`berth_http_requests_total{code="200",method="GET",route="manifest"}`, 3},
		{`berth_http_requests_total{code="202",method="DELETE",route="manifest"}`, 1},
		{`berth_http_requests_total{code="401",method="GET",route="token"}`, 2},
		{`berth_auth_failures_total{reason="bad_credentials"}`, 2},
		{`berth_auth_failures_total{reason="throttled"}`, 0},
		{`berth_upload_sessions`, 1},
		{`berth_gc_runs_total{result="ok"}`, 1},
	} {
		t.Run(tc.series, func(t *testing.T) {
			if got, ok := s[tc.series]; !ok || got != tc.want {
				t.Fatalf("= %v (present %v), want %v", got, ok, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name, series string
		atLeast      float64
	}{
		// Uploaded once (the second push mounts), pulled three times.
		{"bytes in", `berth_http_request_bytes_total{route="blob_upload"}`, float64(size)},
		{"bytes out", `berth_http_response_bytes_total{route="blob"}`, float64(3 * size)},
		{"the challenges before the tokens", `berth_http_requests_total{code="401",method="GET",route="v2"}`, 1},
		{"tokens issued", `berth_http_requests_total{code="200",method="GET",route="token"}`, 1},
		{"blob GETs timed", `berth_http_request_duration_seconds_count{method="GET",route="blob"}`, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s[tc.series]; got < tc.atLeast {
				t.Fatalf("%s = %v, want at least %v", tc.series, got, tc.atLeast)
			}
		})
	}
	t.Run("no raw paths in labels", func(t *testing.T) {
		for k := range s {
			if strings.Contains(k, "sha256") || strings.Contains(k, "/v2/") {
				t.Errorf("series %s carries a path", k)
			}
		}
	})
	t.Run("every metric the rules and the dashboard use is served", func(t *testing.T) {
		served := map[string]bool{}
		for k := range s {
			name, _, _ := strings.Cut(k, "{")
			served[name] = true
		}
		used := monitoringNames(t)
		if len(used) < 10 {
			t.Fatalf("only %d names found in deploy/monitoring: %v", len(used), used)
		}
		for _, n := range used {
			if !served[n] {
				t.Errorf("%s is used in deploy/monitoring but not served", n)
			}
		}
	})
}

// monitoringNames are berth's, the Go runtime's and the process's metric
// names that deploy/monitoring's rules and dashboard use (not `up` or
// node-exporter's, which berth does not serve).
func monitoringNames(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`\b(?:berth|go|process)_[a-z0-9_]+`)
	seen := map[string]bool{}
	for _, f := range []string{"berth-alerts.yml", "berth-dashboard.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "monitoring", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range re.FindAllString(string(b), -1) {
			seen[n] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestMetricsListener(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := free.Addr().String()
	free.Close()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	cfg.Metrics.Addr = maddr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.ServeListener(ctx, ln) }()
	defer func() {
		stop()
		<-served
	}()
	if err := remote.Write(mustRef(t, ln.Addr().String()+"/team/app:v1"), mustRandom(t), asAdmin); err != nil {
		t.Fatal(err)
	}

	var (
		code int
		s    map[string]float64
	)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", maddr); err == nil {
			c.Close()
			break
		}
	}
	t.Run("metrics.addr serves them without credentials", func(t *testing.T) {
		code, s = scrape(t, "http://"+maddr, "", "")
		if code != 200 {
			t.Fatalf("GET /metrics on metrics.addr = %d", code)
		}
		if got := s[`berth_registry_operations_total{operation="push",project="team"}`]; got != 1 {
			t.Fatalf("pushes to team = %v, want 1", got)
		}
	})
	t.Run("the main listener no longer does, even to an admin", func(t *testing.T) {
		if code, _ := scrape(t, base, "admin", testAdminPassword); code != 404 {
			t.Fatalf("GET /metrics on the main listener = %d, want 404", code)
		}
	})
}

func mustRandom(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestEdgeRefusalsCounted: a request the network allow-list refuses is
// counted too.
func TestEdgeRefusalsCounted(t *testing.T) {
	a, base := startApp(t, func(c *config.Config) { c.HTTP.Allow = []string{"10.0.0.0/8"} })
	resp, err := http.Get(base + "/v2/team/app/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET from outside http.allow = %d, want 403", resp.StatusCode)
	}
	// Read around the edge: /metrics is refused from here too.
	rec := httptest.NewRecorder()
	a.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `berth_http_requests_total{code="403",method="GET",route="manifest"} 1`
	if !strings.Contains(rec.Body.String(), want+"\n") {
		t.Fatalf("missing %s", want)
	}
}
