package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlstore"
)

func testManifest(name string) meta.Manifest {
	content := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` +
		digest.FromString(name).Encoded() + `","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` +
		digest.FromString(name+"/layer").Encoded() + `","size":3623807}]}`)
	return meta.Manifest{
		Digest:       digest.FromBytes(content),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.oci.image.config.v1+json",
		Size:         int64(len(content)),
		Content:      content,
	}
}

// seeded opens a store with repos repositories of tags tags each.
func seeded(b testing.TB, d sqlstore.Dialect, repos, tags int) *sqlstore.Store {
	return seededOpts(b, d, Options{}, repos, tags)
}

func seededOpts(b testing.TB, d sqlstore.Dialect, o Options, repos, tags int) *sqlstore.Store {
	b.Helper()
	s, err := open(context.Background(), filepath.Join(b.TempDir(), "meta.db"), o, d)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for r := range repos {
		err := s.Update(context.Background(), func(tx meta.Tx) error {
			repo := fmt.Sprintf("project/repo-%04d", r)
			for i := range tags {
				m := testManifest(fmt.Sprintf("%d/%d", r, i))
				if err := tx.LinkBlob(repo, digest.FromString(fmt.Sprintf("%d/%d/layer", r, i)), 3623807); err != nil {
					return err
				}
				if err := tx.PutManifest(repo, m, meta.Refs{}); err != nil {
					return err
				}
				if _, err := tx.PutTag(repo, fmt.Sprintf("v%d", i), m.Digest); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// cpuTime is the CPU time (user+system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// withCPU runs the benchmark loop and reports the process CPU time per
// operation (all goroutines, GC included) next to the wall time.
func withCPU(b *testing.B, loop func()) {
	b.ReportAllocs()
	start := cpuTime(b)
	loop()
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkManifestByTag(b *testing.B) {
	txReads := Dialect()
	txReads.BeginRead, txReads.EndRead = "", ""
	variants := []struct {
		name string
		d    sqlstore.Dialect
	}{{"view=conn", Dialect()}, {"view=sql.Tx", txReads}}
	repos, tags := make([]string, 100), make([]string, 20)
	for i := range repos {
		repos[i] = fmt.Sprintf("project/repo-%04d", i)
	}
	for i := range tags {
		tags[i] = fmt.Sprintf("v%d", i)
	}
	for _, v := range variants {
		s := seeded(b, v.d, 100, 20)
		ctx := context.Background()
		get := func(i int) {
			if err := s.View(ctx, func(r meta.Reader) error {
				_, err := r.ManifestByTag(repos[i%100], tags[i%20])
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(v.name, func(b *testing.B) {
			withCPU(b, func() {
				i := 0
				for b.Loop() {
					i++
					get(i)
				}
			})
		})
		b.Run(v.name+"/parallel", func(b *testing.B) {
			withCPU(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						i++
						get(i)
					}
				})
			})
		})
	}
}

func BenchmarkBlobLink(b *testing.B) {
	s := seeded(b, Dialect(), 100, 20)
	ctx := context.Background()
	d := digest.FromString("7/3/layer")
	withCPU(b, func() {
		for b.Loop() {
			if err := s.View(ctx, func(r meta.Reader) error {
				_, err := r.BlobLink("project/repo-0007", d)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkList5000 lists 5,000 repositories and the 5,000 tags of one
// repository, all at once and as a page of 100 from the middle.
func BenchmarkList5000(b *testing.B) {
	s := seeded(b, Dialect(), 0, 0)
	ctx := context.Background()
	m := testManifest("m")
	if err := s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.PutManifest("big", m, meta.Refs{}); err != nil {
			return err
		}
		for i := range 4999 {
			if err := tx.EnsureRepository(fmt.Sprintf("repo-%05d", i)); err != nil {
				return err
			}
		}
		for i := range 5000 {
			if _, err := tx.PutTag("big", fmt.Sprintf("tag-%05d", i), m.Digest); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		fn   func(r meta.Reader) ([]string, error)
		want int
	}{
		{"repositories/all", func(r meta.Reader) ([]string, error) { return r.ListRepositories("", 0) }, 5000},
		{"repositories/page", func(r meta.Reader) ([]string, error) { return r.ListRepositories("repo-02500", 100) }, 100},
		{"tags/all", func(r meta.Reader) ([]string, error) { return r.ListTags("big", "", 0) }, 5000},
		{"tags/page", func(r meta.Reader) ([]string, error) { return r.ListTags("big", "tag-02500", 100) }, 100},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			withCPU(b, func() {
				for b.Loop() {
					if err := s.View(ctx, func(r meta.Reader) error {
						got, err := c.fn(r)
						if err == nil && len(got) != c.want {
							err = fmt.Errorf("got %d names, want %d", len(got), c.want)
						}
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func benchPutTag(b *testing.B, sync string) {
	s := seededOpts(b, Dialect(), Options{Synchronous: sync}, 1, 2)
	ctx := context.Background()
	m1, m2 := testManifest("0/0"), testManifest("0/1")
	withCPU(b, func() {
		i := 0
		for b.Loop() {
			i++
			d := m1.Digest
			if i%2 == 0 {
				d = m2.Digest
			}
			if err := s.Update(ctx, func(tx meta.Tx) error {
				_, err := tx.PutTag("project/repo-0000", "latest", d)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPutTag(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+sync, func(b *testing.B) { benchPutTag(b, sync) })
	}
}

// BenchmarkPush is a whole manifest push: link config and layer, put the
// manifest, tag it and record the event, with 16 pushers at once.
func BenchmarkPush(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			s := seededOpts(b, Dialect(), Options{Synchronous: sync}, 0, 0)
			ctx := context.Background()
			b.SetParallelism(8) // 16 goroutines on 2 CPUs
			var n atomic.Int64
			b.ReportAllocs()
			start := cpuTime(b)
			defer func() { b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					repo := fmt.Sprintf("push/r%d", i%16)
					m := testManifest(fmt.Sprintf("push/%d", i))
					if err := s.Update(ctx, func(tx meta.Tx) error {
						for _, l := range []string{"config", "layer"} {
							if err := tx.LinkBlob(repo, digest.FromString(fmt.Sprintf("%d/%s", i, l)), 100); err != nil {
								return err
							}
						}
						if err := tx.PutManifest(repo, m, meta.Refs{}); err != nil {
							return err
						}
						if _, err := tx.PutTag(repo, fmt.Sprintf("t%d", i), m.Digest); err != nil {
							return err
						}
						return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: repo, Digest: m.Digest, CreatedAt: time.Now()})
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
