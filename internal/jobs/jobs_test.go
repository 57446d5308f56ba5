package jobs

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// TestOneNodeAtATime: two schedulers (two nodes) share one store and run the
// same job; it never runs on both at once, and when the node holding the
// lease dies the other takes over.
func TestOneNodeAtATime(t *testing.T) {
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := New(md, log), New(md, log)
	if a.Holder() == b.Holder() {
		t.Fatal("two schedulers share a holder name")
	}

	var running, overlap atomic.Int32
	runs := map[string]*atomic.Int32{a.Holder(): {}, b.Holder(): {}}
	job := func(holder string) func(context.Context) error {
		return func(ctx context.Context) error {
			if running.Add(1) > 1 {
				overlap.Add(1)
			}
			runs[holder].Add(1)
			time.Sleep(20 * time.Millisecond)
			running.Add(-1)
			return nil
		}
	}
	const interval = 400 * time.Millisecond
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.Every(ctxA, "purge", interval, job(a.Holder())) }()
	go func() { defer wg.Done(); b.Every(ctxB, "purge", interval, job(b.Holder())) }()

	time.Sleep(6 * interval)
	first, second := runs[a.Holder()].Load(), runs[b.Holder()].Load()
	if first+second == 0 {
		t.Fatal("the job never ran")
	}
	if first > 0 && second > 0 {
		t.Fatalf("both nodes ran the job while both were alive: %d and %d runs", first, second)
	}
	holder, other := a, b
	stopHolder := stopA
	if second > 0 {
		holder, other, stopHolder = b, a, stopB
	}
	// The holder dies without releasing its lease; the other node takes
	// over once the lease expires.
	stopHolder()
	before := runs[other.Holder()].Load()
	deadline := time.Now().Add(5 * time.Second)
	for runs[other.Holder()].Load() == before && time.Now().Before(deadline) {
		time.Sleep(interval / 2)
	}
	if runs[other.Holder()].Load() == before {
		t.Fatalf("after %s stopped, %s never took the job over", holder.Holder(), other.Holder())
	}
	stopA()
	stopB()
	wg.Wait()
	if n := overlap.Load(); n != 0 {
		t.Fatalf("the job ran on two nodes at once %d times", n)
	}
}

// TestLostLeaseCancelsTheJob: a job that outlives a lease another node took
// is told to stop.
func TestLostLeaseCancelsTheJob(t *testing.T) {
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(md, log)
	thief := New(md, log)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const ttl = 150 * time.Millisecond
	stopped := make(chan error, 1)
	go s.run(ctx, "gc", ttl, func(jobCtx context.Context) error {
		// Another node steals the lease (as if ours had expired).
		thief.now = func() time.Time { return time.Now().Add(time.Hour) }
		if ok, err := thief.acquire(ctx, "gc", time.Hour); !ok || err != nil {
			t.Errorf("thief could not take the lease: %v %v", ok, err)
		}
		<-jobCtx.Done()
		stopped <- jobCtx.Err()
		return nil
	})
	select {
	case err := <-stopped:
		if err == nil {
			t.Fatal("job context not cancelled")
		}
	case <-ctx.Done():
		t.Fatal("the job was not stopped after losing its lease")
	}
}
