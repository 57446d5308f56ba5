package metatest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// usageBlob is a blob of the quota tests: digest and size.
type usageBlob struct {
	d    digest.Digest
	size int64
}

func ublob(name string, size int64) usageBlob { return usageBlob{dg("quota-blob-" + name), size} }

// pushImage links the blobs to repo and puts manifest m referencing them.
func pushImage(t *testing.T, s meta.Store, repo string, m meta.Manifest, blobs ...usageBlob) {
	t.Helper()
	update(t, s, func(tx meta.Tx) error {
		var refs meta.Refs
		for _, b := range blobs {
			if err := tx.LinkBlob(repo, b.d, b.size); err != nil {
				return err
			}
			refs.Blobs = append(refs.Blobs, b.d)
		}
		return tx.PutManifest(repo, m, refs)
	})
}

// wantUsage checks the usage of each project in want.
func wantUsage(t *testing.T, s meta.Store, want map[string]int64) {
	t.Helper()
	view(t, s, func(r meta.Reader) error {
		for p, n := range want {
			got, err := r.ProjectUsage(p)
			if err != nil {
				return err
			}
			if got != n {
				t.Errorf("ProjectUsage(%s) = %d, want %d", p, got, n)
			}
		}
		return nil
	})
}

func usageList(t *testing.T, s meta.Store) []meta.ProjectUsage {
	t.Helper()
	var out []meta.ProjectUsage
	view(t, s, func(r meta.Reader) error {
		var err error
		out, err = r.ListProjectUsage()
		return err
	})
	return out
}

