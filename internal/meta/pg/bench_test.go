package pg

import (
	"context"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlstore"
)

// seeded opens a store in a fresh schema with repos repositories of tags
// tags each (the same data as the sqlite benchmarks).
func seeded(b *testing.B, repos, tags int) *sqlstore.Store {
	b.Helper()
	s := openT(b, freshSchema(b), Dialect())
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

func BenchmarkManifestByTag(b *testing.B) {
	s := seeded(b, 100, 20)
	ctx := context.Background()
	get := func(i int) {
		if err := s.View(ctx, func(r meta.Reader) error {
			_, err := r.ManifestByTag(fmt.Sprintf("project/repo-%04d", i%100), fmt.Sprintf("v%d", i%20))
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			get(i)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				get(i)
			}
		})
	})
}

func BenchmarkBlobLink(b *testing.B) {
	s := seeded(b, 100, 20)
	ctx := context.Background()
	d := digest.FromString("7/3/layer")
	b.ReportAllocs()
	for b.Loop() {
		if err := s.View(ctx, func(r meta.Reader) error {
			_, err := r.BlobLink("project/repo-0007", d)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutTag moves one tag back and forth, durable and asynchronous.
func BenchmarkPutTag(b *testing.B) {
	s := seeded(b, 1, 2)
	ctx := context.Background()
	m1, m2 := testManifest("0/0"), testManifest("0/1")
	for _, v := range []struct {
		name   string
		update func(context.Context, func(meta.Tx) error) error
	}{{"Update", s.Update}, {"UpdateAsync", s.UpdateAsync}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				d := m1.Digest
				if i%2 == 0 {
					d = m2.Digest
				}
				if err := v.update(ctx, func(tx meta.Tx) error {
					_, err := tx.PutTag("project/repo-0000", "latest", d)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
