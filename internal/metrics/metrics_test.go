package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func body(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name    string
		src     UsageSource
		gc      []error
		want    []string
		notWant []string
	}{
		{
			name: "usage and GC runs",
			src: func(context.Context) ([]ProjectUsage, error) {
				return []ProjectUsage{{Project: "team", Used: 1500, Quota: 4096}, {Project: "library", Used: 7}}, nil
			},
			gc: []error{nil, nil, errors.New("disk gone")},
			want: []string{
				`berth_project_storage_bytes{project="team"} 1500`, `berth_project_quota_bytes{project="team"} 4096`,
				`berth_project_storage_bytes{project="library"} 7`,
				`berth_gc_runs_total{result="ok"} 2`, `berth_gc_runs_total{result="failed"} 1`,
				`berth_gc_freed_bytes_total 300`, `berth_gc_removed_total{kind="blob"} 6`, `berth_gc_duration_seconds_count 3`,
			},
			notWant: []string{`berth_project_quota_bytes{project="library"}`},
		},
		{
			name:    "a failed usage read leaves the gauges out, the rest is served",
			src:     func(context.Context) ([]ProjectUsage, error) { return nil, errors.New("database down") },
			want:    []string{`berth_gc_runs_total{result="ok"} 0`, "go_goroutines "},
			notWant: []string{"berth_project_storage_bytes{"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			m.WatchUsage(tc.src, quiet)
			for _, err := range tc.gc {
				m.ObserveGC(GCRun{Duration: time.Second, Blobs: 2, Bytes: 100}, err)
			}
			b := body(t, m)
			for _, w := range tc.want {
				if !strings.Contains(b, w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(b, w) {
					t.Errorf("unexpected %q", w)
				}
			}
		})
	}
}

func TestRequestMetrics(t *testing.T) {
	type req struct {
		route, method string
		code          int
		seconds       float64
		in, out       int64
	}
	for _, tc := range []struct {
		name    string
		reqs    []req
		ops     [][2]string
		auth    []string
		want    []string
		notWant []string
	}{
		{
			name: "requests by route, method and code; bytes by route",
			reqs: []req{
				{"blob", "GET", 200, 0.02, 0, 1000},
				{"blob", "GET", 200, 0.2, 0, 500},
				{"blob", "HEAD", 404, 0.001, 0, 0},
				{"blob_upload", "PATCH", 202, 3, 4096, 0},
			},
			want: []string{
				`berth_http_requests_total{code="200",method="GET",route="blob"} 2`,
				`berth_http_requests_total{code="404",method="HEAD",route="blob"} 1`,
				`berth_http_requests_total{code="202",method="PATCH",route="blob_upload"} 1`,
				`berth_http_response_bytes_total{route="blob"} 1500`,
				`berth_http_request_bytes_total{route="blob_upload"} 4096`,
				`berth_http_request_duration_seconds_count{method="GET",route="blob"} 2`,
				`berth_http_request_duration_seconds_bucket{method="GET",route="blob",le="0.025"} 1`,
				`berth_http_request_duration_seconds_bucket{method="GET",route="blob",le="0.25"} 2`,
				`berth_http_request_duration_seconds_sum{method="PATCH",route="blob_upload"} 3`,
			},
			notWant: []string{`berth_http_requests_total{code="200",method="HEAD"`},
		},
		{
			name: "operations by project",
			ops:  [][2]string{{"team", "push"}, {"team", "pull"}, {"team", "pull"}, {"library", "delete"}},
			want: []string{
				`berth_registry_operations_total{operation="push",project="team"} 1`,
				`berth_registry_operations_total{operation="pull",project="team"} 2`,
				`berth_registry_operations_total{operation="delete",project="library"} 1`,
			},
			notWant: []string{`berth_registry_operations_total{operation="push",project="library"}`},
		},
		{
			name: "authentication failures, every reason present from the start",
			auth: []string{"bad_credentials", "bad_credentials"},
			want: []string{`berth_auth_failures_total{reason="bad_credentials"} 2`, `berth_auth_failures_total{reason="throttled"} 0`},
		},
		{
			name:    "nothing observed, nothing requested",
			want:    []string{`berth_auth_failures_total{reason="throttled"} 0`},
			notWant: []string{"berth_http_requests_total{", "berth_registry_operations_total{"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			for _, r := range tc.reqs {
				m.ObserveRequest(r.route, r.method, r.code, r.seconds, r.in, r.out)
			}
			for _, o := range tc.ops {
				m.CountOperation(o[0], o[1])
			}
			for _, r := range tc.auth {
				m.CountAuthFailure(r)
			}
			b := body(t, m)
			for _, w := range tc.want {
				if !strings.Contains(b, w+"\n") {
					t.Errorf("missing %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(b, w) {
					t.Errorf("unexpected %q", w)
				}
			}
		})
	}
}

// TestRequestMetricsConcurrent: the series cache keeps every count when
// series are added from many goroutines at once (run with -race).
func TestRequestMetricsConcurrent(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				m.ObserveRequest("manifest", "GET", 200+i%3, 0.01, 0, 10)
				m.CountOperation("p"+strconv.Itoa(i%5), "pull")
			}
		}()
	}
	wg.Wait()
	b := body(t, m)
	for _, w := range []string{
		`berth_http_requests_total{code="200",method="GET",route="manifest"} 272`,
		`berth_http_requests_total{code="202",method="GET",route="manifest"} 264`,
		`berth_http_response_bytes_total{route="manifest"} 8000`,
		`berth_registry_operations_total{operation="pull",project="p4"} 160`,
	} {
		if !strings.Contains(b, w+"\n") {
			t.Errorf("missing %q", w)
		}
	}
}

func TestUploadSessions(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name    string
		src     CountSource
		want    string
		present bool
	}{
		{"a count", func(context.Context) (int, error) { return 3, nil }, "berth_upload_sessions 3\n", true},
		{"none", func(context.Context) (int, error) { return 0, nil }, "berth_upload_sessions 0\n", true},
		{"a failed read leaves it out", func(context.Context) (int, error) { return 0, errors.New("locked") }, "berth_upload_sessions ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			m.WatchUploads(tc.src, quiet)
			if got := strings.Contains(body(t, m), tc.want); got != tc.present {
				t.Fatalf("%q present = %v, want %v", tc.want, got, tc.present)
			}
		})
	}
}

func TestDisk(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
		present    bool
	}{
		{"an existing directory", dir, true},
		{"a missing one is left out", dir + "/missing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			m.WatchDisk(tc.path, quiet)
			s := samples(t, body(t, m))
			size, ok := s[`berth_storage_filesystem_size_bytes{path="`+tc.path+`"}`]
			avail := s[`berth_storage_filesystem_avail_bytes{path="`+tc.path+`"}`]
			if ok != tc.present {
				t.Fatalf("size present = %v, want %v", ok, tc.present)
			}
			if tc.present && (size <= 0 || avail <= 0 || avail > size) {
				t.Fatalf("size %v, avail %v", size, avail)
			}
		})
	}
}

// samples parses the text format into values by series.
func samples(t *testing.T, b string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(b, "\n") {
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
	return out
}
