package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/mem"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// flaky is a switch the fake stores consult: nil answers, an error fails,
// hang blocks until the check's context ends or release is closed.
type flaky struct {
	mu      sync.Mutex
	err     error
	hang    bool
	release chan struct{}
	calls   int
}

func (f *flaky) set(err error, hang bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.hang = err, hang
	if hang && f.release == nil {
		f.release = make(chan struct{})
	}
}

// answer is what the store says; a hung call ignores its context, as a
// process stuck in a system call on a dead mount does.
func (f *flaky) answer(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	err, hang, release := f.err, f.hang, f.release
	f.mu.Unlock()
	if hang {
		<-release
		return errors.New("released")
	}
	return err
}

// probingBlobs is a blob store with a write probe that fails on demand.
type probingBlobs struct {
	blob.Store
	f *flaky
}

func (p probingBlobs) Probe(ctx context.Context) error { return p.f.answer(ctx) }

// flakyMeta is a metadata store whose View fails on demand.
type flakyMeta struct {
	meta.Store
	f *flaky
}

func (m flakyMeta) View(ctx context.Context, fn func(meta.Reader) error) error {
	if err := m.f.answer(ctx); err != nil {
		return err
	}
	return m.Store.View(ctx, fn)
}

func openTestMeta(t *testing.T) meta.Store {
	t.Helper()
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = md.Close() })
	return md
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestHealth(t *testing.T, threshold int, timeout time.Duration) (*health, *flaky, *flaky) {
	t.Helper()
	bf, mf := &flaky{}, &flaky{}
	cfg := config.Health{Interval: time.Hour, Threshold: threshold, Timeout: timeout}
	return newHealth(cfg, probingBlobs{mem.New(), bf}, flakyMeta{openTestMeta(t), mf}, quietLog()), bf, mf
}

func (h *health) testRound() {
	h.round.Lock()
	defer h.round.Unlock()
	h.runRound(context.Background())
}

