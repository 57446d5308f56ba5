package app

import (
	"context"
	"math"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
)

// outboxKeep is how long an event stays in the outbox once every consumer
// is past it: for a look at what happened, and slack for consumers.
const outboxKeep = 24 * time.Hour

// outboxPurgeLoop removes, every hour, the outbox events that every
// webhook endpoint (enabled or not: a disabled one catches up when enabled
// again) and every enabled event-triggered replication policy has passed
// and the scanner (when it runs) has read, and that are older than
// outboxKeep.
func (a *App) outboxPurgeLoop(ctx context.Context) {
	jobs.New(a.meta, a.log).Every(ctx, "purge-outbox", time.Hour, func(ctx context.Context) error {
		n, err := purgeOutbox(ctx, a.meta, time.Now(), a.cfg.Scan.Enabled)
		if n > 0 {
			a.log.Info("purged delivered outbox events", "count", n)
		}
		return err
	})
}

func purgeOutbox(ctx context.Context, store meta.Store, now time.Time, scanning bool) (int, error) {
	n := 0
	err := store.Update(ctx, func(tx meta.Tx) error {
		hooks, err := tx.AllWebhooks()
		if err != nil {
			return err
		}
		upTo := int64(math.MaxInt64)
		for _, w := range hooks {
			upTo = min(upTo, w.Cursor)
		}
		// Event-triggered replication policies read the outbox too.
		policies, err := tx.ListReplicationPolicies()
		if err != nil {
			return err
		}
		for _, p := range policies {
			if p.Enabled && p.OnEvent {
				upTo = min(upTo, p.Cursor)
			}
		}
		if scanning {
			c, err := tx.ScanCursor()
			if err != nil {
				return err
			}
			upTo = min(upTo, c)
		}
		n, err = tx.DeleteEventsBefore(upTo, now.Add(-outboxKeep))
		return err
	})
	return n, err
}
