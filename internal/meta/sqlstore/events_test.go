package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// TestEventsAppended: the channel closes when a transaction that appended
// an event commits, and not for other commits or rolled-back appends.
func TestEventsAppended(t *testing.T) {
	s, _ := newTestStore(t)
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}
	event := func(tx meta.Tx) error {
		return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "a/b", Tag: "x"})
	}
	for _, tc := range []struct {
		name string
		fn   func(meta.Tx) error
		want bool
	}{
		{"no event", func(tx meta.Tx) error { return tx.LinkBlob("a/b", digest.FromString("x"), 1) }, false},
		{"event", event, true},
		{"event rolled back", func(tx meta.Tx) error { _ = event(tx); return errRollback }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.EventsAppended()
			_ = s.Update(t.Context(), tc.fn)
			if got := closed(c); got != tc.want {
				t.Fatalf("woken = %v, want %v", got, tc.want)
			}
		})
	}
}

var errRollback = errors.New("rolled back")
