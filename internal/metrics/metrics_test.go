package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
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
