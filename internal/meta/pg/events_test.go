package pg

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// follow reads the outbox like a delivery worker: everything after the last
// id it saw.
type follower struct {
	s      meta.Store
	cursor int64
	got    []meta.Event
}

func (f *follower) poll(ctx context.Context) error {
	return f.s.View(ctx, func(r meta.Reader) error {
		evs, err := r.EventsAfter(f.cursor, 50)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.ID <= f.cursor {
				return fmt.Errorf("EventsAfter(%d) returned id %d", f.cursor, e.ID)
			}
			f.cursor = e.ID
			f.got = append(f.got, e)
		}
		return nil
	})
}

// TestEventsAfterConcurrentAppends: writers append events and linger before
// committing, while a follower polls EventsAfter; it must see every event,
// in id order, none skipped because a lower id committed late.
func TestEventsAfterConcurrentAppends(t *testing.T) {
	s := openT(t, freshSchema(t), Dialect())
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := s.Update(t.Context(), func(tx meta.Tx) error {
					if err := tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: fmt.Sprintf("r%d", w), Tag: fmt.Sprint(i)}); err != nil {
						return err
					}
					time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
					return tx.EnsureRepository(fmt.Sprintf("r%d", w))
				})
				if err != nil {
					t.Errorf("writer %d event %d: %v", w, i, err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	f := &follower{s: s}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if err := f.poll(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for { // drain what committed after the last poll
		n := len(f.got)
		if err := f.poll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(f.got) == n {
			break
		}
	}
	if len(f.got) != writers*each {
		t.Errorf("the follower saw %d events, want %d (skipped ids that committed late)", len(f.got), writers*each)
	}
	seen := map[string]bool{}
	for _, e := range f.got {
		k := e.Repo + "/" + e.Tag
		if seen[k] {
			t.Errorf("event %s seen twice", k)
		}
		seen[k] = true
	}
}

// TestEventLock shows, step by step, why AppendEvent locks on PostgreSQL:
// a transaction that got a lower id but commits later is skipped by a
// follower unless outbox writers commit one at a time.
func TestEventLock(t *testing.T) {
	cases := []struct {
		name        string
		lock        bool
		wantBlocked bool // the second writer waits for the first to commit
		wantSeen    int  // events the follower sees in the end
	}{
		{"with the lock", true, true, 2},
		{"without the lock a late commit is skipped", false, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Dialect()
			if !c.lock {
				d.EventLock = ""
			}
			s := openT(t, freshSchema(t), d)
			ctx := t.Context()
			appended, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			first, second := make(chan error, 1), make(chan error, 1)
			go func() {
				first <- s.Update(ctx, func(tx meta.Tx) error {
					if err := tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "first"}); err != nil {
						return err
					}
					once.Do(func() { close(appended) })
					<-release
					return nil
				})
			}()
			select {
			case <-appended:
			case err := <-first:
				t.Fatalf("first writer: %v", err)
			}
			go func() {
				second <- s.Update(ctx, func(tx meta.Tx) error {
					return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "second"})
				})
			}()
			blocked := false
			select {
			case err := <-second:
				if err != nil {
					t.Fatalf("second writer: %v", err)
				}
			case <-time.After(500 * time.Millisecond):
				blocked = true
			}
			f := &follower{s: s}
			if err := f.poll(ctx); err != nil {
				t.Fatal(err)
			}
			close(release)
			if err := <-first; err != nil {
				t.Fatalf("first writer: %v", err)
			}
			if blocked {
				if err := <-second; err != nil {
					t.Fatalf("second writer: %v", err)
				}
			}
			if err := f.poll(ctx); err != nil {
				t.Fatal(err)
			}
			if blocked != c.wantBlocked {
				t.Errorf("second writer blocked = %v, want %v", blocked, c.wantBlocked)
			}
			var repos []string
			for _, e := range f.got {
				repos = append(repos, e.Repo)
			}
			if len(f.got) != c.wantSeen {
				t.Errorf("follower saw %q, want %d events", repos, c.wantSeen)
			}
			if c.lock && (len(repos) != 2 || repos[0] != "first") {
				t.Errorf("follower saw %q, want [first second]", repos)
			}
		})
	}
}
