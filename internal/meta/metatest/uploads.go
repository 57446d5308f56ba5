package metatest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func sameUpload(t *testing.T, what string, got, want meta.Upload) {
	t.Helper()
	if got.ID != want.ID || got.Repo != want.Repo || got.Algorithm != want.Algorithm || got.Offset != want.Offset ||
		!bytes.Equal(got.HashState, want.HashState) || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 987654321, time.UTC)

var uploadTests = []test{
	{"count", func(t *testing.T, s meta.Store) {
		count := func() int {
			t.Helper()
			n := -1
			view(t, s, func(r meta.Reader) (err error) { n, err = r.CountUploads(); return err })
			return n
		}
		if n := count(); n != 0 {
			t.Fatalf("CountUploads of an empty store = %d", n)
		}
		update(t, s, func(tx meta.Tx) error {
			for _, id := range []string{"a", "b", "c"} {
				if err := tx.CreateUpload(meta.Upload{ID: id, Repo: "r", Algorithm: "sha256", CreatedAt: t0, UpdatedAt: t0}); err != nil {
					return err
				}
			}
			return tx.DeleteUpload("b")
		})
		if n := count(); n != 2 {
			t.Fatalf("CountUploads = %d, want 2", n)
		}
	}},
	{"create, update, delete", func(t *testing.T, s meta.Store) {
		u := meta.Upload{ID: "0b7c4a2e-session", Repo: "library/alpine", Algorithm: digest.SHA256,
			HashState: []byte{0, 1, 2, 0xfe, 0xff}, CreatedAt: t0, UpdatedAt: t0}
		update(t, s, func(tx meta.Tx) error { return tx.CreateUpload(u) })
		view(t, s, func(r meta.Reader) error {
			got, err := r.Upload(u.ID)
			if err == nil {
				sameUpload(t, "Upload after create", got, u)
			}
			return err
		})

		u.Offset, u.HashState, u.UpdatedAt = 1<<33, bytes.Repeat([]byte{7}, 300), t0.Add(time.Minute)
		changed := u
		changed.Repo, changed.CreatedAt = "ignored", t0.Add(time.Hour) // only offset, state and UpdatedAt are saved
		update(t, s, func(tx meta.Tx) error { return tx.UpdateUpload(changed) })
		view(t, s, func(r meta.Reader) error {
			got, err := r.Upload(u.ID)
			if err == nil {
				sameUpload(t, "Upload after update", got, u)
			}
			return err
		})

		update(t, s, func(tx meta.Tx) error { return tx.DeleteUpload(u.ID) })
		view(t, s, func(r meta.Reader) error {
			_, err := r.Upload(u.ID)
			wantNotFound(t, "Upload after delete", err)
			return nil
		})
		err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.DeleteUpload(u.ID) })
		wantNotFound(t, "DeleteUpload of a deleted upload", err)
		err = s.Update(ctx(t), func(tx meta.Tx) error { return tx.UpdateUpload(u) })
		wantNotFound(t, "UpdateUpload of a deleted upload", err)
	}},
	{"empty hash state and default times", func(t *testing.T, s meta.Store) {
		u := meta.Upload{ID: "fresh", Repo: "r", Algorithm: digest.SHA512}
		update(t, s, func(tx meta.Tx) error { return tx.CreateUpload(u) })
		view(t, s, func(r meta.Reader) error {
			got, err := r.Upload("fresh")
			if err != nil {
				return err
			}
			if got.Offset != 0 || len(got.HashState) != 0 || got.Algorithm != digest.SHA512 || !near(got.CreatedAt) || !near(got.UpdatedAt) {
				t.Errorf("Upload = %+v, want offset 0, no state, sha512, times about now", got)
			}
			return nil
		})
	}},
	{"duplicate id", func(t *testing.T, s meta.Store) {
		u := meta.Upload{ID: "dup", Repo: "r", Algorithm: digest.SHA256, CreatedAt: t0, UpdatedAt: t0}
		update(t, s, func(tx meta.Tx) error { return tx.CreateUpload(u) })
		other := u
		other.Repo = "elsewhere"
		if err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.CreateUpload(other) }); err == nil {
			t.Errorf("CreateUpload with an existing id succeeded")
		}
		view(t, s, func(r meta.Reader) error {
			got, err := r.Upload("dup")
			if err == nil {
				sameUpload(t, "Upload after failed duplicate create", got, u)
			}
			return err
		})
	}},
	{"ended sessions", func(t *testing.T, s meta.Store) {
		ended := func(id string) bool {
			t.Helper()
			var e bool
			view(t, s, func(r meta.Reader) (err error) { e, err = r.UploadEnded(id); return err })
			return e
		}
		if ended("a1") {
			t.Fatalf("UploadEnded of an unknown id = true")
		}
		update(t, s, func(tx meta.Tx) error {
			for _, id := range []string{"b2", "a1", "B0", "c3"} {
				if err := tx.EndUpload(id); err != nil {
					return err
				}
			}
			return tx.EndUpload("a1") // again: no error
		})
		for _, id := range []string{"a1", "b2", "B0", "c3"} {
			if !ended(id) {
				t.Errorf("UploadEnded(%q) = false after EndUpload", id)
			}
		}
		if ended("A1") || ended("a") {
			t.Errorf("UploadEnded of ids never ended = true")
		}
		purge := func(before string, max int) int {
			t.Helper()
			var n int
			update(t, s, func(tx meta.Tx) (err error) { n, err = tx.DeleteUploadEndsBefore(before, max); return err })
			return n
		}
		if n := purge("B0", 10); n != 0 {
			t.Errorf("DeleteUploadEndsBefore(B0) deleted %d, want 0", n)
		}
		// Bytewise: "B0" < "a1" < "b2" < "b3" < "c3"; at most 1, lowest first.
		if n := purge("b3", 1); n != 1 || ended("B0") || !ended("a1") {
			t.Errorf("DeleteUploadEndsBefore(b3, 1) deleted %d (B0 left: %v, a1 left: %v), want 1: B0", n, ended("B0"), ended("a1"))
		}
		if n := purge("b3", 10); n != 2 {
			t.Errorf("DeleteUploadEndsBefore(b3, 10) deleted %d, want 2 (a1, b2)", n)
		}
		if ended("B0") || ended("a1") || ended("b2") || !ended("c3") {
			t.Errorf("after the purge UploadEnded B0, a1, b2, c3 = %v, %v, %v, %v; want false, false, false, true",
				ended("B0"), ended("a1"), ended("b2"), ended("c3"))
		}
	}},
	{"missing", func(t *testing.T, s meta.Store) {
		view(t, s, func(r meta.Reader) error {
			_, err := r.Upload("nope")
			wantNotFound(t, "Upload", err)
			return nil
		})
	}},
	{"updated before", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			for i, id := range []string{"c", "a", "b", "d"} {
				at := t0.Add(time.Duration(i) * time.Hour)
				if id == "d" {
					at = t0 // same time as "c": ordered by id
				}
				if err := tx.CreateUpload(meta.Upload{ID: id, Repo: "r", Algorithm: digest.SHA256, CreatedAt: at, UpdatedAt: at}); err != nil {
					return err
				}
			}
			return nil
		})
		cases := []struct {
			name   string
			before time.Time
			want   []string
		}{
			{"none", t0, nil},
			{"just after the first", t0.Add(time.Nanosecond), []string{"c", "d"}},
			{"two hours", t0.Add(2 * time.Hour), []string{"c", "d", "a"}},
			{"all", t0.Add(24 * time.Hour), []string{"c", "d", "a", "b"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(r meta.Reader) error {
					us, err := r.UploadsUpdatedBefore(c.before)
					var ids []string
					for _, u := range us {
						ids = append(ids, u.ID)
					}
					if !slices.Equal(ids, c.want) {
						t.Errorf("UploadsUpdatedBefore(%v) = %q, want %q", c.before, ids, c.want)
					}
					return err
				})
			})
		}
	}},
}

