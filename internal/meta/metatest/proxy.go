package metatest

import (
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var proxyTests = []test{
	{"proxy projects: put, change, list, delete, go with the project", func(t *testing.T, s meta.Store) {
		created := time.Unix(1700000000, 0).UTC()
		hub := meta.Proxy{Project: "hub", URL: "https://registry-1.docker.io", Username: "me", Password: []byte("sb1:xyz"),
			TTL: 5 * time.Minute, CreatedAt: created}
		quay := meta.Proxy{Project: "quay", URL: "https://quay.io", Insecure: true, CACert: "-----BEGIN CERTIFICATE-----", Password: []byte{}, CreatedAt: created}
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []string{"hub", "quay", "plain"} {
				if err := tx.CreateProject(meta.Project{Name: p}); err != nil {
					return err
				}
			}
			wantNotFound(t, "PutProxy of a missing project", tx.PutProxy(meta.Proxy{Project: "nope", URL: "https://x"}))
			if err := tx.PutProxy(quay); err != nil {
				return err
			}
			hub2 := hub
			hub2.URL = "https://old.example"
			if err := tx.PutProxy(hub2); err != nil {
				return err
			}
			return tx.PutProxy(hub) // a change
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.Proxy("hub")
			if err != nil {
				return err
			}
			if got.URL != hub.URL || got.Username != "me" || string(got.Password) != "sb1:xyz" || got.TTL != hub.TTL || !got.CreatedAt.Equal(created) || got.Insecure {
				t.Errorf("Proxy(hub) = %+v, want %+v", got, hub)
			}
			_, err = r.Proxy("plain")
			wantNotFound(t, "Proxy of a plain project", err)
			all, err := r.ListProxies()
			if err != nil {
				return err
			}
			if len(all) != 2 || all[0].Project != "hub" || all[1].Project != "quay" || !all[1].Insecure || all[1].CACert != quay.CACert {
				t.Errorf("ListProxies = %+v", all)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteProxy("quay"); err != nil {
				return err
			}
			wantNotFound(t, "DeleteProxy twice", tx.DeleteProxy("quay"))
			return tx.DeleteProject("hub")
		})
		view(t, s, func(r meta.Reader) error {
			all, err := r.ListProxies()
			if err != nil {
				return err
			}
			if len(all) != 0 {
				t.Errorf("ListProxies after deletes = %+v", all)
			}
			return nil
		})
	}},
	{"proxy tag checks: zero until set, then the last time set", func(t *testing.T, s meta.Store) {
		at := time.Unix(1700000000, 5).UTC()
		putManifests(t, s, "hub/library/nginx", manifest("a"))
		view(t, s, func(r meta.Reader) error {
			got, err := r.ProxyTagChecked("hub/library/nginx", "latest")
			if err != nil || !got.IsZero() {
				t.Errorf("ProxyTagChecked before = %v, %v; want zero", got, err)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.SetProxyTagChecked("hub/library/nginx", "latest", at.Add(-time.Hour)); err != nil {
				return err
			}
			wantNotFound(t, "SetProxyTagChecked in a missing repository", tx.SetProxyTagChecked("hub/none", "latest", at))
			return tx.SetProxyTagChecked("hub/library/nginx", "latest", at)
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.ProxyTagChecked("hub/library/nginx", "latest")
			if err != nil || !got.Equal(at) {
				t.Errorf("ProxyTagChecked = %v, %v; want %v", got, err, at)
			}
			return nil
		})
	}},
	{"usage: a blob counted before it was linked gets its size when linked", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error { return tx.CreateProject(meta.Project{Name: "hub"}) })
		m := manifest("cached")
		layer := ublob("cached-layer", 1000)
		// The cache stores the manifest first (its blob not there yet).
		update(t, s, func(tx meta.Tx) error {
			return tx.PutManifest("hub/app", m, meta.Refs{Blobs: []digest.Digest{layer.d}})
		})
		wantUsage(t, s, map[string]int64{"hub": m.Size})
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("hub/app", layer.d, layer.size) })
		wantUsage(t, s, map[string]int64{"hub": m.Size + layer.size})
		// Linking again (another repository of the project) counts nothing more.
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("hub/other", layer.d, layer.size) })
		wantUsage(t, s, map[string]int64{"hub": m.Size + layer.size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("hub/app", m.Digest) })
		wantUsage(t, s, map[string]int64{"hub": 0})
	}},
}
