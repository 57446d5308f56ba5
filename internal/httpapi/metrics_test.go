package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metrics"
)

func TestRouteOf(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/v2/", RouteV2},
		{"/v2", RouteV2},
		{"/v2/_catalog", RouteCatalog},
		{"/v2/team/app/manifests/latest", RouteManifest},
		{"/v2/team/manifests/app/manifests/sha256:abc", RouteManifest}, // "manifests" as a name component
		{"/v2/team/app/blobs/sha256:abc", RouteBlob},
		{"/v2/team/app/blobs/uploads/", RouteBlobUpload},
		{"/v2/team/app/blobs/uploads/0f1e-id", RouteBlobUpload},
		{"/v2/team/app/tags/list", RouteTags},
		{"/v2/team/app/referrers/sha256:abc", RouteReferrers},
		{"/v2/nonsense", RouteOther},
		{"/token", RouteToken},
		{"/api/v1/projects", RouteAPI},
		{"/api", RouteAPI},
		{"/apis", RouteOther},
		{"/metrics", RouteMetrics},
		{"/healthz", RouteHealth},
		{"/readyz", RouteHealth},
		{"/", RouteOther},
		{"/ui/projects/team", RouteOther},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := RouteOf(tc.path); got != tc.want {
				t.Fatalf("RouteOf(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

// observation is one ObserveRequest call.
type observation struct {
	route, method string
	code          int
	in, out       int64
}

// fakeMeter records what it is told.
type fakeMeter struct {
	mu   sync.Mutex
	reqs []observation
	ops  []string
	auth []string
}

func (f *fakeMeter) ObserveRequest(route, method string, code int, seconds float64, in, out int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seconds < 0 {
		code = -1 // shows up as a wrong code
	}
	f.reqs = append(f.reqs, observation{route, method, code, in, out})
}

func (f *fakeMeter) CountOperation(project, operation string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, project+" "+operation)
}

func (f *fakeMeter) CountAuthFailure(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, reason)
}

var _ Meter = (*fakeMeter)(nil)

func TestInstrument(t *testing.T) {
	blob := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(blob, bytes.Repeat([]byte("x"), 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, body string
		h                        http.HandlerFunc
		want                     observation
	}{
		{
			name: "nothing written is a 200", method: "GET", path: "/v2/",
			h:    func(http.ResponseWriter, *http.Request) {},
			want: observation{RouteV2, "GET", 200, 0, 0},
		},
		{
			name: "status and body", method: "GET", path: "/v2/team/app/manifests/v1",
			h: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(404)
				_, _ = w.Write([]byte("not here"))
			},
			want: observation{RouteManifest, "GET", 404, 0, 8},
		},
		{
			name: "an interim 100 is not the status", method: "PUT", path: "/v2/team/app/blobs/uploads/x",
			h: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(100)
				w.WriteHeader(201)
			},
			want: observation{RouteBlobUpload, "PUT", 201, 0, 0},
		},
		{
			name: "the body read is counted", method: "PATCH", path: "/v2/team/app/blobs/uploads/x", body: strings.Repeat("b", 3000),
			h: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(202)
			},
			want: observation{RouteBlobUpload, "PATCH", 202, 3000, 0},
		},
		{
			name: "a file served with ServeContent", method: "GET", path: "/v2/team/app/blobs/sha256:abc",
			h: func(w http.ResponseWriter, r *http.Request) {
				f, err := os.Open(blob)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				http.ServeContent(w, r, "", time.Time{}, f)
			},
			want: observation{RouteBlob, "GET", 200, 0, 5000},
		},
		{
			name: "an unknown method is other", method: "BREW", path: "/",
			h:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(405) },
			want: observation{RouteOther, "other", 405, 0, 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMeter{}
			srv := httptest.NewServer(Instrument(tc.h, m))
			defer srv.Close()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			srv.Close() // the handler has returned
			if len(m.reqs) != 1 || m.reqs[0] != tc.want {
				t.Fatalf("observed %+v, want [%+v]", m.reqs, tc.want)
			}
		})
	}
}

// readFromWriter is a ResponseWriter that notes whether ReadFrom was used.
type readFromWriter struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (w *readFromWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom = true
	return io.Copy(struct{ io.Writer }{w.ResponseRecorder}, r)
}

// TestInstrumentKeepsReadFrom: the server's ReadFrom (sendfile for blob
// files) is still reached through the wrapper.
func TestInstrumentKeepsReadFrom(t *testing.T) {
	m := &fakeMeter{}
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.CopyN(w, strings.NewReader("layer bytes"), 11) // as ServeContent copies
	}), m)
	w := &readFromWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v2/a/blobs/sha256:abc", nil))
	if !w.readFrom {
		t.Error("the underlying ReadFrom was not used")
	}
	if w.Body.String() != "layer bytes" || len(m.reqs) != 1 || m.reqs[0].out != 11 {
		t.Fatalf("body %q, observed %+v", w.Body.String(), m.reqs)
	}
}

// TestInstrumentPanic: a handler's panic is counted as a 500 and passed on.
func TestInstrumentPanic(t *testing.T) {
	m := &fakeMeter{}
	h := Instrument(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), m)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v2/", nil))
	}()
	if len(m.reqs) != 1 || m.reqs[0].code != 500 {
		t.Fatalf("observed %+v, want one 500", m.reqs)
	}
}

func TestCountHooks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		call     func(a *API)
		ops      []string
		failures []string
	}{
		{"pull in a nested repository", func(a *API) { a.countOperation("team/sub/app", "pull") }, []string{"team pull"}, nil},
		{"push at the top level", func(a *API) { a.countOperation("library", "push") }, []string{"library push"}, nil},
		{"a failed login", func(a *API) { a.countLoginFailure("login.failed") }, nil, []string{"bad_credentials"}},
		{"a throttled login", func(a *API) { a.countLoginFailure("login.throttled") }, nil, []string{"throttled"}},
		{"a good login is no failure", func(a *API) { a.countLoginFailure("login") }, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMeter{}
			a := (&API{}).WithMeter(m)
			tc.call(a)
			if strings.Join(m.ops, ",") != strings.Join(tc.ops, ",") || strings.Join(m.auth, ",") != strings.Join(tc.failures, ",") {
				t.Fatalf("ops %q failures %q, want %q %q", m.ops, m.auth, tc.ops, tc.failures)
			}
		})
	}
	t.Run("no meter, no count", func(t *testing.T) {
		a := &API{}
		a.countOperation("team/app", "pull") // must not panic
		a.countLoginFailure("login.failed")
	})
}

// BenchmarkInstrument measures what the middleware with the real metrics
// adds to a manifest GET: compare with the "bare" run.
func BenchmarkInstrument(b *testing.B) {
	manifest := bytes.Repeat([]byte("m"), 1000)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"application/vnd.oci.image.manifest.v1+json"}
		w.WriteHeader(200)
		_, _ = w.Write(manifest)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", h},
		{"instrumented", Instrument(h, metrics.New())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/v2/team/app/manifests/v1", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bc.h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkInstrumentParallel is BenchmarkInstrument from every core.
func BenchmarkInstrumentParallel(b *testing.B) {
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }), metrics.New())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/v2/team/app/blobs/sha256:abc", nil)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing (benchmarks).
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
