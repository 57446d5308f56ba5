package metatest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// repoNames are chosen so that byte order differs from case-insensitive,
// natural and locale orders.
var repoNames = []string{"b", "a/b", "a", "B", "a-b", "a0", "z", "a/b/c", "é", "ab", "Z9", "a_b"}

var repoTests = []test{
	{"missing", func(t *testing.T, s meta.Store) {
		view(t, s, func(r meta.Reader) error {
			_, err := r.Repository("nope")
			wantNotFound(t, "Repository", err)
			return nil
		})
	}},
	{"ensure is idempotent", func(t *testing.T, s meta.Store) {
		before := time.Now()
		update(t, s, func(tx meta.Tx) error { return tx.EnsureRepository("library/alpine") })
		var first meta.Repository
		view(t, s, func(r meta.Reader) (err error) { first, err = r.Repository("library/alpine"); return err })
		if first.Name != "library/alpine" || !near(first.CreatedAt) || first.CreatedAt.Before(before.Add(-time.Second)) {
			t.Fatalf("Repository = %+v, want name library/alpine created about now", first)
		}
		update(t, s, func(tx meta.Tx) error { return tx.EnsureRepository("library/alpine") })
		view(t, s, func(r meta.Reader) error {
			again, err := r.Repository("library/alpine")
			if err != nil {
				return err
			}
			if !again.CreatedAt.Equal(first.CreatedAt) {
				t.Errorf("CreatedAt changed on second EnsureRepository: %v -> %v", first.CreatedAt, again.CreatedAt)
			}
			names, err := r.ListRepositories("", 0)
			if !slices.Equal(names, []string{"library/alpine"}) {
				t.Errorf("ListRepositories = %q, want one repository", names)
			}
			return err
		})
	}},
	{"created by LinkBlob and PutManifest", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			if err := tx.LinkBlob("by/blob", dg("layer"), 5); err != nil {
				return err
			}
			return tx.PutManifest("by/manifest", manifest("m"), meta.Refs{})
		})
		view(t, s, func(r meta.Reader) error {
			for _, name := range []string{"by/blob", "by/manifest"} {
				if _, err := r.Repository(name); err != nil {
					t.Errorf("Repository(%q): %v", name, err)
				}
			}
			return nil
		})
	}},
	{"list order and pagination", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			for _, n := range repoNames {
				if err := tx.EnsureRepository(n); err != nil {
					return err
				}
			}
			return nil
		})
		sorted := slices.Clone(repoNames)
		slices.Sort(sorted) // Go string order = byte order
		cases := []struct {
			last string
			n    int
			want []string
		}{
			{"", 0, sorted},
			{"", -1, sorted},
			{"", 3, []string{"B", "Z9", "a"}},
			{"a", 3, []string{"a-b", "a/b", "a/b/c"}},
			{"a/b/c", 0, []string{"a0", "a_b", "ab", "b", "z", "é"}},
			{"a1", 2, []string{"a_b", "ab"}}, // last need not exist
			{"z", 5, []string{"é"}},
			{"é", 0, nil},
			{"\U0010ffff", 1, nil},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("last=%q,n=%d", c.last, c.n), func(t *testing.T) {
				view(t, s, func(r meta.Reader) error {
					got, err := r.ListRepositories(c.last, c.n)
					if err != nil {
						return err
					}
					if !slices.Equal(got, c.want) {
						t.Errorf("ListRepositories(%q, %d) = %q, want %q", c.last, c.n, got, c.want)
					}
					return nil
				})
			})
		}
		t.Run("walk pages of 5", func(t *testing.T) {
			var all []string
			last := ""
			for range len(repoNames) + 1 {
				var page []string
				view(t, s, func(r meta.Reader) (err error) { page, err = r.ListRepositories(last, 5); return err })
				if len(page) == 0 {
					break
				}
				all = append(all, page...)
				last = page[len(page)-1]
			}
			if !slices.Equal(all, sorted) {
				t.Errorf("pages = %q, want %q", all, sorted)
			}
		})
	}},
}

