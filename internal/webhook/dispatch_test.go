package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/secretbox"
)

// receiver records the events of the requests it accepts, after
// checking their signature; it fails the first failures requests.
type receiver struct {
	t        *testing.T
	secret   []byte
	mu       sync.Mutex
	failures int
	requests int
	got      []string // "id kind-ish" per accepted event
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if !Verify(rc.secret, b, r.Header.Get(HeaderSignature)) {
		rc.t.Errorf("bad signature %q for %s", r.Header.Get(HeaderSignature), b)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.failures > 0 {
		rc.failures--
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	switch r.Header.Get("Content-Type") {
	case ContentTypeRegistry:
		var env struct {
			Events []struct{ ID, Action string }
		}
		if err := json.Unmarshal(b, &env); err != nil {
			rc.t.Errorf("envelope: %v", err)
		}
		for _, e := range env.Events {
			rc.got = append(rc.got, e.ID+" "+e.Action)
		}
	case ContentTypeCloudEvents:
		var ce struct{ ID, Type string }
		if err := json.Unmarshal(b, &ce); err != nil {
			rc.t.Errorf("cloudevent: %v", err)
		}
		rc.got = append(rc.got, ce.ID+" "+ce.Type)
	default:
		rc.t.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
}

func (rc *receiver) accepted() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func openStore(t *testing.T) meta.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func appendEvents(t *testing.T, s meta.Store, evs ...meta.Event) {
	t.Helper()
	if err := s.Update(t.Context(), func(tx meta.Tx) error {
		for _, e := range evs {
			if err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func addHook(t *testing.T, s meta.Store, w meta.Webhook) int64 {
	t.Helper()
	var id int64
	if err := s.Update(t.Context(), func(tx meta.Tx) error {
		if w.Project != "" {
			if err := tx.CreateProject(meta.Project{Name: w.Project}); err != nil {
				return err
			}
		}
		var err error
		id, err = tx.AddWebhook(w)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func startDispatcher(t *testing.T, s meta.Store, box *secretbox.Box) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d := New(Options{Store: s, Secrets: box, Poll: 10 * time.Millisecond, Lease: 200 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Batch: 3})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDispatcherDeliversInOrder(t *testing.T) {
	key := make([]byte, 32)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		format   string
		project  string
		events   []string
		failures int
	}{
		{"registry, global, all", meta.WebhookFormatRegistry, "", []string{"all"}, 0},
		{"registry, project, push and delete, receiver fails first", meta.WebhookFormatRegistry, "team", []string{"push", "delete"}, 3},
		{"cloudevents, project, pulls and tag deletes, receiver fails first", meta.WebhookFormatCloudEvents, "team", []string{"pull", "tag_delete"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			// Before the endpoint exists: never delivered to it.
			appendEvents(t, s, meta.Event{Kind: "manifest.push", Repo: "team/old"})
			rc := &receiver{t: t, secret: []byte("hush"), failures: tt.failures}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			sealed, err := box.Seal([]byte("hush"))
			if err != nil {
				t.Fatal(err)
			}
			id := addHook(t, s, meta.Webhook{Project: tt.project, URL: srv.URL, Secret: sealed, Events: tt.events, Format: tt.format, Enabled: true})
			startDispatcher(t, s, box)
			kinds := []string{"manifest.push", meta.EventPull, "manifest.delete", "tag.delete", "blob.delete"}
			var want []string
			w := meta.Webhook{ID: id, Project: tt.project, Events: tt.events}
			for i := range 20 {
				repo := []string{"team/app", "other/app", "team"}[i%3]
				e := meta.Event{Kind: kinds[i%len(kinds)], Repo: repo}
				appendEvents(t, s, e)
				if w.Wants(e) {
					want = append(want, fmt.Sprint(i+2)) // event ids start at 1, the old push
				}
				if i%7 == 0 {
					time.Sleep(15 * time.Millisecond) // let some go one by one
				}
			}
			waitFor(t, "every event", func() bool { return len(rc.accepted()) >= len(want) })
			time.Sleep(50 * time.Millisecond) // nothing more may come
			var gotIDs []string
			for _, g := range rc.accepted() {
				var id, rest string
				fmt.Sscan(g, &id, &rest)
				if tt.format == meta.WebhookFormatCloudEvents {
					var ev, ep int64
					fmt.Sscanf(id, "%d-%d", &ev, &ep)
					id = fmt.Sprint(ev)
				}
				gotIDs = append(gotIDs, id)
			}
			if !slices.Equal(gotIDs, want) {
				t.Errorf("accepted events %v, want %v in this order (all: %v)", gotIDs, want, rc.accepted())
			}
			var log []meta.WebhookDelivery
			var cursor int64
			_ = s.View(t.Context(), func(r meta.Reader) error {
				log, _ = r.WebhookDeliveries(id, 0, 0)
				hk, _ := r.Webhook(id)
				cursor = hk.Cursor
				return nil
			})
			failed := 0
			for _, d := range log {
				if d.Error != "" {
					failed++
					if d.Status != http.StatusServiceUnavailable {
						t.Errorf("failed delivery %+v: want status 503", d)
					}
				}
			}
			if failed != tt.failures {
				t.Errorf("%d failed attempts logged, want %d: %+v", failed, tt.failures, log)
			}
			if tt.failures > 0 {
				last := log[len(log)-1] // the oldest: the first attempt
				if last.Attempt != 1 || log[len(log)-1-tt.failures].Attempt != tt.failures+1 {
					t.Errorf("attempt numbers in log %+v", log)
				}
			}
			if cursor != 21 {
				t.Errorf("cursor = %d, want 21 (the last event)", cursor)
			}
		})
	}
}

func TestDispatcherStopsWhenDisabled(t *testing.T) {
	s := openStore(t)
	rc := &receiver{t: t, secret: []byte("k")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	id := addHook(t, s, meta.Webhook{URL: srv.URL, Secret: []byte("k"), Events: []string{"all"}, Format: meta.WebhookFormatRegistry, Enabled: true})
	startDispatcher(t, s, nil)
	appendEvents(t, s, meta.Event{Kind: "manifest.push", Repo: "a"})
	waitFor(t, "the first event", func() bool { return len(rc.accepted()) == 1 })
	if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.SetWebhookEnabled(id, false) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	appendEvents(t, s, meta.Event{Kind: "manifest.push", Repo: "b"})
	time.Sleep(200 * time.Millisecond)
	if got := rc.accepted(); len(got) != 1 {
		t.Fatalf("delivered while disabled: %v", got)
	}
	if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.SetWebhookEnabled(id, true) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the event kept while disabled", func() bool { return len(rc.accepted()) == 2 })
	if got := rc.accepted(); got[1] != "2 push" {
		t.Errorf("accepted %v", got)
	}
}

// TestDispatcherWakesOnCommit: an idle dispatcher polling once an hour
// delivers an event as soon as its transaction commits.
func TestDispatcherWakesOnCommit(t *testing.T) {
	s := openStore(t)
	n, ok := s.(interface{ EventsAppended() <-chan struct{} })
	if !ok {
		t.Fatalf("%T does not tell when events were appended", s)
	}
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	addHook(t, s, meta.Webhook{URL: srv.URL, Events: []string{"all"}, Format: meta.WebhookFormatRegistry, Enabled: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d := New(Options{Store: s, Poll: time.Hour, Lease: 200 * time.Millisecond, Events: n.EventsAppended})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(100 * time.Millisecond) // the dispatcher found nothing and sleeps
	appendEvents(t, s, meta.Event{Kind: "manifest.push", Repo: "team/app", Tag: "v1"})
	waitFor(t, "the event", func() bool { return len(rc.accepted()) == 1 })
}
