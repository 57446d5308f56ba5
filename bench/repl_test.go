package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseOptionsReplication(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(o *options) error
	}{
		{"defaults", nil, "", func(o *options) error {
			if o.replMode != "client" || o.replImages != 20 || o.replLayers != 3 || o.replLayerSize != 1<<20 ||
				o.replPoll != 5*time.Millisecond || o.replTimeout != time.Minute || replMode(o) != "none" {
				return fmt.Errorf("mode %s images %d layers %d size %d poll %s timeout %s", o.replMode, o.replImages,
					o.replLayers, o.replLayerSize, o.replPoll, o.replTimeout)
			}
			return nil
		}},
		{"replication is a default scenario", nil, "", func(o *options) error {
			if !contains(splitList(o.scenarios), "replication") {
				return fmt.Errorf("scenarios %q", o.scenarios)
			}
			return nil
		}},
		{"quick scales the images down", []string{"-quick"}, "", func(o *options) error {
			if o.replImages != 5 {
				return fmt.Errorf("repl-images %d, want 5", o.replImages)
			}
			return nil
		}},
		{"explicit count wins over quick", []string{"-quick", "-repl-images", "7"}, "", func(o *options) error {
			if o.replImages != 7 {
				return fmt.Errorf("repl-images %d, want 7", o.replImages)
			}
			return nil
		}},
		{"client copy", []string{"-repl-dest", "127.0.0.1:5001"}, "", func(o *options) error {
			if replMode(o) != "client" {
				return fmt.Errorf("mode %s", replMode(o))
			}
			return nil
		}},
		{"berth with credentials", []string{"-repl-dest", "127.0.0.1:5001", "-repl-mode", "berth", "-user", "admin", "-password", "x"}, "", func(o *options) error {
			if replMode(o) != "berth" {
				return fmt.Errorf("mode %s", replMode(o))
			}
			return nil
		}},
		{"berth without destination is skipped later", []string{"-repl-mode", "berth"}, "", func(o *options) error {
			if replMode(o) != "none" {
				return fmt.Errorf("mode %s, want none", replMode(o))
			}
			return nil
		}},
		{"unknown mode", []string{"-repl-mode", "crane"}, "client or berth", nil},
		{"berth without credentials", []string{"-repl-dest", "127.0.0.1:5001", "-repl-mode", "berth"}, "-user", nil},
		{"destination without port", []string{"-repl-dest", "127.0.0.1"}, "host:port", nil},
		{"destination is a URL", []string{"-repl-dest", "http://127.0.0.1:5001"}, "host:port", nil},
		{"destination is the source", []string{"-addr", "127.0.0.1:5000", "-repl-dest", "127.0.0.1:5000"}, "another registry", nil},
		{"zero images", []string{"-repl-images", "0"}, "positive", nil},
		{"zero poll", []string{"-repl-poll", "0s"}, "positive", nil},
		{"negative destination pid", []string{"-repl-dest-pid", "-1"}, "positive", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(o); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSummarizeLags(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name string
		in   []time.Duration
		want lagStats
	}{
		{"none", nil, lagStats{}},
		{"one", ms(7), lagStats{n: 1, p50: 7 * time.Millisecond, max: 7 * time.Millisecond}},
		{"odd, unsorted", ms(30, 10, 20), lagStats{n: 3, p50: 20 * time.Millisecond, max: 30 * time.Millisecond}},
		{"even: the lower middle (nearest rank)", ms(4, 1, 3, 2), lagStats{n: 4, p50: 2 * time.Millisecond, max: 4 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := summarizeLags(in); got != tt.want {
				t.Errorf("summarizeLags = %+v, want %+v", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("summarizeLags reordered its input: %v", in)
				}
			}
		})
	}
}

func TestCopyJobLags(t *testing.T) {
	jobs := []replJob{
		{Action: "copy", State: "succeeded", LagSeconds: 1.5},
		{Action: "copy", State: "succeeded", LagSeconds: 0.25},
		{Action: "copy", State: "failed", Error: "boom"},
		{Action: "copy", State: "running"},
		{Action: "delete", State: "succeeded", LagSeconds: 9},
		{Action: "expand", State: "failed"},
	}
	tests := []struct {
		name       string
		jobs       []replJob
		wantLags   []time.Duration
		wantFailed int
	}{
		{"mixed", jobs, []time.Duration{250 * time.Millisecond, 1500 * time.Millisecond}, 1},
		{"none", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lags, failed := copyJobLags(tt.jobs)
			if fmt.Sprint(lags) != fmt.Sprint(tt.wantLags) || failed != tt.wantFailed {
				t.Errorf("copyJobLags = %v, %d; want %v, %d", lags, failed, tt.wantLags, tt.wantFailed)
			}
		})
	}
}