var blobTests = []test{
	{"link time: set by linking, refreshed by linking again and by touching", func(t *testing.T, s meta.Store) {
		d := dg("blob")
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("team/app", d, 7) })
		var first meta.BlobLink
		view(t, s, func(r meta.Reader) error {
			var err error
			first, err = r.BlobLinkInfo("team/app", d)
			if err == nil && (first.Size != 7 || first.Digest != d || !near(first.LinkedAt)) {
				t.Errorf("BlobLinkInfo = %+v", first)
			}
			_, err2 := r.BlobLinkInfo("team/other", d)
			wantNotFound(t, "BlobLinkInfo of an unlinked repository", err2)
			return err
		})
		past := time.Unix(1600000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "TouchBlobLink of a missing link", tx.TouchBlobLink("team/other", d, past))
			return tx.TouchBlobLink("team/app", d, past)
		})
		view(t, s, func(r meta.Reader) error {
			l, err := r.BlobLinkInfo("team/app", d)
			if err == nil && !l.LinkedAt.Equal(past) {
				t.Errorf("after TouchBlobLink LinkedAt = %v, want %v", l.LinkedAt, past)
			}
			return err
		})
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("team/app", d, 7) })
		view(t, s, func(r meta.Reader) error {
			l, err := r.BlobLinkInfo("team/app", d)
			if err == nil && !near(l.LinkedAt) {
				t.Errorf("linking again left LinkedAt at %v", l.LinkedAt)
			}
			return err
		})
	}},
	{"link and look up", func(t *testing.T, s meta.Store) {
		d := dg("layer-1")
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("r1", d, 1234) })
		view(t, s, func(r meta.Reader) error {
			size, err := r.BlobLink("r1", d)
			if err != nil || size != 1234 {
				t.Errorf("BlobLink = %d, %v; want 1234, nil", size, err)
			}
			_, err = r.BlobLink("r2", d)
			wantNotFound(t, "BlobLink in a repository without the link", err)
			_, err = r.BlobLink("r1", dg("other"))
			wantNotFound(t, "BlobLink of an unlinked digest", err)
			return nil
		})
	}},
	{"link twice", func(t *testing.T, s meta.Store) {
		d := dg("layer")
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("r", d, 10) })
		update(t, s, func(tx meta.Tx) error {
			if err := tx.LinkBlob("r", d, 10); err != nil {
				t.Errorf("second LinkBlob: %v", err)
			}
			return tx.LinkBlob("r", d, 10)
		})
		view(t, s, func(r meta.Reader) error {
			size, err := r.BlobLink("r", d)
			if err != nil || size != 10 {
				t.Errorf("BlobLink = %d, %v; want 10, nil", size, err)
			}
			repos, err := r.ReposWithBlob(d, 0)
			if !slices.Equal(repos, []string{"r"}) {
				t.Errorf("ReposWithBlob = %q, want [r]", repos)
			}
			return err
		})
	}},
	{"unlink", func(t *testing.T, s meta.Store) {
		d := dg("layer")
		update(t, s, func(tx meta.Tx) error {
			if err := tx.LinkBlob("r", d, 1); err != nil {
				return err
			}
			return tx.LinkBlob("other", d, 1)
		})
		update(t, s, func(tx meta.Tx) error { return tx.UnlinkBlob("r", d) })
		view(t, s, func(r meta.Reader) error {
			_, err := r.BlobLink("r", d)
			wantNotFound(t, "BlobLink after UnlinkBlob", err)
			if _, err := r.BlobLink("other", d); err != nil {
				t.Errorf("UnlinkBlob removed the link of another repository: %v", err)
			}
			return nil
		})
		for _, c := range []struct{ repo, d string }{{"r", "layer"}, {"nope", "layer"}, {"other", "never"}} {
			err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.UnlinkBlob(c.repo, dg(c.d)) })
			wantNotFound(t, fmt.Sprintf("UnlinkBlob(%s, %s)", c.repo, c.d), err)
		}
	}},
	{"repos with blob", func(t *testing.T, s meta.Store) {
		d := dg("shared")
		update(t, s, func(tx meta.Tx) error {
			for _, r := range []string{"c", "a", "b/x", "b"} {
				if err := tx.LinkBlob(r, d, 7); err != nil {
					return err
				}
			}
			return tx.LinkBlob("z", dg("unrelated"), 1)
		})
		cases := []struct {
			d     string
			limit int
			want  []string
		}{
			{"shared", 0, []string{"a", "b", "b/x", "c"}},
			{"shared", -1, []string{"a", "b", "b/x", "c"}},
			{"shared", 2, []string{"a", "b"}},
			{"shared", 10, []string{"a", "b", "b/x", "c"}},
			{"unrelated", 0, []string{"z"}},
			{"absent", 0, nil},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s,limit=%d", c.d, c.limit), func(t *testing.T) {
				view(t, s, func(r meta.Reader) error {
					got, err := r.ReposWithBlob(dg(c.d), c.limit)
					if !slices.Equal(got, c.want) {
						t.Errorf("ReposWithBlob = %q, want %q", got, c.want)
					}
					return err
				})
			})
		}
	}},
}