var quotaTests = []test{
	{"a blob counts once across the repositories of a project", func(t *testing.T, s meta.Store) {
		cfg, layer := ublob("cfg", 10), ublob("layer", 1000)
		m1, m2 := manifest("quota-a"), manifest("quota-b")
		pushImage(t, s, "team/a", m1, cfg, layer)
		pushImage(t, s, "team/b", m2, cfg, layer)
		wantUsage(t, s, map[string]int64{"team": 1010 + m1.Size + m2.Size, "other": 0, "team/a": 0})
	}},
	{"each project counts what it holds", func(t *testing.T, s meta.Store) {
		layer := ublob("layer", 1000)
		m := manifest("quota-a")
		pushImage(t, s, "team/a", m, layer)
		pushImage(t, s, "other/x/y", m, layer)
		pushImage(t, s, "alpine", m, layer) // a repository at the top is its own project
		want := 1000 + m.Size
		wantUsage(t, s, map[string]int64{"team": want, "other": want, "alpine": want})
		got := usageList(t, s)
		wantList := []meta.ProjectUsage{{Project: "alpine", Bytes: want}, {Project: "other", Bytes: want}, {Project: "team", Bytes: want}}
		if !slices.Equal(got, wantList) {
			t.Errorf("ListProjectUsage = %v, want %v", got, wantList)
		}
		other := ublob("other-layer", 500)
		pushImage(t, s, "team/b", manifest("quota-b"), other)
		view(t, s, func(r meta.Reader) error {
			total, err := r.TotalUsage()
			if wantTotal := want + 500 + manifest("quota-b").Size; err == nil && total != wantTotal {
				t.Errorf("TotalUsage = %d, want %d (each digest once across the projects)", total, wantTotal)
			}
			return err
		})
	}},
	{"the same manifest in two repositories counts once", func(t *testing.T, s meta.Store) {
		layer := ublob("layer", 1000)
		m := manifest("quota-a")
		pushImage(t, s, "team/a", m, layer)
		pushImage(t, s, "team/b", m, layer)
		wantUsage(t, s, map[string]int64{"team": 1000 + m.Size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/a", m.Digest) })
		wantUsage(t, s, map[string]int64{"team": 1000 + m.Size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/b", m.Digest) })
		wantUsage(t, s, map[string]int64{"team": 0})
	}},
	{"a delete frees a blob only with its last reference", func(t *testing.T, s meta.Store) {
		cfg1, cfg2, shared := ublob("cfg1", 10), ublob("cfg2", 20), ublob("shared", 1000)
		m1, m2 := manifest("quota-a"), manifest("quota-b")
		pushImage(t, s, "team/a", m1, cfg1, shared)
		pushImage(t, s, "team/b", m2, cfg2, shared)
		wantUsage(t, s, map[string]int64{"team": 1030 + m1.Size + m2.Size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/a", m1.Digest) })
		wantUsage(t, s, map[string]int64{"team": 1020 + m2.Size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/b", m2.Digest) })
		wantUsage(t, s, map[string]int64{"team": 0})
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "DeleteManifest of a deleted manifest", tx.DeleteManifest("team/b", m2.Digest))
			return nil
		})
		wantUsage(t, s, map[string]int64{"team": 0})
	}},
	{"a repository delete takes its manifests out", func(t *testing.T, s meta.Store) {
		own, shared := ublob("own", 7), ublob("shared", 1000)
		m1, m2, m3 := manifest("quota-a"), manifest("quota-b"), manifest("quota-c")
		pushImage(t, s, "team/a", m1, own, shared)
		pushImage(t, s, "team/a", m2, shared)
		pushImage(t, s, "team/b", m3, shared)
		pushImage(t, s, "other/a", m1, own, shared)
		wantUsage(t, s, map[string]int64{"team": 1007 + m1.Size + m2.Size + m3.Size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteRepository("team/a") })
		wantUsage(t, s, map[string]int64{"team": 1000 + m3.Size, "other": 1007 + m1.Size})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteRepository("team/b") })
		wantUsage(t, s, map[string]int64{"team": 0, "other": 1007 + m1.Size})
	}},
	{"tags change nothing and a second put counts nothing", func(t *testing.T, s meta.Store) {
		layer := ublob("layer", 1000)
		m := manifest("quota-a")
		pushImage(t, s, "team/a", m, layer)
		want := map[string]int64{"team": 1000 + m.Size}
		update(t, s, func(tx meta.Tx) error {
			for _, tag := range []string{"v1", "latest"} {
				if _, err := tx.PutTag("team/a", tag, m.Digest); err != nil {
					return err
				}
			}
			return nil
		})
		wantUsage(t, s, want)
		update(t, s, func(tx meta.Tx) error { return tx.DeleteTag("team/a", "v1") })
		wantUsage(t, s, want)
		pushImage(t, s, "team/a", m, layer)
		wantUsage(t, s, want)
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/a", m.Digest) })
		wantUsage(t, s, map[string]int64{"team": 0})
	}},
	{"an index counts its own bytes, its children as the manifests they are", func(t *testing.T, s meta.Store) {
		layer := ublob("layer", 1000)
		child, index := manifest("quota-child"), manifest("quota-index")
		update(t, s, func(tx meta.Tx) error {
			return tx.PutManifest("team/a", index, meta.Refs{Manifests: []digest.Digest{child.Digest}})
		})
		wantUsage(t, s, map[string]int64{"team": index.Size})
		pushImage(t, s, "team/a", child, layer)
		wantUsage(t, s, map[string]int64{"team": index.Size + child.Size + 1000})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/a", index.Digest) })
		wantUsage(t, s, map[string]int64{"team": child.Size + 1000})
	}},
	{"UsageCounts and LockProjectUsage", func(t *testing.T, s meta.Store) {
		layer, other := ublob("layer", 1000), ublob("other", 5)
		m := manifest("quota-a")
		update(t, s, func(tx meta.Tx) error { return tx.LinkBlob("team/a", other.d, other.size) })
		pushImage(t, s, "team/a", m, layer)
		update(t, s, func(tx meta.Tx) error {
			for _, c := range []struct {
				project string
				d       digest.Digest
				want    bool
			}{{"team", layer.d, true}, {"team", m.Digest, true}, {"team", other.d, false}, {"other", layer.d, false}} {
				got, err := tx.UsageCounts(c.project, c.d)
				if err != nil {
					return err
				}
				if got != c.want {
					t.Errorf("UsageCounts(%s, %s) = %v, want %v", c.project, c.d, got, c.want)
				}
			}
			for p, want := range map[string]int64{"team": 1000 + m.Size, "nobody": 0} {
				got, err := tx.LockProjectUsage(p)
				if err != nil {
					return err
				}
				if got != want {
					t.Errorf("LockProjectUsage(%s) = %d, want %d", p, got, want)
				}
			}
			return nil
		})
	}},
	{"a blob first referenced unlinked gets its size later", func(t *testing.T, s meta.Store) {
		layer := ublob("layer", 1000)
		m1, m2 := manifest("quota-a"), manifest("quota-b")
		update(t, s, func(tx meta.Tx) error {
			return tx.PutManifest("team/a", m1, meta.Refs{Blobs: []digest.Digest{layer.d}})
		})
		wantUsage(t, s, map[string]int64{"team": m1.Size})
		pushImage(t, s, "team/b", m2, layer)
		wantUsage(t, s, map[string]int64{"team": m1.Size + m2.Size + 1000})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/b", m2.Digest) })
		wantUsage(t, s, map[string]int64{"team": m1.Size + 1000})
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("team/a", m1.Digest) })
		wantUsage(t, s, map[string]int64{"team": 0})
	}},
	{"project quotas are stored", func(t *testing.T, s meta.Store) {
		update(t, s, func(tx meta.Tx) error {
			if err := tx.CreateProject(meta.Project{Name: "team", Quota: 1 << 30}); err != nil {
				return err
			}
			if err := tx.CreateProject(meta.Project{Name: "free"}); err != nil {
				return err
			}
			// UpdateProject leaves the quota alone.
			return tx.UpdateProject(meta.Project{Name: "team", Public: true})
		})
		quotaOf := func(name string) int64 {
			var p meta.Project
			view(t, s, func(r meta.Reader) error {
				var err error
				p, err = r.Project(name)
				return err
			})
			return p.Quota
		}
		if got := quotaOf("team"); got != 1<<30 {
			t.Errorf("quota of team after create = %d, want %d", got, 1<<30)
		}
		update(t, s, func(tx meta.Tx) error { return tx.SetProjectQuota("free", 5000) })
		update(t, s, func(tx meta.Tx) error { return tx.SetProjectQuota("team", 0) })
		if got := quotaOf("free"); got != 5000 {
			t.Errorf("quota of free = %d, want 5000", got)
		}
		var ps []meta.Project
		view(t, s, func(r meta.Reader) error {
			var err error
			ps, err = r.ListProjects("", 0)
			return err
		})
		got := map[string]int64{}
		for _, p := range ps {
			got[p.Name] = p.Quota
		}
		if got["free"] != 5000 || got["team"] != 0 {
			t.Errorf("ListProjects quotas = %v, want free 5000, team 0", got)
		}
		err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.SetProjectQuota("nosuch", 1) })
		wantNotFound(t, "SetProjectQuota(nosuch)", err)
		err = s.Update(ctx(t), func(tx meta.Tx) error { return tx.SetProjectQuota("free", -1) })
		if err == nil {
			t.Errorf("SetProjectQuota(-1) succeeded")
		}
	}},
	{"usage equals a recount after random pushes and deletes", randomUsageTest},
	{"concurrent pushes do not both slip under a quota", concurrentQuotaTest},
}