var eventTests = []test{
	{"purge: events up to an ID and older than a time go", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			for i := range 5 {
				if err := tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "r", CreatedAt: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
					return err
				}
			}
			return nil
		})
		var all []meta.Event
		view(t, s, func(r meta.Reader) (err error) { all, err = r.EventsAfter(0, 0); return err })
		update(t, s, func(tx meta.Tx) error {
			// Up to the 4th, created before the 3rd: the first two.
			n, err := tx.DeleteEventsBefore(all[3].ID, t0.Add(2*time.Hour))
			if err == nil && n != 2 {
				t.Errorf("DeleteEventsBefore removed %d, want 2", n)
			}
			return err
		})
		var left []meta.Event
		view(t, s, func(r meta.Reader) (err error) { left, err = r.EventsAfter(0, 0); return err })
		if len(left) != 3 || left[0].ID != all[2].ID {
			t.Errorf("events left = %+v, want from ID %d", left, all[2].ID)
		}
	}},
	{"append and read in order", func(t *testing.T, s meta.Store) {
		evs := []meta.Event{
			{Kind: "manifest.push", Repo: "r", Digest: dg("m1"), Tag: "latest", MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 512, CreatedAt: t0, Actor: "alice", Addr: "192.0.2.7"},
			{Kind: "tag.delete", Repo: "r", Tag: "old", CreatedAt: t0.Add(time.Second)},
			{Kind: "manifest.delete", Repo: "r", Digest: dg("m0"), CreatedAt: t0.Add(2 * time.Second)},
			{Kind: "blob.delete", Repo: "q", Digest: dg("b"), Size: 99, CreatedAt: t0.Add(3 * time.Second)},
			{Kind: "manifest.push", Repo: "q", Digest: dg("m2"), CreatedAt: t0.Add(4 * time.Second)},
		}
		update(t, s, func(tx meta.Tx) error {
			for _, e := range evs[:2] {
				if err := tx.AppendEvent(e); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			for _, e := range evs[2:] {
				if err := tx.AppendEvent(e); err != nil {
					return err
				}
			}
			return nil
		})
		var all []meta.Event
		view(t, s, func(r meta.Reader) (err error) { all, err = r.EventsAfter(0, 0); return err })
		if len(all) != len(evs) {
			t.Fatalf("EventsAfter(0, 0) returned %d events, want %d", len(all), len(evs))
		}
		for i, got := range all {
			want := evs[i]
			want.ID = got.ID
			if !got.CreatedAt.Equal(want.CreatedAt) || got.Kind != want.Kind || got.Repo != want.Repo || got.Digest != want.Digest ||
				got.Tag != want.Tag || got.MediaType != want.MediaType || got.Size != want.Size || got.Actor != want.Actor || got.Addr != want.Addr {
				t.Errorf("event %d = %+v, want %+v", i, got, want)
			}
			if got.ID <= 0 || (i > 0 && got.ID <= all[i-1].ID) {
				t.Errorf("event %d has ID %d, want positive and increasing", i, got.ID)
			}
		}
		cases := []struct {
			name  string
			after int64
			n     int
			want  []meta.Event
		}{
			{"first two", 0, 2, all[:2]},
			{"after the second", all[1].ID, 2, all[2:4]},
			{"rest unlimited", all[1].ID, 0, all[2:]},
			{"after the last", all[4].ID, 0, nil},
			{"negative limit", all[3].ID, -1, all[4:]},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				view(t, s, func(r meta.Reader) error {
					got, err := r.EventsAfter(c.after, c.n)
					if len(got) != len(c.want) {
						t.Fatalf("EventsAfter(%d, %d) returned %d events, want %d", c.after, c.n, len(got), len(c.want))
					}
					for i := range got {
						if got[i].ID != c.want[i].ID || got[i].Kind != c.want[i].Kind {
							t.Errorf("event %d = %+v, want %+v", i, got[i], c.want[i])
						}
					}
					return err
				})
			})
		}
	}},
	{"default time", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error { return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "r"}) })
		view(t, s, func(r meta.Reader) error {
			got, err := r.EventsAfter(0, 0)
			if len(got) != 1 || !near(got[0].CreatedAt) {
				t.Errorf("EventsAfter = %+v, want one event created about now", got)
			}
			return err
		})
	}},
}
