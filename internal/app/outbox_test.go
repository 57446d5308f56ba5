package app

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func TestPurgeOutbox(t *testing.T) {
	a, _ := startApp(t, nil)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	events := func() []int64 {
		t.Helper()
		var ids []int64
		if err := a.meta.View(ctx, func(r meta.Reader) error {
			evs, err := r.EventsAfter(0, 0)
			for _, e := range evs {
				ids = append(ids, e.ID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	appendEvents := func(at time.Time, n int) {
		t.Helper()
		if err := a.meta.Update(ctx, func(tx meta.Tx) error {
			for range n {
				if err := tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "team/app", CreatedAt: at}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(old, 4)
	ids := events()
	var hook int64
	if err := a.meta.Update(ctx, func(tx meta.Tx) error { // starts at the newest event: ids[3]
		var err error
		hook, err = tx.AddWebhook(meta.Webhook{URL: "http://127.0.0.1:1/", Events: []string{meta.WebhookAll}, Format: meta.WebhookFormatRegistry, Secret: []byte("s")})
		if err != nil {
			return err
		}
		return tx.SetWebhookEnabled(hook, false) // a disabled endpoint holds its place too
	}); err != nil {
		t.Fatal(err)
	}
	appendEvents(old, 2)        // old but not delivered: kept
	appendEvents(time.Now(), 1) // recent: kept
	// The scanner has read nothing yet: it holds every event.
	if n, err := purgeOutbox(ctx, a.meta, time.Now(), true); err != nil || n != 0 {
		t.Fatalf("purge before the scanner read = %d, %v; want 0", n, err)
	}
	if err := a.meta.Update(ctx, func(tx meta.Tx) error { return tx.AdvanceScanCursor(1 << 40) }); err != nil {
		t.Fatal(err)
	}
	n, err := purgeOutbox(ctx, a.meta, time.Now(), true)
	if err != nil || n != 4 {
		t.Fatalf("purge = %d, %v; want the 4 old events the endpoint is past", n, err)
	}
	if got := events(); len(got) != 3 || got[0] <= ids[3] {
		t.Fatalf("events left = %v, want the 3 after %d", got, ids[3])
	}
	if err := a.meta.Update(ctx, func(tx meta.Tx) error { return tx.DeleteWebhook(hook) }); err != nil {
		t.Fatal(err)
	}
	if n, err := purgeOutbox(ctx, a.meta, time.Now(), false); err != nil || n != 2 {
		t.Fatalf("purge without endpoints = %d, %v; want the 2 old ones", n, err)
	}
	if got := events(); len(got) != 1 {
		t.Fatalf("events left = %v, want only the recent one", got)
	}
}