func TestReplicationPolicyNaming(t *testing.T) {
	tests := []struct{ prefix, name, pattern string }{
		{"bench", "bench-repl", "bench/repl/**"},
		{"team/run 2", "team-run-2-repl", "team/run 2/repl/**"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := replicationPolicyName(tt.prefix); got != tt.name {
				t.Errorf("name %q, want %q", got, tt.name)
			}
			if got := replicationPattern(tt.prefix); got != tt.pattern {
				t.Errorf("pattern %q, want %q", got, tt.pattern)
			}
		})
	}
}

// memRegistry is a minimal in-memory registry: monolithic uploads (POST,
// then PUT ?digest= with the body, checked), blobs and manifests by
// repository. It counts the blob uploads it completed.
type memRegistry struct {
	mu        sync.Mutex
	blobs     map[string][]byte // repo@digest
	manifests map[string][]byte // repo:ref (tag or digest)
	uploads   atomic.Int64
}

func newMemRegistry(t *testing.T) (*memRegistry, *httptest.Server) {
	t.Helper()
	m := &memRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

func (m *memRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case strings.HasSuffix(p, "/blobs/uploads/") && r.Method == http.MethodPost:
		w.Header().Set("Location", "/v2/"+p+"u1")
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(p, "/blobs/uploads/") && r.Method == http.MethodPut:
		repo, _, _ := strings.Cut(p, "/blobs/uploads/")
		data, _ := io.ReadAll(r.Body)
		b := newBlob(data)
		if b.digest != r.URL.Query().Get("digest") {
			http.Error(w, "DIGEST_INVALID", http.StatusBadRequest)
			return
		}
		m.blobs[repo+"@"+b.digest] = data
		m.uploads.Add(1)
		w.Header().Set("Docker-Content-Digest", b.digest)
		w.WriteHeader(http.StatusCreated)
	case strings.Contains(p, "/blobs/"):
		repo, dgst, _ := strings.Cut(p, "/blobs/")
		data, ok := m.blobs[repo+"@"+dgst]
		if !ok {
			http.Error(w, "BLOB_UNKNOWN", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Header().Set("Docker-Content-Digest", dgst)
		_, _ = w.Write(data)
	case strings.Contains(p, "/manifests/"):
		repo, ref, _ := strings.Cut(p, "/manifests/")
		if r.Method == http.MethodPut {
			data, _ := io.ReadAll(r.Body)
			b := newBlob(data)
			m.manifests[repo+":"+ref] = data
			m.manifests[repo+":"+b.digest] = data
			w.Header().Set("Docker-Content-Digest", b.digest)
			w.WriteHeader(http.StatusCreated)
			return
		}
		data, ok := m.manifests[repo+":"+ref]
		if !ok {
			http.Error(w, "MANIFEST_UNKNOWN", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", mtOCIManifest)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Header().Set("Docker-Content-Digest", newBlob(data).digest)
		_, _ = w.Write(data)
	default:
		http.NotFound(w, r)
	}
}

func testClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	c, err := newClient(strings.TrimPrefix(srv.URL, "http://"), 4, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func TestCopyImage(t *testing.T) {
	ctx := context.Background()
	srcReg, srcSrv := newMemRegistry(t)
	dstReg, dstSrv := newMemRegistry(t)
	src, dst := testClient(t, srcSrv), testClient(t, dstSrv)
	imgs := []image{makeImage(1, kindRepl, 0, 3, 10<<10), makeImage(1, kindRepl, 1, 2, 10<<10)}
	const repo = "bench/repl/img"
	for i, img := range imgs {
		if err := src.pushImage(ctx, repo, fmt.Sprintf("v%d", i), img); err != nil {
			t.Fatal(err)
		}
	}
	// The second image shares nothing with the first; then a third that
	// reuses the first's layers must upload only its config.
	shared := assembleImage("shared", imgs[0].layers)
	if err := src.pushImage(ctx, repo, "v2", shared); err != nil {
		t.Fatal(err)
	}
	imgs = append(imgs, shared)
	tests := []struct {
		i           int
		wantUploads int64 // blobs the copy uploads to dst
	}{
		{0, 4},
		{1, 3},
		{2, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("image %d", tt.i), func(t *testing.T) {
			before := dstReg.uploads.Load()
			if err := copyImage(ctx, src, dst, repo, fmt.Sprintf("v%d", tt.i)); err != nil {
				t.Fatal(err)
			}
			if got := dstReg.uploads.Load() - before; got != tt.wantUploads {
				t.Errorf("uploaded %d blobs, want %d", got, tt.wantUploads)
			}
		})
	}
	if err := verifyReplicas(ctx, dst, imgs, func(int) string { return repo }, "v0"); err == nil {
		t.Error("verifyReplicas accepted image 1 under image 0's tag")
	}
	for i := range imgs {
		if err := verifyReplicas(ctx, dst, imgs[i:i+1], func(int) string { return repo }, fmt.Sprintf("v%d", i)); err != nil {
			t.Errorf("image %d at the destination: %v", i, err)
		}
	}
	t.Run("corrupt source blob", func(t *testing.T) {
		bad := makeImage(1, kindRepl, 9, 1, 1<<10)
		if err := src.pushImage(ctx, repo, "bad", bad); err != nil {
			t.Fatal(err)
		}
		srcReg.mu.Lock()
		data := srcReg.blobs[repo+"@"+bad.layers[0].digest]
		data[0] ^= 0xff
		srcReg.mu.Unlock()
		if err := copyImage(ctx, src, dst, repo, "bad"); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("copy of a corrupt blob: err = %v, want the destination's 400", err)
		}
	})
}

func TestWaitManifest(t *testing.T) {
	const want = "sha256:aaaa"
	tests := []struct {
		name    string
		answer  func(n int64, w http.ResponseWriter) // n: 1 for the first request
		wantErr string
	}{
		{"arrives after a few polls", func(n int64, w http.ResponseWriter) {
			if n < 4 {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("Docker-Content-Digest", want)
		}, ""},
		{"another digest never counts", func(n int64, w http.ResponseWriter) {
			w.Header().Set("Docker-Content-Digest", "sha256:bbbb")
		}, "last seen: digest sha256:bbbb"},
		{"never arrives", func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, "not at the destination"},
		{"a passing server error is not yet", func(n int64, w http.ResponseWriter) {
			switch {
			case n < 3:
				w.WriteHeader(http.StatusNotFound)
			case n == 3:
				w.WriteHeader(http.StatusInternalServerError)
			default:
				w.Header().Set("Docker-Content-Digest", want)
			}
		}, ""},
		{"a lasting server error", func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, "last seen: status 500"},
		{"unauthorized", func(n int64, w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }, "status 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodHead || r.URL.Path != "/v2/r/manifests/v1" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				tt.answer(n.Add(1), w)
			}))
			defer srv.Close()
			err := waitManifest(context.Background(), testClient(t, srv), "r", "v1", want, time.Millisecond, 300*time.Millisecond)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := n.Load(); got != 4 {
					t.Errorf("%d requests, want 4", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestReplLine(t *testing.T) {
	m := []Metric{{Key: "replication.lag_p50_ms", Scenario: "replication", Value: 1, Better: "lower"}}
	tests := []struct {
		name      string
		ref, cand *Report
		want      []string // nil: no line
	}{
		{"both", &Report{Label: "reference", Metrics: m, Settings: map[string]string{"repl_mode": "client"}},
			&Report{Label: "berth", Metrics: m, Settings: map[string]string{"repl_mode": "berth", "repl_poll": "2ms"}},
			[]string{"reference: no replication of its own", "berth: berth's push replication", "every 2ms", "manifest PUT"}},
		{"not run", &Report{Label: "a"}, &Report{Label: "b"}, nil},
		{"not recorded", &Report{Label: "a", Metrics: m}, &Report{Label: "b"}, []string{"a: not recorded", "b: not recorded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLine(t, "replLine", replLine(tt.ref, tt.cand), tt.want, nil)
		})
	}
}

func TestForeignCoresHelpers(t *testing.T) {
	t0 := time.Unix(0, 0)
	a := cpuSnapshot{at: t0, total: 10 * time.Second, server: 2 * time.Second, helpers: time.Second, own: time.Second}
	tests := []struct {
		name    string
		helpers time.Duration // at the end
		want    float64
	}{
		{"helper idle", time.Second, 0.5},
		{"helper busy is not foreign", 4 * time.Second, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := cpuSnapshot{at: t0.Add(10 * time.Second), total: 25 * time.Second, server: 7 * time.Second,
				helpers: tt.helpers, own: 6 * time.Second}
			if got := foreignCores(a, b); fmt.Sprintf("%.3f", got) != fmt.Sprintf("%.3f", tt.want) {
				t.Errorf("foreignCores = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSettingsLineReplication(t *testing.T) {
	st := map[string]string{"cpus": "2", "repl_images": "20", "repl_layers": "3", "repl_layer_size": "1048576"}
	tests := []struct {
		scenarios string
		want      bool
	}{
		{"replication", true},
		{"head", false},
	}
	for _, tt := range tests {
		t.Run(tt.scenarios, func(t *testing.T) {
			s := map[string]string{"scenarios": tt.scenarios, "conns": "64"}
			for k, v := range st {
				s[k] = v
			}
			got := settingsLine(&Report{Settings: s})
			if has := strings.Contains(got, "replication of 20 images × 3 × 1.0 MiB"); has != tt.want {
				t.Errorf("settingsLine = %q, mentions replication: %v, want %v", got, has, tt.want)
			}
		})
	}
}
