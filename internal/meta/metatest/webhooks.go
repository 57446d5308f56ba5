package metatest

import (
	"reflect"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

var webhookTests = []test{
	{"webhooks: add, read, list global and per project, enable, delete, go with the project", func(t *testing.T, s meta.Store) {
		created := time.Unix(1700000000, 0).UTC()
		hooks := []meta.Webhook{
			{URL: "http://a.example/hook", Secret: []byte("sb1:sealed"), Events: []string{meta.WebhookAll}, Format: meta.WebhookFormatRegistry, Enabled: true},
			{Project: "prod", URL: "http://b.example/", Secret: []byte("s"), Events: []string{meta.WebhookPush, meta.WebhookDelete}, Format: meta.WebhookFormatCloudEvents},
			{Project: "dev", URL: "http://c.example/", Secret: []byte("t"), Events: []string{meta.WebhookPull}, Format: meta.WebhookFormatRegistry, Enabled: true},
		}
		var ids []int64
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []string{"prod", "dev"} {
				if err := tx.CreateProject(meta.Project{Name: p}); err != nil {
					return err
				}
			}
			for _, h := range hooks {
				h.CreatedAt = created
				id, err := tx.AddWebhook(h)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			_, err := tx.AddWebhook(meta.Webhook{Project: "nope", URL: "http://x/", Events: []string{"all"}, Format: "registry"})
			wantNotFound(t, "AddWebhook to a missing project", err)
			return nil
		})
		if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
			t.Fatalf("ids = %v", ids)
		}
		want := func(i int) meta.Webhook {
			w := hooks[i]
			w.ID, w.CreatedAt = ids[i], created
			return w
		}
		view(t, s, func(r meta.Reader) error {
			for i := range hooks {
				got, err := r.Webhook(ids[i])
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(got, want(i)) {
					t.Errorf("Webhook(%d) = %+v, want %+v", ids[i], got, want(i))
				}
			}
			_, err := r.Webhook(ids[2] + 100)
			wantNotFound(t, "Webhook of a missing id", err)
			for _, tc := range []struct {
				project string
				want    []int
			}{{"", []int{0}}, {"prod", []int{1}}, {"dev", []int{2}}, {"other", nil}} {
				got, err := r.ListWebhooks(tc.project)
				if err != nil {
					return err
				}
				if len(got) != len(tc.want) {
					t.Fatalf("ListWebhooks(%q) = %+v, want %d", tc.project, got, len(tc.want))
				}
				for i, j := range tc.want {
					if !reflect.DeepEqual(got[i], want(j)) {
						t.Errorf("ListWebhooks(%q)[%d] = %+v, want %+v", tc.project, i, got[i], want(j))
					}
				}
			}
			all, err := r.AllWebhooks()
			if err != nil {
				return err
			}
			if len(all) != 3 || all[0].ID != ids[0] || all[2].ID != ids[2] {
				t.Errorf("AllWebhooks = %+v", all)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.SetWebhookEnabled(ids[1], true); err != nil {
				return err
			}
			wantNotFound(t, "SetWebhookEnabled of a missing id", tx.SetWebhookEnabled(ids[2]+100, true))
			if err := tx.DeleteWebhook(ids[0]); err != nil {
				return err
			}
			wantNotFound(t, "DeleteWebhook again", tx.DeleteWebhook(ids[0]))
			return tx.DeleteProject("dev")
		})
		view(t, s, func(r meta.Reader) error {
			all, err := r.AllWebhooks()
			if err != nil {
				return err
			}
			if len(all) != 1 || all[0].ID != ids[1] || !all[0].Enabled {
				t.Errorf("after enable, delete and project delete: %+v", all)
			}
			return nil
		})
	}},
	{"webhooks: a new endpoint's cursor starts at the newest event and only moves forward", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			for range 3 {
				if err := tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "r"}); err != nil {
					return err
				}
			}
			return nil
		})
		var newest int64
		view(t, s, func(r meta.Reader) error {
			evs, err := r.EventsAfter(0, 0)
			if err != nil || len(evs) != 3 {
				t.Fatalf("EventsAfter = %v, %v", evs, err)
			}
			newest = evs[2].ID
			return nil
		})
		var id int64
		update(t, s, func(tx meta.Tx) error {
			var err error
			id, err = tx.AddWebhook(meta.Webhook{URL: "http://x/", Events: []string{"all"}, Format: "registry", Enabled: true})
			return err
		})
		cursor := func() int64 {
			var c int64
			view(t, s, func(r meta.Reader) error {
				w, err := r.Webhook(id)
				c = w.Cursor
				return err
			})
			return c
		}
		if c := cursor(); c != newest {
			t.Fatalf("new endpoint's cursor = %d, want the newest event %d", c, newest)
		}
		update(t, s, func(tx meta.Tx) error { return tx.AdvanceWebhookCursor(id, newest+5) })
		update(t, s, func(tx meta.Tx) error { return tx.AdvanceWebhookCursor(id, newest+2) })
		if c := cursor(); c != newest+5 {
			t.Errorf("cursor = %d, want %d (it never moves back)", c, newest+5)
		}
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "AdvanceWebhookCursor of a missing endpoint", tx.AdvanceWebhookCursor(id+100, 1))
			return nil
		})
	}},
	{"webhooks: the delivery log is newest first, pages, is pruned and goes with its endpoint", func(t *testing.T, s meta.Store) {
		var id, other int64
		update(t, s, func(tx meta.Tx) error {
			var err error
			if id, err = tx.AddWebhook(meta.Webhook{URL: "http://x/", Events: []string{"all"}, Format: "registry"}); err != nil {
				return err
			}
			other, err = tx.AddWebhook(meta.Webhook{URL: "http://y/", Events: []string{"all"}, Format: "registry"})
			return err
		})
		at := time.Unix(1700000000, 5).UTC()
		first := meta.WebhookDelivery{Webhook: id, FirstEvent: 3, LastEvent: 7, Events: 2, Attempt: 1, At: at,
			Status: 503, Error: "503 Service Unavailable", Duration: 1500 * time.Millisecond}
		total := meta.WebhookDeliveriesKept + 5
		update(t, s, func(tx meta.Tx) error {
			if err := tx.RecordWebhookDelivery(first); err != nil {
				return err
			}
			if err := tx.RecordWebhookDelivery(meta.WebhookDelivery{Webhook: other, Attempt: 1, At: at, Status: 200}); err != nil {
				return err
			}
			for i := 2; i <= total; i++ {
				d := meta.WebhookDelivery{Webhook: id, FirstEvent: 3, LastEvent: 7, Events: 2, Attempt: i, At: at, Status: 200}
				if err := tx.RecordWebhookDelivery(d); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			all, err := r.WebhookDeliveries(id, 0, 0)
			if err != nil {
				return err
			}
			if len(all) != meta.WebhookDeliveriesKept {
				t.Fatalf("%d deliveries kept, want %d", len(all), meta.WebhookDeliveriesKept)
			}
			if all[0].Attempt != total || all[len(all)-1].Attempt != total-meta.WebhookDeliveriesKept+1 {
				t.Errorf("kept attempts %d..%d, want the newest %d..%d", all[len(all)-1].Attempt, all[0].Attempt, total-meta.WebhookDeliveriesKept+1, total)
			}
			page, err := r.WebhookDeliveries(id, all[1].ID, 2)
			if err != nil {
				return err
			}
			if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
				t.Errorf("page before %d = %+v", all[1].ID, page)
			}
			o, err := r.WebhookDeliveries(other, 0, 10)
			if err != nil || len(o) != 1 || o[0].Status != 200 || o[0].Webhook != other {
				t.Errorf("other endpoint's log = %+v, %v", o, err)
			}
			return nil
		})
		// A fresh endpoint's log holds every field.
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteWebhook(other); err != nil {
				return err
			}
			var err error
			if other, err = tx.AddWebhook(meta.Webhook{URL: "http://z/", Events: []string{"all"}, Format: "registry"}); err != nil {
				return err
			}
			first.Webhook = other
			return tx.RecordWebhookDelivery(first)
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.WebhookDeliveries(other, 0, 0)
			if err != nil {
				return err
			}
			if len(got) != 1 {
				t.Fatalf("deliveries = %+v", got)
			}
			w := first
			w.ID = got[0].ID
			if got[0] != w {
				t.Errorf("delivery = %+v, want %+v", got[0], w)
			}
			return nil
		})
	}},
}
