package metatest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func acquire(t *testing.T, s meta.Store, name, holder string, ttl time.Duration, now time.Time) bool {
	t.Helper()
	var got bool
	update(t, s, func(tx meta.Tx) error {
		var err error
		got, err = tx.AcquireLease(name, holder, ttl, now)
		return err
	})
	return got
}

var leaseTests = []test{
	{"one holder at a time, renewal, expiry, release", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1_800_000_000, 0)
		steps := []struct {
			what   string
			holder string
			at     time.Duration
			want   bool
		}{
			{"a free lease is taken", "node-a", 0, true},
			{"another holder is refused while it lasts", "node-b", 5 * time.Second, false},
			{"the holder renews it", "node-a", 8 * time.Second, true},
			{"the renewal counts from its own time", "node-b", 15 * time.Second, false},
			{"once expired another holder takes it", "node-b", 19 * time.Second, true},
			{"and the old holder is refused", "node-a", 20 * time.Second, false},
		}
		for _, st := range steps {
			if got := acquire(t, s, "gc", st.holder, 10*time.Second, t0.Add(st.at)); got != st.want {
				t.Fatalf("%s: AcquireLease(%s) = %v, want %v", st.what, st.holder, got, st.want)
			}
		}
		if !acquire(t, s, "other-job", "node-a", 10*time.Second, t0.Add(20*time.Second)) {
			t.Fatal("leases of different names are independent")
		}
		update(t, s, func(tx meta.Tx) error { return tx.ReleaseLease("gc", "node-a") }) // not the holder: no effect
		if acquire(t, s, "gc", "node-c", 10*time.Second, t0.Add(21*time.Second)) {
			t.Fatal("a release by a non-holder freed the lease")
		}
		update(t, s, func(tx meta.Tx) error { return tx.ReleaseLease("gc", "node-b") })
		if !acquire(t, s, "gc", "node-c", 10*time.Second, t0.Add(21*time.Second)) {
			t.Fatal("a released lease was not free")
		}
	}},
	{"concurrent acquirers: exactly one wins", func(t *testing.T, s meta.Store) {
		now := time.Unix(1_800_000_000, 0)
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := fmt.Sprintf("node-%d", i)
				var got bool
				err := s.Update(ctx(t), func(tx meta.Tx) error {
					var err error
					got, err = tx.AcquireLease("purge", holder, time.Minute, now)
					return err
				})
				if err != nil {
					t.Errorf("%s: %v", holder, err)
					return
				}
				if got {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("winners = %v, want exactly one", winners)
		}
	}},
}
