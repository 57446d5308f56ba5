package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Scheduler runs jobs under leases in the metadata store.
type Scheduler struct {
	meta   meta.Store
	holder string
	log    *slog.Logger
	now    func() time.Time
}

// New returns a scheduler whose leases name this process (host, pid and a
// random part, so two processes never share a name).
func New(md meta.Store, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{meta: md, holder: HolderName(), log: log, now: time.Now}
}

// HolderName names a new lease holder of this process: host, pid and a
// random part, so two processes (or two holders of one) never share it.
func HolderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder is the name this scheduler takes leases under.
func (s *Scheduler) Holder() string { return s.holder }

// Every runs fn about once per interval across all the nodes sharing the
// metadata store, until ctx ends: at each tick the node that holds (or can
// take) the lease name runs fn; the others skip. The lease lasts two
// intervals and its holder renews it at every tick, so it stays with one
// live node, and passes to another within two intervals of that node's
// death. While fn runs the lease is renewed; if it cannot be, fn's context
// is cancelled. The first tick is at once.
func (s *Scheduler) Every(ctx context.Context, name string, interval time.Duration, fn func(context.Context) error) {
	s.every(ctx, name, interval, fn, true)
}

// EveryAfter is Every without the run at once: the first tick is one
// interval after the start (for heavy jobs a restart must not trigger).
func (s *Scheduler) EveryAfter(ctx context.Context, name string, interval time.Duration, fn func(context.Context) error) {
	s.every(ctx, name, interval, fn, false)
}

func (s *Scheduler) every(ctx context.Context, name string, interval time.Duration, fn func(context.Context) error, now bool) {
	ttl := 2 * interval
	t := time.NewTicker(interval)
	defer t.Stop()
	if !now {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	for {
		if ok, err := s.acquire(ctx, name, ttl); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("job lease unavailable", "job", name, "err", err)
			}
		} else if ok {
			s.run(ctx, name, ttl, fn)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Scheduler) acquire(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		var err error
		ok, err = tx.AcquireLease(name, s.holder, ttl, s.now())
		return err
	})
	return ok, err
}

// run runs fn while a heartbeat keeps the lease.
func (s *Scheduler) run(ctx context.Context, name string, ttl time.Duration, fn func(context.Context) error) {
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		beat := time.NewTicker(ttl / 3)
		defer beat.Stop()
		for {
			select {
			case <-done:
				return
			case <-beat.C:
				if ok, err := s.acquire(jobCtx, name, ttl); !ok || err != nil {
					s.log.Warn("job lost its lease; stopping it", "job", name, "err", err)
					cancel()
					return
				}
			}
		}
	}()
	start := time.Now()
	err := fn(jobCtx)
	close(done)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("job failed", "job", name, "err", err, "took", time.Since(start))
	}
}

// ErrBusy: the job's lease is held by another node (or run).
var ErrBusy = errors.New("the job is running elsewhere")

// Once runs fn now under the lease name, as the scheduled runs take it, so
// that it never runs twice at once across the cluster; ErrBusy when the
// lease is held. The lease is released when fn returns.
func (s *Scheduler) Once(ctx context.Context, name string, ttl time.Duration, fn func(context.Context) error) error {
	ok, err := s.acquire(ctx, name, ttl)
	if err != nil {
		return err
	}
	if !ok {
		return ErrBusy
	}
	var fnErr error
	s.run(ctx, name, ttl, func(ctx context.Context) error {
		fnErr = fn(ctx)
		return fnErr
	})
	_ = s.meta.Update(context.WithoutCancel(ctx), func(tx meta.Tx) error { return tx.ReleaseLease(name, s.holder) })
	return fnErr
}
