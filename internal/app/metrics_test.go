package app

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// scrape GETs /metrics with the credentials (none when user is "") and
// returns the status and, on 200, the samples by their full name.
func scrape(t *testing.T, base, user, pw string) (int, map[string]float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return 200, out
}

func TestMetrics(t *testing.T) {
	a, base := startApp(t, nil)
	host := strings.TrimPrefix(base, "http://")
	img, err := random.Image(3000, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"/team/app:v1", "/team/other:v1"} { // the same blobs twice: counted once
		if err := remote.Write(mustRef(t, host+r), img, asAdmin); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := img.RawManifest()
	m, _ := img.Manifest()
	want := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		want += l.Size
	}
	if err := a.meta.Update(context.Background(), func(tx meta.Tx) error { return tx.SetProjectQuota("team", 1<<30) }); err != nil {
		t.Fatal(err)
	}
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/users", `{"name":"viewer","password":"viewer-password-1"}`, nil); code != 201 {
		t.Fatalf("create user = %d", code)
	}
	if _, err := a.RunGC(context.Background(), registry.GCOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, user, pw string
		want           int
	}{
		{"anonymous", "", "", 401},
		{"not a system admin", "viewer", "viewer-password-1", 403},
		{"wrong password", "admin", "nope", 401},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			if code, _ := scrape(t, base, tc.user, tc.pw); code != tc.want {
				t.Fatalf("GET /metrics = %d, want %d", code, tc.want)
			}
		})
	}
	t.Run("a system admin reads usage, quota, GC and runtime", func(t *testing.T) {
		code, s := scrape(t, base, "admin", testAdminPassword)
		if code != 200 {
			t.Fatalf("GET /metrics = %d", code)
		}
		for name, v := range map[string]float64{
			`berth_project_storage_bytes{project="team"}`: float64(want),
			`berth_storage_bytes`:                         float64(want),
			`berth_project_quota_bytes{project="team"}`:   1 << 30,
			`berth_gc_runs_total{result="ok"}`:            1,
			`berth_gc_runs_total{result="failed"}`:        0,
		} {
			if got, ok := s[name]; !ok || got != v {
				t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
			}
		}
		if _, ok := s[`berth_project_quota_bytes{project="library"}`]; ok {
			t.Error("a project without a quota has a quota sample")
		}
		if s["go_goroutines"] <= 0 || s["process_resident_memory_bytes"] <= 0 {
			t.Errorf("runtime metrics missing: goroutines %v, rss %v", s["go_goroutines"], s["process_resident_memory_bytes"])
		}
	})
	t.Run("deleting one repository changes nothing, deleting both frees the bytes", func(t *testing.T) {
		for i, repo := range []string{"team/other", "team/app"} {
			if code := apiCall(t, base, "admin", testAdminPassword, "DELETE", "/repositories/"+repo, "", nil); code != 204 {
				t.Fatalf("delete %s = %d", repo, code)
			}
			_, s := scrape(t, base, "admin", testAdminPassword)
			wantNow := float64(want)
			if i == 1 {
				wantNow = 0
			}
			if got := s[`berth_project_storage_bytes{project="team"}`]; got != wantNow {
				t.Fatalf("after deleting %s usage = %v, want %v", repo, got, wantNow)
			}
		}
	})
}

func TestMetricsSwitches(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want int
	}{
		{"auth.mode none serves them to anyone", func(c *config.Config) { c.Auth.Mode = "none" }, 200},
		{"metrics.enabled off serves nothing", func(c *config.Config) { c.Metrics.Enabled = false }, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := startApp(t, tc.edit)
			if code, _ := scrape(t, base, "", ""); code != tc.want {
				t.Fatalf("GET /metrics = %d, want %d", code, tc.want)
			}
		})
	}
}