func TestHealthThreshold(t *testing.T) {
	bad := errors.New("read-only file system")
	type step struct {
		blobErr, metaErr error
		ready            bool
		storage          string // substring of the body's storage value
	}
	tests := []struct {
		name      string
		threshold int
		steps     []step
	}{
		{"healthy", 2, []step{{nil, nil, true, "ok"}, {nil, nil, true, "ok"}}},
		{"one failure is tolerated below the threshold", 2, []step{
			{nil, nil, true, "ok"},
			{bad, nil, true, "ok until 2 failed checks in a row; failed 1: read-only"},
			{nil, nil, true, "ok"},
		}},
		{"unready at the threshold, ready after one success", 2, []step{
			{nil, nil, true, "ok"},
			{bad, nil, true, "failed 1"},
			{bad, nil, false, "read-only file system"},
			{bad, nil, false, "read-only file system"},
			{nil, nil, true, "ok"},
		}},
		{"threshold 1", 1, []step{{nil, nil, true, "ok"}, {bad, nil, false, "read-only"}, {nil, nil, true, "ok"}}},
		{"a store that never answered is not ready", 3, []step{{bad, nil, false, "read-only"}, {nil, nil, true, "ok"}}},
		{"the metadata store counts too", 1, []step{{nil, bad, false, "ok"}, {nil, nil, true, "ok"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, bf, mf := newTestHealth(t, tt.threshold, time.Second)
			for i, s := range tt.steps {
				bf.set(s.blobErr, false)
				mf.set(s.metaErr, false)
				h.testRound()
				ready, body := h.report(context.Background())
				if ready != s.ready || !strings.Contains(body["storage"], s.storage) {
					t.Fatalf("step %d: ready=%v %v, want ready=%v with storage %q", i, ready, body, s.ready, s.storage)
				}
				if want := map[bool]string{true: "ready", false: "unready"}[s.ready]; body["status"] != want {
					t.Fatalf("step %d: status %q, want %q", i, body["status"], want)
				}
				if s.metaErr != nil && !s.ready && body["metadata"] != s.metaErr.Error() {
					t.Fatalf("step %d: metadata %q, want the reason %q", i, body["metadata"], s.metaErr)
				}
			}
		})
	}
}

// TestHealthHungStore: a check that ignores its context fails the round at
// health.timeout, and later rounds do not stack more calls onto the store.
func TestHealthHungStore(t *testing.T) {
	h, bf, _ := newTestHealth(t, 1, 50*time.Millisecond)
	h.testRound()
	if ready, body := h.report(context.Background()); !ready {
		t.Fatalf("not ready before the hang: %v", body)
	}
	bf.set(nil, true)
	for i := range 3 {
		start := time.Now()
		h.testRound()
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("round %d took %s with a hung store; the timeout is 50ms", i, took)
		}
		ready, body := h.report(context.Background())
		if ready {
			t.Fatalf("round %d: ready with a hung store: %v", i, body)
		}
		want := "no answer within 50ms"
		if i > 0 {
			want = "the previous check has not returned"
		}
		if !strings.Contains(body["storage"], want) {
			t.Fatalf("round %d: storage %q, want %q", i, body["storage"], want)
		}
	}
	bf.mu.Lock()
	calls := bf.calls
	bf.mu.Unlock()
	if calls != 2 { // the first round before the hang, and the hung one
		t.Fatalf("the store was called %d times, want 2 (no checks piled on the hung one)", calls)
	}
	bf.set(nil, false)
	close(bf.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.testRound()
		if ready, _ := h.report(context.Background()); ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready again after the store came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHealthLoop: the background loop notices a failing store within a few
// intervals and a recovered one too, with no request asking.
func TestHealthLoop(t *testing.T) {
	h, bf, _ := newTestHealth(t, 2, time.Second)
	h.cfg.Interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.loop(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			h.mu.Lock()
			rounds := h.rounds
			h.mu.Unlock()
			if rounds > 0 {
				if ready, _ := h.report(context.Background()); ready == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("ready did not become %v within 5s", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(true)
	bf.set(errors.New("disk on fire"), false)
	waitFor(false)
	bf.set(nil, false)
	waitFor(true)
}

func TestBlobCheckWithoutProbe(t *testing.T) {
	s := mem.New()
	var _ WriteProber = s // mem implements the probe
	tests := []struct {
		name  string
		store blob.Store
	}{
		{"a store with a probe", s},
		{"a store without one is asked for a Stat", struct{ blob.Store }{s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := blobCheck(tt.store)(context.Background()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, probing := tt.store.(WriteProber); probing {
				if err := blobCheck(tt.store)(ctx); err == nil {
					t.Fatal("the probe ignored a cancelled context")
				}
			}
		})
	}
}

func TestHealthEndpoints(t *testing.T) {
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Health.Threshold = 1
	a, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	get := func(path string) (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: body is not JSON: %v", path, err)
		}
		return resp.StatusCode, body
	}
	tests := []struct {
		name, path  string
		closeStores bool
		want        int
		wantValue   string
	}{
		{"healthz", "/healthz", false, 200, "ok"},
		{"readyz while the stores answer", "/readyz", false, 200, "ready"},
		{"readyz with the metadata store closed", "/readyz", true, 503, "unready"},
		{"healthz with the metadata store closed", "/healthz", true, 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.closeStores {
				_ = a.Close()
				a.health.testRound() // what the background loop does
			}
			code, body := get(tt.path)
			if code != tt.want || body["status"] != tt.wantValue {
				t.Fatalf("GET %s = %d %v, want %d with status=%s", tt.path, code, body, tt.want, tt.wantValue)
			}
			if tt.path == "/readyz" && body["storage"] != "ok" {
				t.Fatalf("storage check: %v", body)
			}
			if code == 503 && (body["metadata"] == "" || body["metadata"] == "ok") {
				t.Fatalf("unready body does not say why: %v", body)
			}
		})
	}
}
