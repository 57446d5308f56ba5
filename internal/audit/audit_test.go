package audit

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

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
