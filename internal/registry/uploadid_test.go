package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
)

func TestRowlessIDs(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 123, time.UTC)
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		t.Run(string(alg), func(t *testing.T) {
			id := newRowlessID("team/app", alg, now)
			if !blob.ValidUploadID(id) {
				t.Fatalf("id %q is not a valid upload id", id)
			}
			r, ok := parseRowlessID(id)
			if !ok || r.alg != alg || !r.start.Equal(now) {
				t.Fatalf("parse(%q) = %+v, %v; want %s started %s", id, r, ok, alg, now)
			}
			if other := newRowlessID("team/app", alg, now); other == id {
				t.Errorf("two ids of the same repository and start are equal: %q", id)
			}
		})
	}
	if id := newRowlessID("team/app", digest.Algorithm("sha384"), now); id != "" {
		t.Errorf("an algorithm without a code got id %q, want none (a session with a row)", id)
	}

	id := newRowlessID("team/app", digest.SHA256, now)
	r, _ := parseRowlessID(id)
	cases := []struct {
		name string
		repo string
		at   time.Time
		want bool
	}{
		{"at start", "team/app", now, true},
		{"an hour later", "team/app", now.Add(time.Hour), true},
		{"at the limit", "team/app", now.Add(24 * time.Hour), true},
		{"past the limit", "team/app", now.Add(24*time.Hour + time.Nanosecond), false},
		{"another repository", "team/other", now, false},
		{"a node 30 s behind", "team/app", now.Add(-30 * time.Second), true},
		{"a node 2 min behind", "team/app", now.Add(-2 * time.Minute), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.accepts(c.repo, c.at, 24*time.Hour); got != c.want {
				t.Errorf("accepts(%s, %s) = %v, want %v", c.repo, c.at, got, c.want)
			}
		})
	}

	for _, bad := range []string{"", "0123456789abcdef0123456789abcdef", strings.Repeat("z", 68), id[:67], id + "0",
		id[:16] + "02" + id[18:], id[:18] + "00" + id[20:], id[:18] + "03" + id[20:]} {
		if _, ok := parseRowlessID(bad); ok {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}

// TestIDsSortByStart: the records of ended sessions are purged by range,
// which needs ids to sort by their start and idsBefore to split them there.
func TestIDsSortByStart(t *testing.T) {
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cut := idsBefore(base)
	for _, c := range []struct {
		at     time.Duration
		before bool
	}{
		{-24 * time.Hour, true}, {-time.Nanosecond, true}, {0, false}, {time.Nanosecond, false}, {time.Hour, false},
	} {
		for _, alg := range idAlgorithms {
			id := newRowlessID("r", alg, base.Add(c.at))
			if got := id < cut; got != c.before {
				t.Errorf("id started at %v (%s) < idsBefore(base) = %v, want %v", c.at, alg, got, c.before)
			}
		}
	}
	a, b := newRowlessID("z", digest.SHA512, base), newRowlessID("a", digest.SHA256, base.Add(time.Nanosecond))
	if a >= b {
		t.Errorf("an id started earlier sorts after a later one: %q >= %q", a, b)
	}
}

// TestPurgeEndsInBatches: the purge deletes every expired record, however
// many batches that takes.
func TestPurgeEndsInBatches(t *testing.T) {
	old := endsBatch
	endsBatch = 2
	t.Cleanup(func() { endsBatch = old })
	ctx := t.Context()
	st := newStores(t)
	now := time.Now()
	svc := st.service(Options{Now: func() time.Time { return now }, UploadMaxAge: time.Hour})
	var ids []string
	for range 5 {
		up, err := svc.StartUpload(ctx, "r", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.CancelUpload(ctx, "r", up.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, up.ID)
	}
	now = now.Add(time.Hour + idClockSkew + time.Second)
	if _, err := svc.PurgeUploads(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var ended bool
		if err := st.meta.View(ctx, func(r meta.Reader) (err error) { ended, err = r.UploadEnded(id); return err }); err != nil {
			t.Fatal(err)
		}
		if ended {
			t.Errorf("record of %s survived the purge", id)
		}
	}
}
