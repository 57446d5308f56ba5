package metatest

import (
	"reflect"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

var pullTests = []test{
	{"pulls: counts add up per manifest and tag, last pull only moves forward", func(t *testing.T, s meta.Store) {
		a, b := manifest("a"), manifest("b")
		putManifests(t, s, "team/app", a, b)
		putManifests(t, s, "team/other", a)
		t0 := time.Unix(1700000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			return tx.RecordPulls([]meta.PullCount{
				{Repo: "team/app", Digest: a.Digest, Tag: "v1", Pulls: 3, Last: t0.Add(time.Hour)},
				{Repo: "team/app", Digest: a.Digest, Pulls: 1, Last: t0},
				{Repo: "team/other", Digest: a.Digest, Tag: "v1", Pulls: 7, Last: t0},
				{Repo: "team/app", Digest: dg("gone"), Tag: "v1", Pulls: 5, Last: t0}, // no such manifest: dropped
				{Repo: "team/app", Digest: b.Digest, Tag: "zero", Pulls: 0, Last: t0}, // nothing to add
			})
		})
		update(t, s, func(tx meta.Tx) error {
			return tx.RecordPulls([]meta.PullCount{
				{Repo: "team/app", Digest: a.Digest, Tag: "v1", Pulls: 2, Last: t0}, // older: last stays
				{Repo: "team/app", Digest: b.Digest, Tag: "latest", Pulls: 1, Last: t0.Add(2 * time.Hour)},
			})
		})
		want := []meta.PullCount{
			{Repo: "team/app", Digest: a.Digest, Tag: "", Pulls: 1, Last: t0},
			{Repo: "team/app", Digest: a.Digest, Tag: "v1", Pulls: 5, Last: t0.Add(time.Hour)},
			{Repo: "team/app", Digest: b.Digest, Tag: "latest", Pulls: 1, Last: t0.Add(2 * time.Hour)},
		}
		if a.Digest > b.Digest {
			want = append(want[2:], want[:2]...)
		}
		view(t, s, func(r meta.Reader) error {
			got, err := r.PullStats("team/app")
			if err != nil {
				return err
			}
			for i := range got {
				got[i].Last = got[i].Last.UTC()
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("PullStats(team/app) =\n%+v\nwant\n%+v", got, want)
			}
			other, err := r.PullStats("team/other")
			if err != nil {
				return err
			}
			if len(other) != 1 || other[0].Pulls != 7 {
				t.Errorf("PullStats(team/other) = %+v, want one row of 7 pulls", other)
			}
			act, err := r.Activity("team/app")
			if err != nil {
				return err
			}
			if got := act[a.Digest.String()]; got.Pulls != 6 || !got.LastPull.Equal(t0.Add(time.Hour)) {
				t.Errorf("Activity pulls of a = %d at %v, want 6 at %v", got.Pulls, got.LastPull, t0.Add(time.Hour))
			}
			return nil
		})
	}},
	{"pulls: go with their manifest", func(t *testing.T, s meta.Store) {
		a := manifest("a")
		putManifests(t, s, "team/app", a)
		update(t, s, func(tx meta.Tx) error {
			return tx.RecordPulls([]meta.PullCount{{Repo: "team/app", Digest: a.Digest, Tag: "v1", Pulls: 2, Last: time.Now()}})
		})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/app", a.Digest) })
		putManifests(t, s, "team/app", a) // pushed again: starts from zero
		view(t, s, func(r meta.Reader) error {
			got, err := r.PullStats("team/app")
			if err != nil {
				return err
			}
			if len(got) != 0 {
				t.Errorf("PullStats after delete and re-push = %+v, want none", got)
			}
			return nil
		})
	}},
}
