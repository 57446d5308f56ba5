package metatest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var tagTests = []test{
	{"put, replace and resolve", func(t *testing.T, s meta.Store) {
		m1, m2 := manifest("one"), manifest("two")
		putManifests(t, s, "repo", m1, m2)
		steps := []struct {
			name     string
			tag      string
			d        digest.Digest
			previous digest.Digest
		}{
			{"new tag", "latest", m1.Digest, ""},
			{"same digest again", "latest", m1.Digest, m1.Digest},
			{"move", "latest", m2.Digest, m1.Digest},
			{"second tag", "v2", m2.Digest, ""},
			{"move back", "latest", m1.Digest, m2.Digest},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				update(t, s, func(tx meta.Tx) error {
					prev, err := tx.PutTag("repo", st.tag, st.d)
					if prev != st.previous {
						t.Errorf("PutTag(%s, %s) previous = %q, want %q", st.tag, st.d, prev, st.previous)
					}
					return err
				})
				view(t, s, func(r meta.Reader) error {
					got, err := r.Tag("repo", st.tag)
					if got != st.d {
						t.Errorf("Tag(%s) = %q, want %q", st.tag, got, st.d)
					}
					return err
				})
			})
		}
		view(t, s, func(r meta.Reader) error {
			got, err := r.ManifestByTag("repo", "latest")
			if err != nil {
				return err
			}
			sameManifest(t, "ManifestByTag", got, m1, true)
			_, err = r.ManifestByTag("repo", "nope")
			wantNotFound(t, "ManifestByTag of an absent tag", err)
			_, err = r.ManifestByTag("other", "latest")
			wantNotFound(t, "ManifestByTag in an absent repository", err)
			_, err = r.Tag("repo", "nope")
			wantNotFound(t, "Tag of an absent tag", err)
			return nil
		})
	}},
	{"manifest must exist in the repository", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		putManifests(t, s, "repo", m)
		for _, c := range []struct{ repo, d string }{{"repo", "absent"}, {"other", ""}} {
			d := m.Digest
			if c.d != "" {
				d = dg(c.d)
			}
			err := s.Update(ctx(t), func(tx meta.Tx) error {
				_, err := tx.PutTag(c.repo, "latest", d)
				return err
			})
			wantNotFound(t, fmt.Sprintf("PutTag(%s, %s)", c.repo, d), err)
		}
		view(t, s, func(r meta.Reader) error {
			tags, err := r.ListTags("repo", "", 0)
			if len(tags) != 0 {
				t.Errorf("ListTags = %q after failed PutTag, want none", tags)
			}
			return err
		})
	}},
	{"delete", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		putManifests(t, s, "repo", m)
		update(t, s, func(tx meta.Tx) error {
			for _, tag := range []string{"a", "b"} {
				if _, err := tx.PutTag("repo", tag, m.Digest); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteTag("repo", "a") })
		view(t, s, func(r meta.Reader) error {
			_, err := r.Tag("repo", "a")
			wantNotFound(t, "Tag after DeleteTag", err)
			if _, err := r.Manifest("repo", m.Digest); err != nil {
				t.Errorf("DeleteTag removed the manifest: %v", err)
			}
			tags, err := r.TagsOf("repo", m.Digest)
			if !slices.Equal(tags, []string{"b"}) {
				t.Errorf("TagsOf after DeleteTag = %q, want [b]", tags)
			}
			return err
		})
		for _, c := range []struct{ repo, tag string }{{"repo", "a"}, {"repo", "never"}, {"nope", "b"}} {
			err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.DeleteTag(c.repo, c.tag) })
			wantNotFound(t, fmt.Sprintf("DeleteTag(%s, %s)", c.repo, c.tag), err)
		}
	}},
	{"list and pagination", func(t *testing.T, s meta.Store) {
		m := manifest("one")
		tags := []string{"v1.10", "latest", "v1.9", "V2", "v1", "1.0", "_x", "v1-rc", "v1.1"}
		putManifests(t, s, "repo", m)
		putManifests(t, s, "other", m)
		update(t, s, func(tx meta.Tx) error {
			for _, tag := range tags {
				if _, err := tx.PutTag("repo", tag, m.Digest); err != nil {
					return err
				}
			}
			_, err := tx.PutTag("other", "zzz", m.Digest)
			return err
		})
		sorted := slices.Clone(tags)
		slices.Sort(sorted)
		cases := []struct {
			repo, last string
			n          int
			want       []string
		}{
			{"repo", "", 0, sorted},
			{"repo", "", -5, sorted},
			{"repo", "", 2, []string{"1.0", "V2"}},
			{"repo", "V2", 2, []string{"_x", "latest"}},
			{"repo", "v1", 0, []string{"v1-rc", "v1.1", "v1.10", "v1.9"}},
			{"repo", "v1.0", 1, []string{"v1.1"}}, // last need not exist
			{"repo", "v1.9", 3, nil},
			{"other", "", 0, []string{"zzz"}},
			{"absent", "", 0, nil},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s,last=%q,n=%d", c.repo, c.last, c.n), func(t *testing.T) {
				view(t, s, func(r meta.Reader) error {
					got, err := r.ListTags(c.repo, c.last, c.n)
					if !slices.Equal(got, c.want) {
						t.Errorf("ListTags = %q, want %q", got, c.want)
					}
					return err
				})
			})
		}
	}},
	{"tags of a manifest", func(t *testing.T, s meta.Store) {
		m1, m2 := manifest("one"), manifest("two")
		putManifests(t, s, "repo", m1, m2)
		putManifests(t, s, "other", m1)
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []struct{ repo, tag string }{{"repo", "b"}, {"repo", "a"}, {"repo", "C"}, {"other", "x"}} {
				if _, err := tx.PutTag(p.repo, p.tag, m1.Digest); err != nil {
					return err
				}
			}
			_, err := tx.PutTag("repo", "two", m2.Digest)
			return err
		})
		cases := []struct {
			repo string
			d    digest.Digest
			want []string
		}{
			{"repo", m1.Digest, []string{"C", "a", "b"}},
			{"repo", m2.Digest, []string{"two"}},
			{"other", m1.Digest, []string{"x"}},
			{"other", m2.Digest, nil},
			{"repo", dg("absent"), nil},
		}
		for _, c := range cases {
			view(t, s, func(r meta.Reader) error {
				got, err := r.TagsOf(c.repo, c.d)
				if !slices.Equal(got, c.want) {
					t.Errorf("TagsOf(%s, %.19s) = %q, want %q", c.repo, c.d, got, c.want)
				}
				return err
			})
		}
	}},
}
