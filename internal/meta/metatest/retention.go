package metatest

import (
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var retentionTests = []test{
	{"retention rules: add, list per project and all, delete, go with the project", func(t *testing.T, s meta.Store) {
		created := time.Unix(1700000000, 0).UTC()
		rules := []meta.RetentionRule{
			{Project: "prod", Repositories: "prod/**", Tags: "v*", Kind: meta.RetainLast, Count: 5},
			{Project: "dev", Repositories: "**", Tags: "**", Kind: meta.RemoveUntaggedAfter, Age: 7 * 24 * time.Hour},
			{Project: "prod", Repositories: "prod/app", Tags: "*", Kind: meta.RetainPulledWithin, Age: 30*24*time.Hour + time.Nanosecond},
			{Project: "prod", Repositories: "prod/app", Tags: "stable", Kind: meta.RetainTags},
		}
		var ids []int64
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []string{"prod", "dev"} {
				if err := tx.CreateProject(meta.Project{Name: p}); err != nil {
					return err
				}
			}
			for _, r := range rules {
				r.CreatedAt = created
				id, err := tx.AddRetentionRule(r)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			_, err := tx.AddRetentionRule(meta.RetentionRule{Project: "nope", Repositories: "**", Tags: "**", Kind: meta.RetainTags})
			wantNotFound(t, "AddRetentionRule to a missing project", err)
			return nil
		})
		if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(rules) {
			t.Fatalf("ids = %v", ids)
		}
		view(t, s, func(r meta.Reader) error {
			rs, err := r.RetentionRules("prod")
			if err != nil {
				return err
			}
			if len(rs) != 3 {
				t.Fatalf("rules of prod = %+v", rs)
			}
			for i, want := range []int{0, 2, 3} {
				w := rules[want]
				w.ID, w.CreatedAt = ids[want], created
				if rs[i] != w {
					t.Errorf("rule %d of prod = %+v, want %+v", i, rs[i], w)
				}
			}
			all, err := r.ListRetentionRules()
			if err != nil {
				return err
			}
			var got []int64
			for _, x := range all {
				got = append(got, x.ID)
			}
			if want := []int64{ids[1], ids[0], ids[2], ids[3]}; !slices.Equal(got, want) {
				t.Errorf("ListRetentionRules ids = %v, want %v (by project, then id)", got, want)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "deleting another project's rule", tx.DeleteRetentionRule("dev", ids[0]))
			if err := tx.DeleteRetentionRule("prod", ids[0]); err != nil {
				return err
			}
			return tx.DeleteProject("dev")
		})
		view(t, s, func(r meta.Reader) error {
			if rs, err := r.RetentionRules("prod"); err != nil || len(rs) != 2 || rs[0].ID != ids[2] {
				t.Errorf("after delete: %+v, %v", rs, err)
			}
			if rs, err := r.RetentionRules("dev"); err != nil || len(rs) != 0 {
				t.Errorf("rules of a deleted project: %+v, %v", rs, err)
			}
			return nil
		})
	}},
	{"project repositories: the project and what is below it, nothing that only starts alike", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			for _, n := range []string{"team", "team/app", "team/a/b", "team-x/app", "team.y", "teamz", "tea", "other/team"} {
				if err := tx.EnsureRepository(n); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			got, err := r.ProjectRepositories("team")
			if err != nil {
				return err
			}
			if want := []string{"team", "team/a/b", "team/app"}; !slices.Equal(got, want) {
				t.Errorf("ProjectRepositories(team) = %v, want %v", got, want)
			}
			if got, err := r.ProjectRepositories("none"); err != nil || len(got) != 0 {
				t.Errorf("ProjectRepositories(none) = %v, %v", got, err)
			}
			return nil
		})
	}},
	{"tag details and manifest summaries", func(t *testing.T, s meta.Store) {
		img, other := manifest("img"), manifest("other")
		idx := manifest("index")
		idx.MediaType = "application/vnd.oci.image.index.v1+json"
		sig := manifest("sig")
		sig.Subject = img.Digest
		cfg, layer := dg("config"), dg("layer")
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []struct {
				m    meta.Manifest
				refs meta.Refs
			}{
				{img, meta.Refs{Blobs: []digest.Digest{layer, cfg}}},
				{other, meta.Refs{Blobs: []digest.Digest{cfg}}},
				{idx, meta.Refs{Manifests: []digest.Digest{other.Digest, img.Digest}}},
				{sig, meta.Refs{}},
			} {
				if err := tx.PutManifest("team/app", p.m, p.refs); err != nil {
					return err
				}
			}
			if err := tx.PutManifest("team/elsewhere", other, meta.Refs{}); err != nil {
				return err
			}
			for _, tg := range []struct {
				tag string
				d   digest.Digest
			}{{"v1", img.Digest}, {"latest", img.Digest}, {"multi", idx.Digest}} {
				if _, err := tx.PutTag("team/app", tg.tag, tg.d); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			tags, err := r.TagDetails("team/app")
			if err != nil {
				return err
			}
			var names []string
			for _, td := range tags {
				names = append(names, td.Name)
				if !near(td.UpdatedAt) {
					t.Errorf("tag %s updated at %v", td.Name, td.UpdatedAt)
				}
			}
			if !slices.Equal(names, []string{"latest", "multi", "v1"}) || tags[0].Digest != img.Digest || tags[1].Digest != idx.Digest {
				t.Errorf("TagDetails = %+v", tags)
			}
			ms, err := r.ManifestSummaries("team/app")
			if err != nil {
				return err
			}
			if len(ms) != 4 || !slices.IsSortedFunc(ms, func(a, b meta.ManifestSummary) int { return compareDigests(a.Digest, b.Digest) }) {
				t.Fatalf("ManifestSummaries = %+v", ms)
			}
			by := map[digest.Digest]meta.ManifestSummary{}
			for _, m := range ms {
				by[m.Digest] = m
			}
			if m := by[img.Digest]; m.Size != img.Size || m.MediaType != img.MediaType || !m.CreatedAt.Equal(img.CreatedAt) ||
				!slices.Equal(m.Blobs, sortedDigests(cfg, layer)) || len(m.Children) != 0 || m.Subject != "" {
				t.Errorf("summary of the image = %+v", m)
			}
			if m := by[idx.Digest]; !slices.Equal(m.Children, sortedDigests(other.Digest, img.Digest)) || len(m.Blobs) != 0 {
				t.Errorf("summary of the index = %+v", m)
			}
			if m := by[sig.Digest]; m.Subject != img.Digest {
				t.Errorf("summary of the referrer = %+v", m)
			}
			if ms, err := r.ManifestSummaries("team/none"); err != nil || len(ms) != 0 {
				t.Errorf("ManifestSummaries of a missing repository = %+v, %v", ms, err)
			}
			if ts, err := r.TagDetails("team/elsewhere"); err != nil || len(ts) != 0 {
				t.Errorf("TagDetails of an untagged repository = %+v, %v", ts, err)
			}
			return nil
		})
		// A moved tag's time moves.
		var before time.Time
		view(t, s, func(r meta.Reader) error {
			tags, err := r.TagDetails("team/app")
			if err == nil {
				before = tags[2].UpdatedAt
			}
			return err
		})
		time.Sleep(2 * time.Millisecond)
		update(t, s, func(tx meta.Tx) error {
			_, err := tx.PutTag("team/app", "v1", other.Digest)
			return err
		})
		view(t, s, func(r meta.Reader) error {
			tags, err := r.TagDetails("team/app")
			if err != nil {
				return err
			}
			if tags[2].Digest != other.Digest || !tags[2].UpdatedAt.After(before) {
				t.Errorf("moved tag = %+v (was set at %v)", tags[2], before)
			}
			return nil
		})
	}},
}

func compareDigests(a, b digest.Digest) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sortedDigests(ds ...digest.Digest) []digest.Digest {
	return slices.Sorted(slices.Values(ds))
}
