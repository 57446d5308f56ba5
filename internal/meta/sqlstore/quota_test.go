package sqlstore

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func TestProjectOf(t *testing.T) {
	for _, name := range []string{"alpine", "team/app", "a.b-c_d/x/y", "library/alpine", "x9/", "0"} {
		t.Run(name, func(t *testing.T) {
			db, err := sql.Open("sqlite", ":memory:")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var got string
			if err := db.QueryRow(`SELECT `+projectOfSQL("n")+` FROM (SELECT ? AS n) r`, name).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := meta.ProjectOf(name); got != want {
				t.Errorf("SQL project of %q = %q, Go says %q", name, got, want)
			}
		})
	}
}

// TestQuotaBackfill fills a store, then turns its schema back to version 8
// and migrates again: the usage migration 9 computes from the manifests
// must equal what the writers kept up incrementally.
func TestQuotaBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quota.db")
	open := func() (*Store, *sql.DB) {
		db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(t.Context(), db, db, testDialect())
		if err != nil {
			t.Fatal(err)
		}
		return s, db
	}
	s, db := open()
	blob := func(i int) digest.Digest { return digest.FromString(fmt.Sprint("blob", i)) }
	err := s.Update(t.Context(), func(tx meta.Tx) error {
		for i, repo := range []string{"team/a", "team/b", "team/c/d", "other/a", "solo", "team/a"} {
			m := meta.Manifest{Digest: digest.FromString(fmt.Sprint("m", i%5)), MediaType: "x", Size: int64(100 + i%5), Content: []byte("{}")}
			refs := meta.Refs{Blobs: []digest.Digest{blob(i % 3), blob(10 + i)}}
			for _, b := range refs.Blobs[:1] { // blob(10+i) stays unlinked: size 0
				if err := tx.LinkBlob(repo, b, int64(1000*(i%3+1))); err != nil {
					return err
				}
			}
			if err := tx.PutManifest(repo, m, refs); err != nil {
				return err
			}
		}
		return tx.DeleteManifest("team/b", digest.FromString("m1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	usage := func(s *Store) []meta.ProjectUsage {
		var out []meta.ProjectUsage
		if err := s.View(t.Context(), func(r meta.Reader) error {
			var err error
			out, err = r.ListProjectUsage()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := usage(s)
	if len(before) != 3 {
		t.Fatalf("usage before = %v, want 3 projects", before)
	}
	s.Close()

	// Back to the schema before version 9, then its statements again.
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	d := testDialect()
	stmts := []string{`DROP TABLE project_usage`, `DROP TABLE project_totals`, `ALTER TABLE projects DROP COLUMN quota_bytes`}
	for _, q := range append(stmts, quotaMigration().Statements...) {
		if q, err = d.expand(q); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, _ = open()
	defer s.Close()
	if after := usage(s); !slices.Equal(after, before) {
		t.Errorf("usage after the migration = %v, kept by the writers = %v", after, before)
	}
}
