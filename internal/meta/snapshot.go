package meta

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot keeps a value read from the store (say, every policy) for TTL,
// for readers on a hot path: Get reads it again once it is older. One
// caller reads at a time; meanwhile the others get the last value (or
// wait for the first read). Invalidate makes the next Get read.
type Snapshot[T any] struct {
	TTL  time.Duration
	Load func(ctx context.Context) (T, error)
	// OnStale is told when reading failed and the last value was kept.
	OnStale func(error)
	Now     func() time.Time

	cur  atomic.Pointer[snapshotValue[T]]
	busy sync.Mutex
}

type snapshotValue[T any] struct {
	at time.Time
	v  T
}

func (s *Snapshot[T]) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Get returns the value, reading it when it is older than TTL.
func (s *Snapshot[T]) Get(ctx context.Context) (T, error) {
	old := s.cur.Load()
	if old != nil && s.now().Sub(old.at) < s.TTL {
		return old.v, nil
	}
	if old != nil {
		if !s.busy.TryLock() {
			return old.v, nil // being read by another caller
		}
	} else {
		s.busy.Lock()
	}
	defer s.busy.Unlock()
	if cur := s.cur.Load(); cur != nil && cur != old && s.now().Sub(cur.at) < s.TTL {
		return cur.v, nil // read by the caller we waited for
	}
	v, err := s.Load(ctx)
	if err != nil {
		if old != nil {
			if s.OnStale != nil {
				s.OnStale(err)
			}
			return old.v, nil
		}
		return v, err
	}
	s.cur.Store(&snapshotValue[T]{at: s.now(), v: v})
	return v, nil
}

// Invalidate makes the next Get read the value again.
func (s *Snapshot[T]) Invalidate() { s.cur.Store(nil) }