var errOverQuota = errors.New("over quota")

// concurrentQuotaTest runs pushes of different images into one project at
// once, each refusing itself (rolling back) when it took usage past a
// quota that fits two of them: exactly two must get in, whatever the
// interleaving.
func concurrentQuotaTest(t *testing.T, s meta.Store) {
	const n = 8
	var mu sync.Mutex
	var accepted []int64
	var wg sync.WaitGroup
	var quota int64 = 2*(1000+manifest("quota-concurrent-0").Size) + 500
	for i := range n {
		wg.Go(func() {
			m := manifest(fmt.Sprint("quota-concurrent-", i))
			b := ublob(fmt.Sprint("concurrent-", i), 1000)
			err := s.Update(ctx(t), func(tx meta.Tx) error {
				before, err := tx.LockProjectUsage("team")
				if err != nil {
					return err
				}
				if err := tx.LinkBlob(fmt.Sprint("team/r", i), b.d, b.size); err != nil {
					return err
				}
				if err := tx.PutManifest(fmt.Sprint("team/r", i), m, meta.Refs{Blobs: []digest.Digest{b.d}}); err != nil {
					return err
				}
				time.Sleep(5 * time.Millisecond) // let the others try to overtake
				after, err := tx.ProjectUsage("team")
				if err != nil {
					return err
				}
				if after != before+1000+m.Size {
					t.Errorf("push %d: usage went from %d to %d, want +%d", i, before, after, 1000+m.Size)
				}
				if after > quota {
					return errOverQuota
				}
				return nil
			})
			switch {
			case err == nil:
				mu.Lock()
				accepted = append(accepted, 1000+m.Size)
				mu.Unlock()
			case !errors.Is(err, errOverQuota):
				t.Errorf("push %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if len(accepted) != 2 {
		t.Errorf("%d pushes got in under a quota that fits 2", len(accepted))
	}
	var sum int64
	for _, a := range accepted {
		sum += a
	}
	wantUsage(t, s, map[string]int64{"team": sum})
}

// randomUsageTest runs random pushes, manifest deletes, repository deletes
// and tag changes against a model and compares the store's usage of every
// project with a recount of the model after each step.
func randomUsageTest(t *testing.T, s meta.Store) {
	rng := rand.New(rand.NewPCG(6, 9))
	repos := []string{"team/a", "team/b", "team/c/d", "other/a", "solo"}
	var pool []usageBlob
	for i := range 12 {
		pool = append(pool, ublob(fmt.Sprint(i), int64(100*(i+1))))
	}
	// model: repo -> manifest digest -> (size, blobs)
	type img struct {
		size  int64
		blobs []usageBlob
	}
	model := map[string]map[digest.Digest]img{}
	recount := func() map[string]int64 {
		seen := map[string]map[digest.Digest]int64{}
		for repo, ms := range model {
			p := projectName(repo)
			if seen[p] == nil {
				seen[p] = map[digest.Digest]int64{}
			}
			for d, im := range ms {
				seen[p][d] = im.size
				for _, b := range im.blobs {
					seen[p][b.d] = b.size
				}
			}
		}
		out := map[string]int64{"team": 0, "other": 0, "solo": 0}
		for p, ds := range seen {
			for _, n := range ds {
				out[p] += n
			}
		}
		return out
	}
	for step := range 120 {
		repo := repos[rng.IntN(len(repos))]
		switch op := rng.IntN(10); {
		case op < 6: // push one of 15 images made of a few pool blobs
			k := rng.IntN(15)
			m := manifest(fmt.Sprint("quota-random-", k))
			r := rand.New(rand.NewPCG(uint64(k), 1)) // an image always has the same blobs
			var blobs []usageBlob
			for _, i := range r.Perm(len(pool))[:1+k%4] {
				blobs = append(blobs, pool[i])
			}
			pushImage(t, s, repo, m, blobs...)
			if model[repo] == nil {
				model[repo] = map[digest.Digest]img{}
			}
			if _, ok := model[repo][m.Digest]; !ok {
				model[repo][m.Digest] = img{m.Size, blobs}
			}
			if rng.IntN(2) == 0 {
				update(t, s, func(tx meta.Tx) error { _, err := tx.PutTag(repo, "t", m.Digest); return err })
			}
		case op < 9: // delete one of the repository's manifests
			var ds []digest.Digest
			for d := range model[repo] {
				ds = append(ds, d)
			}
			if len(ds) == 0 {
				continue
			}
			slices.Sort(ds)
			d := ds[rng.IntN(len(ds))]
			update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest(repo, d) })
			delete(model[repo], d)
		default:
			err := s.Update(ctx(t), func(tx meta.Tx) error { return tx.DeleteRepository(repo) })
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				t.Fatalf("DeleteRepository(%s): %v", repo, err)
			}
			delete(model, repo)
		}
		want := recount()
		var got map[string]int64
		view(t, s, func(r meta.Reader) error {
			got = map[string]int64{}
			for p := range want {
				n, err := r.ProjectUsage(p)
				if err != nil {
					return err
				}
				got[p] = n
			}
			return nil
		})
		for p := range want {
			if got[p] != want[p] {
				t.Fatalf("step %d: usage of %s = %d, recount says %d", step, p, got[p], want[p])
			}
		}
	}
}

// projectName is the first path component of a repository name.
func projectName(repo string) string {
	for i := range len(repo) {
		if repo[i] == '/' {
			return repo[:i]
		}
	}
	return repo
}
