package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/actor"
)

// syncBuffer is a bytes.Buffer the access log's goroutine and the test
// may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLog(t *testing.T) {
	blobFile := filepath.Join(t.TempDir(), "blob")
	blobData := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	if err := os.WriteFile(blobFile, blobData, 0o644); err != nil {
		t.Fatal(err)
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What authorize does once it knows the caller.
		if u := r.Header.Get("X-Test-User"); u != "" {
			r = r.WithContext(actor.With(r.Context(), actor.Actor{Name: u, Kind: "user"}))
		}
		switch {
		case r.URL.Path == "/v2/library/alpine/blobs/uploads/":
			n, _ := io.Copy(io.Discard, r.Body)
			w.Header().Set("Location", "/v2/library/alpine/blobs/uploads/x")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, strings.Repeat("k", int(n%7)))
		case r.URL.Path == "/v2/library/alpine/blobs/sha256:aa":
			f, err := os.Open(blobFile)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			http.ServeContent(w, r, "", time.Time{}, f) // the sendfile path
		case r.URL.Path == "/v2/abort":
			panic(http.ErrAbortHandler)
		case r.URL.Path == "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/healthz":
			_, _ = io.WriteString(w, "{}")
		case r.URL.Path == "/v2/flush":
			_, _ = io.WriteString(w, "part")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through the recorder: %v", err)
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	al := NewAccessLog(log, 100)
	srv := httptest.NewServer(Edge(inner, EdgeOptions{AccessLog: al}, log))
	defer srv.Close()

	type want struct {
		method, path, repo, user string
		status                   float64
		in, out                  float64
		aborted                  bool
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		user   string
		want   want
	}{
		{"an upload with a body", "POST", "/v2/library/alpine/blobs/uploads/", strings.Repeat("z", 1000), "alice",
			want{"POST", "/v2/library/alpine/blobs/uploads/", "library/alpine", "alice", 202, 1000, 1000 % 7, false}},
		{"a blob served from a file", "GET", "/v2/library/alpine/blobs/sha256:aa", "", "bob",
			want{"GET", "/v2/library/alpine/blobs/sha256:aa", "library/alpine", "bob", 200, 0, float64(len(blobData)), false}},
		{"a HEAD writes no body", "HEAD", "/v2/library/alpine/blobs/sha256:aa", "", "",
			want{"HEAD", "/v2/library/alpine/blobs/sha256:aa", "library/alpine", "", 200, 0, 0, false}},
		{"not under /v2/", "GET", "/elsewhere", "", "",
			want{"GET", "/elsewhere", "", "", 404, 0, 0, false}},
		{"a flushed answer", "GET", "/v2/flush", "", "",
			want{"GET", "/v2/flush", "", "", 200, 0, 4, false}},
		{"an aborted response", "GET", "/v2/abort", "", "",
			want{"GET", "/v2/abort", "", "", 0, 0, 0, true}},
		{"a failing health probe", "GET", "/readyz", "", "",
			want{"GET", "/readyz", "", "", 503, 0, 0, false}},
	}

	// No keep-alive: the client would retry the aborted GET on a reused
	// connection, and log a second line.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var ids []string
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.body == "" {
			req.Body = http.NoBody
		}
		if tt.user != "" {
			req.Header.Set("X-Test-User", tt.user)
		}
		resp, err := client.Do(req)
		if err != nil {
			ids = append(ids, "")
			continue // the aborted one
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ids = append(ids, resp.Header.Get(RequestIDHeader))
	}
	// A passing health probe gets no line (a load balancer's would drown
	// the log): the count below checks it.
	if resp, err := client.Get(srv.URL + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	srv.Close() // every handler has returned
	al.Close()
	lines := buf.lines(t)
	if len(lines) != len(tests) {
		t.Fatalf("%d access lines for %d requests:\n%v", len(lines), len(tests), lines)
	}
	// A line is queued when the handler returns, which may be after the
	// client has its answer: match lines by method and path.
	byReq := map[string]map[string]any{}
	for _, l := range lines {
		byReq[str(l["method"])+" "+str(l["path"])] = l
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := byReq[tt.method+" "+tt.path]
			got := want{
				method: str(l["method"]), path: str(l["path"]), repo: str(l["repository"]), user: str(l["user"]),
				status: num(l["status"]), in: num(l["bytes_in"]), out: num(l["bytes_out"]), aborted: l["aborted"] == true,
			}
			if got != tt.want {
				t.Fatalf("line %v\n got %+v\nwant %+v", l, got, tt.want)
			}
			if l["msg"] != "access" || l["client"] != "127.0.0.1" || num(l["duration"]) <= 0 {
				t.Fatalf("msg, client or duration wrong: %v", l)
			}
			if id := str(l["request_id"]); len(id) != 16 || (ids[i] != "" && id != ids[i]) {
				t.Fatalf("request_id %q, response header %q", id, ids[i])
			}
		})
	}
}

