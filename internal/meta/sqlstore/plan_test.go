package sqlstore

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// testDialect is enough SQLite for this package's own tests (the real one
// lives in package sqlite, which imports this one).
func testDialect() Dialect {
	return Dialect{
		Name:       "sqlite-test",
		Types:      map[string]string{TypeRowID: "INTEGER PRIMARY KEY", TypeSerialID: "INTEGER PRIMARY KEY AUTOINCREMENT", TypeBytes: "BLOB", TypeKeyText: "TEXT", TableKeyed: "WITHOUT ROWID"},
		Migrations: CoreMigrations(),
	}
}

// newTestStore opens a Store on a new SQLite file, one pool for both
// sides, closed when the test ends.
func newTestStore(t *testing.T) (*Store, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db")+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), db, db, testDialect())
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// TestQueryPlans checks that every query is answered from an index: no
// full scans, and no sorting except where the result is small by nature.
// The data set has 5,000 repositories and 5,000 tags in one repository.
func TestQueryPlans(t *testing.T) {
	s, db := newTestStore(t)
	err := s.Update(t.Context(), func(tx meta.Tx) error {
		for i := range 5000 {
			m := meta.Manifest{Digest: digest.FromString(fmt.Sprint(i)), MediaType: "x", Content: []byte("{}")}
			if i%10 != 0 {
				m.Subject, m.ArtifactType = digest.FromString(fmt.Sprint(i-i%10)), fmt.Sprintf("type-%d", i%3)
			}
			if err := tx.PutManifest("big", m, meta.Refs{Blobs: []digest.Digest{digest.FromString(fmt.Sprint("l", i))}}); err != nil {
				return err
			}
			if err := tx.EnsureRepository(fmt.Sprintf("repo-%05d", i)); err != nil {
				return err
			}
			if _, err := tx.PutTag("big", fmt.Sprintf("tag-%05d", i), m.Digest); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// No ANALYZE: berth does not run it, so these are the plans it gets.
	// Sorting in a temporary B-tree is fine where the rows are few.
	// A handful of signing keys exist at any time.
	mayScanOrSort := map[string]bool{qReposWithBlob: true, qReposWithBlobN: true, qManifestRefs: true, qSigningKeys: true}
	for _, q := range slices.Concat(readQueries, writeQueries) {
		name := strings.Join(strings.Fields(q), " ")
		t.Run(name[:min(len(name), 60)], func(t *testing.T) {
			args := make([]any, strings.Count(q, "?"))
			for i := range args {
				args[i] = "x"
			}
			rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			t.Logf("%s\n  -> %q", name, plan)
			for _, step := range plan {
				bad := strings.HasPrefix(step, "SCAN ") || strings.Contains(step, "TEMP B-TREE")
				if bad && !mayScanOrSort[q] {
					t.Errorf("plan step %q\nquery: %s\nplan: %q", step, name, plan)
				}
			}
		})
	}
	t.Run("list queries return everything", func(t *testing.T) {
		err := s.View(t.Context(), func(r meta.Reader) error {
			repos, err := r.ListRepositories("", 0)
			if err != nil {
				return err
			}
			tags, err := r.ListTags("big", "", 0)
			if len(repos) != 5001 || len(tags) != 5000 || !slices.IsSorted(repos) || !slices.IsSorted(tags) {
				t.Errorf("got %d repositories and %d tags (sorted: %v, %v), want 5001 and 5000 sorted",
					len(repos), len(tags), slices.IsSorted(repos), slices.IsSorted(tags))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestRebind(t *testing.T) {
	cases := []struct {
		numbered bool
		in, want string
	}{
		{false, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = ? AND c = ?"},
		{true, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{true, "SELECT 1", "SELECT 1"},
		{true, "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/%s", c.numbered, c.in), func(t *testing.T) {
			d := Dialect{NumberedParams: c.numbered}
			if got := d.rebind(c.in); got != c.want {
				t.Errorf("rebind = %q, want %q", got, c.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	d := testDialect()
	got, err := d.expand("CREATE TABLE x (id " + TypeRowID + ", b " + TypeBytes + ")")
	if err != nil || got != "CREATE TABLE x (id INTEGER PRIMARY KEY, b BLOB)" {
		t.Errorf("expand = %q, %v", got, err)
	}
	d.Types = map[string]string{TypeRowID: "BIGINT"}
	if _, err := d.expand("CREATE TABLE x (b " + TypeBytes + ")"); err == nil {
		t.Errorf("expand with a missing type succeeded")
	}
}
