// Package audit records the audit events that must not slow the request
// that causes them — pulls and logins — in batches, off the request path;
// and purges old events. (Pushes, deletes and permission changes are
// written in the transaction of the change itself by their owners.) A
// crash may lose the last instants of batched events, never a change's.
package audit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

const (
	batchMax   = 500
	flushEvery = time.Second
)

// Recorder batches events into the metadata store.
type Recorder struct {
	store   meta.Store
	log     *slog.Logger
	ch      chan meta.AuditEvent
	dropped atomic.Int64
	mu      sync.RWMutex // held for reading while sending, for writing to close
	closed  bool
	done    chan struct{}
}

// New starts a Recorder holding at most queue events waiting.
func New(store meta.Store, log *slog.Logger, queue int) *Recorder {
	r := &Recorder{store: store, log: log, ch: make(chan meta.AuditEvent, queue), done: make(chan struct{})}
	go r.loop()
	return r
}

// Record queues e without waiting; when the queue is full the event is
// dropped and counted (the request never waits for the audit log).
func (r *Recorder) Record(e meta.AuditEvent) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- e:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the queue was full.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Close writes what is queued and stops.
func (r *Recorder) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
	r.mu.Unlock()
	<-r.done
}

func (r *Recorder) loop() {
	defer close(r.done)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	var batch []meta.AuditEvent
	for {
		select {
		case e, ok := <-r.ch:
			if !ok {
				r.flush(batch)
				return
			}
			batch = append(batch, e)
			if len(batch) >= batchMax {
				batch = r.flush(batch)
			}
		case <-tick.C:
			batch = r.flush(batch)
			if n := r.dropped.Swap(0); n > 0 {
				r.log.Warn("audit events dropped: the queue was full", "count", n)
			}
		}
	}
}

func (r *Recorder) flush(batch []meta.AuditEvent) []meta.AuditEvent {
	if len(batch) == 0 {
		return batch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pulls := pullCounts(batch)
	if err := r.store.UpdateAsync(ctx, func(tx meta.Tx) error {
		if err := tx.AppendAudit(batch...); err != nil {
			return err
		}
		if err := tx.RecordPulls(pulls); err != nil {
			return err
		}
		return appendPullEvents(tx, batch)
	}); err != nil {
		r.log.Error("audit events not recorded", "count", len(batch), "err", err)
	}
	return batch[:0]
}

// appendPullEvents writes an outbox event per pull of the batch for the
// webhook endpoints that want it (one per pull, as registry:2 notifies);
// none at all while no enabled endpoint subscribes to pulls, so that the
// outbox grows with pulls only when someone listens.
func appendPullEvents(tx meta.Tx, batch []meta.AuditEvent) error {
	hooks, err := tx.AllWebhooks()
	if err != nil {
		return err
	}
	hooks = slices.DeleteFunc(hooks, func(w meta.Webhook) bool { return !w.Enabled || !w.WantsType(meta.EventPull) })
	if len(hooks) == 0 {
		return nil
	}
	for _, e := range batch {
		if e.Action != meta.ActionPull || e.Digest == "" {
			continue
		}
		if !slices.ContainsFunc(hooks, func(w meta.Webhook) bool { return w.Wants(meta.Event{Kind: meta.EventPull, Repo: e.Repo}) }) {
			continue
		}
		ev := meta.Event{Kind: meta.EventPull, Repo: e.Repo, Digest: digest.Digest(e.Digest), Tag: e.Tag, CreatedAt: e.At, Actor: e.Actor, Addr: e.Addr}
		if err := tx.AppendEvent(ev); err != nil {
			return err
		}
	}
	return nil
}

// pullCounts sums the batch's pulls per repository, manifest and tag: the
// pull statistics retention and the API read, written with the batch.
func pullCounts(batch []meta.AuditEvent) []meta.PullCount {
	type key struct{ repo, digest, tag string }
	idx := map[key]int{}
	var out []meta.PullCount
	for _, e := range batch {
		if e.Action != meta.ActionPull || e.Digest == "" {
			continue
		}
		k := key{e.Repo, e.Digest, e.Tag}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, meta.PullCount{Repo: e.Repo, Digest: digest.Digest(e.Digest), Tag: e.Tag})
		}
		out[i].Pulls++
		if e.At.After(out[i].Last) {
			out[i].Last = e.At
		}
	}
	return out
}

// Purge deletes events older than retention.
func Purge(ctx context.Context, store meta.Store, retention time.Duration, now time.Time) (int, error) {
	n := 0
	err := store.Update(ctx, func(tx meta.Tx) error {
		var err error
		n, err = tx.DeleteAuditBefore(now.Add(-retention))
		return err
	})
	return n, err
}