func str(v any) string  { s, _ := v.(string); return s }
func num(v any) float64 { f, _ := v.(float64); return f }

// blockingHandler is a slog handler that waits until release is closed:
// a log destination that has stopped draining.
type blockingHandler struct {
	slog.Handler
	release chan struct{}
}

func (blockingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h blockingHandler) Handle(ctx context.Context, r slog.Record) error {
	<-h.release
	return nil
}

// TestAccessLogNeverBlocks: with the writer stuck and the queue full,
// requests still finish at once and the lost lines are counted.
func TestAccessLogNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	al := NewAccessLog(slog.New(blockingHandler{slog.DiscardHandler, release}), 4)
	h := Edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), EdgeOptions{AccessLog: al}, slog.New(slog.DiscardHandler))
	const n = 100
	start := time.Now()
	for range n {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v2/", nil))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("%d requests took %s with the log stuck", n, took)
	}
	// At most the queue and the one line being written got through.
	if d := al.Dropped(); d < n-5 || d > n {
		t.Fatalf("Dropped() = %d, want %d..%d", d, n-5, n)
	}
	close(release)
	al.Close()
}

func TestAccessLogOff(t *testing.T) {
	var hit bool
	h := Edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit = true
		if _, ok := w.(*recorder); ok {
			t.Error("the response is recorded with the access log off")
		}
	}), EdgeOptions{}, slog.New(slog.DiscardHandler))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v2/", nil))
	if !hit {
		t.Fatal("handler not called")
	}
}

// nullWriter is a ResponseWriter that costs nothing, so the benchmark
// measures the edge.
type nullWriter struct{ h http.Header }

func (d *nullWriter) Header() http.Header         { return d.h }
func (d *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *nullWriter) WriteHeader(int)             {}

// BenchmarkEdge is the cost the edge adds to a request (a blob HEAD-sized
// answer): bare handler, edge without and with the access log (its writer
// goroutine formatting JSON lines into io.Discard, on the same CPUs, so
// its work shows in ns/op and allocs too), and with a writer that skips
// formatting (what the request itself pays).
func BenchmarkEdge(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(actor.With(r.Context(), actor.Actor{Name: "alice", Kind: "user"}))
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	al := NewAccessLog(log, 8192)
	defer al.Close()
	// The request path alone: the writer drops each line at the level check.
	quiet := NewAccessLog(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})), 8192)
	defer quiet.Close()
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare", inner},
		{"edge", Edge(inner, EdgeOptions{}, log)},
		{"edge+accesslog", Edge(inner, EdgeOptions{AccessLog: al}, log)},
		{"edge+accesslog-request-path-only", Edge(inner, EdgeOptions{AccessLog: quiet}, log)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("HEAD", "/v2/library/alpine/blobs/sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", nil)
			w := &nullWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
	b.StopTimer()
	if d := al.Dropped(); d > 0 {
		b.Logf("access log lines dropped: %d", d)
	}
}
