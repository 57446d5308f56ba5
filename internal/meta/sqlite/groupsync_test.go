package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// TestGroupSyncCoversEveryCaller: each Sync returns only after an fsync
// that began after the call, and concurrent callers share fsyncs.
func TestGroupSyncCoversEveryCaller(t *testing.T) {
	var clock atomic.Int64 // orders calls, fsync starts and ends, returns
	type span struct{ start, end int64 }
	var mu sync.Mutex
	var syncs []span
	g := newGroupSync("wal")
	g.fsync = func(string) error {
		start := clock.Add(1)
		time.Sleep(2 * time.Millisecond)
		end := clock.Add(1)
		mu.Lock()
		syncs = append(syncs, span{start, end})
		mu.Unlock()
		return nil
	}
	const callers = 32
	calls := make([]span, callers) // call, return
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for range 5 {
				called := clock.Add(1)
				if err := g.Sync(); err != nil {
					t.Error(err)
				}
				calls[i] = span{called, clock.Add(1)}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i, c := range calls {
		covered := false
		for _, s := range syncs {
			covered = covered || (s.start > c.start && s.end < c.end)
		}
		if !covered {
			t.Errorf("caller %d (called at %d, returned at %d): no fsync began after the call and ended before the return; fsyncs: %v", i, c.start, c.end, syncs)
		}
	}
	if len(syncs) >= callers*5 {
		t.Errorf("%d fsyncs for %d concurrent Syncs: none shared", len(syncs), callers*5)
	}
}

// TestGroupSyncFailureIsSticky: after a failed fsync no Sync succeeds, and
// no further fsync is tried.
func TestGroupSyncFailureIsSticky(t *testing.T) {
	g := newGroupSync("wal")
	calls := 0
	fail := errors.New("EIO")
	g.fsync = func(string) error {
		calls++
		if calls == 2 {
			return fail
		}
		return nil
	}
	for i, wantErr := range []bool{false, true, true, true} {
		err := g.Sync()
		if (err != nil) != wantErr || (err != nil && !errors.Is(err, fail)) {
			t.Fatalf("Sync %d: %v, want error %v", i+1, err, wantErr)
		}
	}
	if calls != 2 {
		t.Errorf("%d fsyncs, want 2 (none after the failure)", calls)
	}
}

func TestFsyncPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		ok         bool
	}{
		{"a file", p, true},
		{"a missing file (nothing to sync)", filepath.Join(dir, "gone"), true},
		{"a path through a file", filepath.Join(p, "x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := fsyncPath(c.path); (err == nil) != c.ok {
				t.Errorf("fsyncPath(%s) = %v, want ok %v", c.path, err, c.ok)
			}
		})
	}
}

// TestUpdateSyncsTheWAL: by default an Update waits for an fsync of the
// database's WAL file, an UpdateAsync does not, and with Synchronous set
// neither goes through the group commit.
func TestUpdateSyncsTheWAL(t *testing.T) {
	var mu sync.Mutex
	synced := map[string]int{}
	old := fsyncWAL
	fsyncWAL = func(p string) error {
		mu.Lock()
		synced[p]++
		mu.Unlock()
		return fsyncPath(p)
	}
	t.Cleanup(func() { fsyncWAL = old })
	count := func(p string) int {
		mu.Lock()
		defer mu.Unlock()
		return synced[p]
	}
	for _, mode := range []string{"", "FULL", "NORMAL"} {
		t.Run("synchronous="+mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "meta.db")
			s, err := OpenWith(t.Context(), path, Options{Synchronous: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			wal := path + "-wal"
			base := count(wal)
			if err := s.UpdateAsync(t.Context(), func(tx meta.Tx) error { return tx.EnsureRepository("a") }); err != nil {
				t.Fatal(err)
			}
			if n := count(wal) - base; n != 0 {
				t.Errorf("UpdateAsync synced the WAL %d times", n)
			}
			if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.EnsureRepository("b") }); err != nil {
				t.Fatal(err)
			}
			want := 0
			if mode == "" {
				want = 1
			}
			if n := count(wal) - base; n != want {
				t.Errorf("Update synced %s %d times, want %d (syncs: %v)", wal, n, want, synced)
			}
			if _, err := os.Stat(wal); err != nil {
				t.Errorf("no WAL file where the group commit syncs it: %v", err)
			}
		})
	}
}
