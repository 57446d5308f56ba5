package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/metatest"
	"github.com/berth-registry/berth/internal/meta/sqlstore"
)

func TestConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceTxReads runs the suite with Views in database/sql
// transactions, the path dialects without BeginRead (PostgreSQL) take.
func TestConformanceTxReads(t *testing.T) {
	d := Dialect()
	d.BeginRead, d.EndRead = "", ""
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := open(t.Context(), filepath.Join(t.TempDir(), "meta.db"), Options{}, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// pragma reads a PRAGMA through a separate connection to path.
func pragma(t *testing.T, path, name string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := pragma(t, path, "journal_mode"); got != "wal" {
		t.Errorf("journal_mode = %q, want wal", got)
	}
	// Per-connection settings, seen from inside the store's transactions.
	cases := []struct{ pragma, write, read string }{
		{"synchronous", "1", "1"}, // NORMAL: commits are synced by the group commit
		{"foreign_keys", "1", "1"},
		{"busy_timeout", "10000", "10000"},
		{"query_only", "0", "1"},
	}
	for _, c := range cases {
		t.Run(c.pragma, func(t *testing.T) {
			var w, r string
			if err := s.Update(t.Context(), func(tx meta.Tx) error { return rawQuery(tx, "PRAGMA "+c.pragma, &w) }); err != nil {
				t.Fatal(err)
			}
			if err := s.View(t.Context(), func(rd meta.Reader) error { return rawQuery(rd, "PRAGMA "+c.pragma, &r) }); err != nil {
				t.Fatal(err)
			}
			if w != c.write || r != c.read {
				t.Errorf("%s = %s (write pool), %s (read pool); want %s, %s", c.pragma, w, r, c.write, c.read)
			}
		})
	}
}

// rawQuery runs q on the transaction behind a sqlstore reader.
func rawQuery(r any, q string, dest ...any) error {
	rq, ok := r.(interface {
		RawQueryRow(q string, args []any, dest ...any) error
	})
	if !ok {
		return fmt.Errorf("%T has no RawQueryRow", r)
	}
	return rq.RawQueryRow(q, nil, dest...)
}

func TestViewIsReadOnly(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(r meta.Reader) error {
		tx, ok := r.(meta.Tx)
		if !ok {
			return nil
		}
		return tx.EnsureRepository("sneaky")
	})
	if err == nil {
		t.Errorf("a write through a View's reader succeeded")
	}
}

func TestConcurrentPushes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, pushes = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*pushes)
	for w := range writers {
		wg.Go(func() {
			for i := range pushes {
				repo := fmt.Sprintf("team/app-%d", w%8)
				m := testManifest(fmt.Sprintf("%d/%d", w, i))
				err := s.Update(t.Context(), func(tx meta.Tx) error {
					if err := tx.LinkBlob(repo, m.Digest, 1); err != nil {
						return err
					}
					if err := tx.PutManifest(repo, m, meta.Refs{}); err != nil {
						return err
					}
					_, err := tx.PutTag(repo, fmt.Sprintf("v%d.%d", w, i), m.Digest)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := s.View(t.Context(), func(r meta.Reader) error {
		for i := range 8 {
			tags, err := r.ListTags(fmt.Sprintf("team/app-%d", i), "", 0)
			if err != nil {
				return err
			}
			n += len(tags)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != writers*pushes {
		t.Errorf("%d tags, want %d", n, writers*pushes)
	}
}

// TestTwoProcesses opens the same file twice (as a CLI command would next to
// the server) and writes through both.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 8 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			for j := range 25 {
				if err := st.Update(t.Context(), func(tx meta.Tx) error {
					return tx.EnsureRepository(fmt.Sprintf("r%d-%d", i, j))
				}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := a.View(t.Context(), func(r meta.Reader) error {
		names, err := r.ListRepositories("", 0)
		if len(names) != 200 {
			t.Errorf("%d repositories, want 200", len(names))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrations(t *testing.T) {
	latest := len(Dialect().Migrations)
	extra := sqlstore.Migration{Version: latest + 1, Name: "test extra", Statements: []string{
		`CREATE TABLE test_extra (id ` + sqlstore.TypeRowID + `, note TEXT NOT NULL)`,
	}}
	withExtra := Dialect()
	withExtra.Migrations = append(withExtra.Migrations, extra)

	version := func(t *testing.T, s *sqlstore.Store) int {
		t.Helper()
		v, err := s.SchemaVersion(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	openD := func(path string, d sqlstore.Dialect) (*sqlstore.Store, error) {
		return open(context.Background(), path, Options{}, d)
	}

	t.Run("fresh database migrates to latest", func(t *testing.T) {
		s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v := version(t, s); v != latest {
			t.Errorf("schema version %d, want %d", v, latest)
		}
	})
	t.Run("reopen is a no-op", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.EnsureRepository("kept") }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = Open(path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		var rows int
		if err := s.View(t.Context(), func(r meta.Reader) error {
			return rawQuery(r, "SELECT COUNT(*) FROM schema_migrations", &rows)
		}); err != nil {
			t.Fatal(err)
		}
		if rows != latest || version(t, s) != latest {
			t.Errorf("schema_migrations has %d rows, version %d; want %d", rows, version(t, s), latest)
		}
		if err := s.View(t.Context(), func(r meta.Reader) error { _, err := r.Repository("kept"); return err }); err != nil {
			t.Errorf("data lost on reopen: %v", err)
		}
	})
	t.Run("partial version upgrades", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.EnsureRepository("old") }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = openD(path, withExtra)
		if err != nil {
			t.Fatalf("open with a newer schema: %v", err)
		}
		defer s.Close()
		if v := version(t, s); v != latest+1 {
			t.Errorf("schema version %d, want %d", v, latest+1)
		}
		var n int
		if err := s.View(t.Context(), func(r meta.Reader) error {
			if _, err := r.Repository("old"); err != nil {
				return err
			}
			return rawQuery(r, "SELECT COUNT(*) FROM test_extra", &n)
		}); err != nil {
			t.Errorf("after upgrade: %v", err)
		}
	})
	t.Run("newer database refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		s, err := openD(path, withExtra)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = Open(path)
		want := fmt.Sprintf("database schema version %d is newer than this berth supports (%d)", latest+1, latest)
		if err == nil || !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Open = %v, want an error saying %q", err, want)
		}
	})
	t.Run("failed migration leaves the previous version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		broken := Dialect()
		broken.Migrations = append(broken.Migrations, sqlstore.Migration{Version: latest + 1, Name: "broken",
			Statements: []string{`CREATE TABLE half_done (x TEXT)`, `THIS IS NOT SQL`}})
		if _, err := openD(path, broken); err == nil {
			t.Fatal("open with a broken migration succeeded")
		}
		s, err = Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v := version(t, s); v != latest {
			t.Errorf("schema version %d, want %d", v, latest)
		}
		var n int
		err = s.View(t.Context(), func(r meta.Reader) error {
			return rawQuery(r, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'", &n)
		})
		if err != nil || n != 0 {
			t.Errorf("half-applied migration left table half_done (%d, %v)", n, err)
		}
	})
	t.Run("versions must be sequential", func(t *testing.T) {
		gap := Dialect()
		gap.Migrations = append(gap.Migrations, sqlstore.Migration{Version: latest + 2, Name: "gap"})
		if _, err := openD(filepath.Join(t.TempDir(), "meta.db"), gap); err == nil {
			t.Error("open with a gap in migration versions succeeded")
		}
	})
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "x.db?mode=ro", "file:x.db"} {
		if s, err := Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestAsyncCommit: with Synchronous FULL, UpdateAsync commits with
// synchronous=NORMAL and leaves the write connection at FULL for the next
// Update, also when fn fails.
func TestAsyncCommit(t *testing.T) {
	s, err := OpenWith(t.Context(), filepath.Join(t.TempDir(), "meta.db"), Options{Synchronous: "FULL"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	syncMode := func(update func(context.Context, func(meta.Tx) error) error, fail bool) string {
		var got string
		err := update(t.Context(), func(tx meta.Tx) error {
			if err := rawQuery(tx, "PRAGMA synchronous", &got); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return tx.EnsureRepository("r")
		})
		if (err != nil) != fail {
			t.Fatalf("update: %v", err)
		}
		return got
	}
	steps := []struct {
		name   string
		update func(context.Context, func(meta.Tx) error) error
		fail   bool
		want   string
	}{
		{"async commit runs at NORMAL", s.UpdateAsync, false, "1"},
		{"the next Update is FULL again", s.Update, false, "2"},
		{"a failed async transaction", s.UpdateAsync, true, "1"},
		{"is followed by FULL too", s.Update, false, "2"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := syncMode(st.update, st.fail); got != st.want {
				t.Errorf("synchronous = %s, want %s", got, st.want)
			}
		})
	}
	if err := s.View(t.Context(), func(r meta.Reader) error { _, err := r.Repository("r"); return err }); err != nil {
		t.Fatalf("async commit not visible: %v", err)
	}
}
