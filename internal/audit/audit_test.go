package audit

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func TestRecorder(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)), 2000)
	for i := range 1200 { // more than one batch
		r.Record(meta.AuditEvent{Actor: "alice", Action: "pull", Repo: "team/app", Digest: "sha256:" + string(rune('a'+i%26))})
	}
	r.Close()
	r.Close() // harmless
	var evs []meta.AuditEvent
	if err := s.View(t.Context(), func(rd meta.Reader) error {
		var err error
		evs, err = rd.ListAudit(meta.AuditFilter{Action: "pull"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1200 || r.Dropped() != 0 || evs[0].At.IsZero() {
		t.Fatalf("%d events recorded, %d dropped", len(evs), r.Dropped())
	}

	t.Run("a full queue drops instead of waiting", func(t *testing.T) {
		r := &Recorder{ch: make(chan meta.AuditEvent, 1)}
		r.Record(meta.AuditEvent{Action: "pull"})
		r.Record(meta.AuditEvent{Action: "pull"})
		if r.Dropped() != 1 {
			t.Fatalf("dropped = %d, want 1", r.Dropped())
		}
	})
	t.Run("purge", func(t *testing.T) {
		n, err := Purge(t.Context(), s, time.Hour, time.Now().Add(2*time.Hour))
		if err != nil || n != 1200 {
			t.Fatalf("Purge = %d, %v", n, err)
		}
	})
}

func TestRecorderCountsPulls(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	content := []byte(`{"schemaVersion":2}`)
	m := meta.Manifest{Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(content)), Content: content, CreatedAt: time.Now()}
	if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.PutManifest("team/app", m, meta.Refs{}) }); err != nil {
		t.Fatal(err)
	}
	r := New(s, slog.New(slog.NewTextHandler(io.Discard, nil)), 2000)
	t0 := time.Unix(1700000000, 0)
	for i := range 700 { // more than one batch
		tag := []string{"v1", "latest", ""}[i%3]
		r.Record(meta.AuditEvent{At: t0.Add(time.Duration(i) * time.Second), Action: meta.ActionPull, Repo: "team/app", Digest: m.Digest.String(), Tag: tag})
	}
	r.Record(meta.AuditEvent{Action: "login", Actor: "alice"})
	r.Close()
	var got []meta.PullCount
	if err := s.View(t.Context(), func(rd meta.Reader) error {
		var err error
		got, err = rd.PullStats("team/app")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		n    int64
		last time.Time
	}{"": {233, t0.Add(698 * time.Second)}, "latest": {233, t0.Add(697 * time.Second)}, "v1": {234, t0.Add(699 * time.Second)}}
	if len(got) != len(want) {
		t.Fatalf("pull stats = %+v", got)
	}
	for _, p := range got {
		w := want[p.Tag]
		if p.Pulls != w.n || !p.Last.Equal(w.last) {
			t.Errorf("tag %q: %d pulls, last %v; want %d, %v", p.Tag, p.Pulls, p.Last, w.n, w.last)
		}
	}
}
