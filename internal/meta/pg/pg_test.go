package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/metatest"
	"github.com/berth-registry/berth/internal/meta/sqlstore"
)

// openT opens a store on dsn with dialect d and closes it when the test ends.
func openT(t testing.TB, dsn string, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	s, err := open(context.Background(), dsn, Options{}, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	needPG(t)
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := Open(t.Context(), freshSchema(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
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

func version(t *testing.T, s *sqlstore.Store) int {
	t.Helper()
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	needPG(t)
	latest := len(Dialect().Migrations)
	withExtra := Dialect()
	withExtra.Migrations = append(withExtra.Migrations, sqlstore.Migration{Version: latest + 1, Name: "test extra",
		Statements: []string{`CREATE TABLE test_extra (id ` + sqlstore.TypeRowID + `, note ` + sqlstore.TypeKeyText + ` NOT NULL)`}})

	t.Run("fresh database migrates to latest", func(t *testing.T) {
		s := openT(t, freshSchema(t), Dialect())
		if v := version(t, s); v != latest {
			t.Errorf("schema version %d, want %d", v, latest)
		}
	})
	t.Run("reopen is a no-op", func(t *testing.T) {
		dsn := freshSchema(t)
		s, err := Open(t.Context(), dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(t.Context(), func(tx meta.Tx) error { return tx.EnsureRepository("kept") }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openT(t, dsn, Dialect())
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
		dsn := freshSchema(t)
		s, err := Open(t.Context(), dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openT(t, dsn, withExtra)
		if v := version(t, s); v != latest+1 {
			t.Errorf("schema version %d, want %d", v, latest+1)
		}
		var n int
		if err := s.View(t.Context(), func(r meta.Reader) error {
			return rawQuery(r, "SELECT COUNT(*) FROM test_extra", &n)
		}); err != nil {
			t.Errorf("table of the new migration: %v", err)
		}
	})
	t.Run("newer database refused", func(t *testing.T) {
		dsn := freshSchema(t)
		s, err := open(t.Context(), dsn, Options{}, withExtra)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = Open(t.Context(), dsn, Options{})
		want := fmt.Sprintf("database schema version %d is newer than this berth supports (%d)", latest+1, latest)
		if err == nil || !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Open = %v, want an error saying %q", err, want)
		}
	})
	t.Run("failed migration leaves the previous version", func(t *testing.T) {
		dsn := freshSchema(t)
		broken := Dialect()
		broken.Migrations = append(broken.Migrations, sqlstore.Migration{Version: latest + 1, Name: "broken",
			Statements: []string{`CREATE TABLE half_done (x TEXT)`, `THIS IS NOT SQL`}})
		if s, err := open(t.Context(), dsn, Options{}, broken); err == nil {
			s.Close()
			t.Fatal("open with a broken migration succeeded")
		}
		s := openT(t, dsn, Dialect())
		if v := version(t, s); v != latest {
			t.Errorf("schema version %d, want %d", v, latest)
		}
		var half bool
		if err := s.View(t.Context(), func(r meta.Reader) error {
			return rawQuery(r, "SELECT to_regclass('half_done') IS NOT NULL", &half)
		}); err != nil || half {
			t.Errorf("half-applied migration left table half_done (%v, %v)", half, err)
		}
	})
	t.Run("nodes starting at once", func(t *testing.T) {
		dsn := freshSchema(t)
		const nodes = 6
		var wg sync.WaitGroup
		start := make(chan struct{})
		stores := make([]*sqlstore.Store, nodes)
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = open(t.Context(), dsn, Options{MaxOpenConns: 2}, withExtra)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("node %d: %v", i, err)
				continue
			}
			defer stores[i].Close()
		}
		if t.Failed() {
			return
		}
		var rows int
		if err := stores[0].View(t.Context(), func(r meta.Reader) error {
			return rawQuery(r, "SELECT COUNT(*) FROM schema_migrations", &rows)
		}); err != nil {
			t.Fatal(err)
		}
		if rows != latest+1 {
			t.Errorf("schema_migrations has %d rows, want %d", rows, latest+1)
		}
		// Every node released the migration lock.
		var held int
		if err := testDB.admin.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND objsubid = 1
			AND ((classid::bigint << 32) | objid::bigint) = $1`, MigrateLockKey).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held != 0 {
			t.Errorf("the migration lock is still held by %d sessions", held)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		name, dsn, want string
	}{
		{"empty", "", "empty DSN"},
		{"not a DSN", "postgres://u:secretpw@[::1", "pg: "},
		{"nobody listens", "postgres://u:secretpw@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", "127.0.0.1:1/db"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.Context(), c.dsn, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	cases := []struct {
		name    string
		in, out Options
	}{
		{"zero", Options{}, Options{MaxOpenConns: 16, MaxIdleConns: 16, ConnMaxLifetime: 30 * time.Minute}},
		{"idle above open", Options{MaxOpenConns: 4, MaxIdleConns: 9}, Options{MaxOpenConns: 4, MaxIdleConns: 4, ConnMaxLifetime: 30 * time.Minute}},
		{"kept", Options{MaxOpenConns: 8, MaxIdleConns: 2, ConnMaxLifetime: time.Hour}, Options{MaxOpenConns: 8, MaxIdleConns: 2, ConnMaxLifetime: time.Hour}},
		{"no lifetime limit", Options{ConnMaxLifetime: -1}, Options{MaxOpenConns: 16, MaxIdleConns: 16}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.in.withDefaults(); got != c.out {
				t.Errorf("withDefaults(%+v) = %+v, want %+v", c.in, got, c.out)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		err               error
		unique, retryable bool
	}{
		{&pgconn.PgError{Code: "23505"}, true, false},
		{fmt.Errorf("meta: tag: %w", &pgconn.PgError{Code: "40001"}), false, true},
		{&pgconn.PgError{Code: "40P01"}, false, true},
		{&pgconn.PgError{Code: "23503"}, false, false},
		{errors.New("40001"), false, false},
		{nil, false, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.err), func(t *testing.T) {
			if got := IsUniqueViolation(c.err); got != c.unique {
				t.Errorf("IsUniqueViolation = %v, want %v", got, c.unique)
			}
			if got := IsRetryable(c.err); got != c.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, c.retryable)
			}
		})
	}
}

// TestUpdateAsync: UpdateAsync commits with synchronous_commit off for its
// own transaction only; the next Update is durable again, also after a
// failed async transaction.
func TestUpdateAsync(t *testing.T) {
	s := openT(t, freshSchema(t), Dialect())
	mode := func(update func(context.Context, func(meta.Tx) error) error, fail bool) string {
		var got string
		err := update(t.Context(), func(tx meta.Tx) error {
			if err := rawQuery(tx, "SHOW synchronous_commit", &got); err != nil {
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
		{"async commit runs with synchronous_commit off", s.UpdateAsync, false, "off"},
		{"the next Update is durable", s.Update, false, "on"},
		{"a failed async transaction", s.UpdateAsync, true, "off"},
		{"is followed by a durable one", s.Update, false, "on"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := mode(st.update, st.fail); got != st.want {
				t.Errorf("synchronous_commit = %s, want %s", got, st.want)
			}
		})
	}
	if err := s.View(t.Context(), func(r meta.Reader) error { _, err := r.Repository("r"); return err }); err != nil {
		t.Fatalf("async commit not visible: %v", err)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	s := openT(t, freshSchema(t), Dialect())
	err := s.View(t.Context(), func(r meta.Reader) error {
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

func testManifest(name string) meta.Manifest {
	content := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","name":"` + name + `"}`)
	return meta.Manifest{
		Digest:       digest.FromBytes(content),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.oci.image.config.v1+json",
		Size:         int64(len(content)),
		Content:      content,
	}
}

// TestConcurrentTagMoves: 16 goroutines move one tag at once. Every move
// must report the digest it really replaced: the moves form one chain from
// "" through every manifest (PutTag's compare-and-set; a plain read then
// upsert reports one previous digest twice at READ COMMITTED).
func TestConcurrentTagMoves(t *testing.T) {
	d := Dialect()
	var retried atomic.Int64
	d.IsRetryable = func(err error) bool {
		ok := IsRetryable(err)
		if ok {
			retried.Add(1)
		}
		return ok
	}
	s := openT(t, freshSchema(t), d)
	const workers, rounds = 16, 10
	ms := make(map[digest.Digest]bool)
	var all []meta.Manifest
	for w := range workers {
		for i := range rounds {
			m := testManifest(fmt.Sprintf("%d/%d", w, i))
			ms[m.Digest] = true
			all = append(all, m)
		}
	}
	if err := s.Update(t.Context(), func(tx meta.Tx) error {
		for _, m := range all {
			if err := tx.PutManifest("hot", m, meta.Refs{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		moves = map[digest.Digest]digest.Digest{} // previous -> new
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				m := all[w*rounds+i]
				var prev digest.Digest
				err := s.Update(t.Context(), func(tx meta.Tx) error {
					var err error
					prev, err = tx.PutTag("hot", "latest", m.Digest)
					if err != nil {
						return err
					}
					return tx.AppendEvent(meta.Event{Kind: "manifest.push", Repo: "hot", Digest: m.Digest, Tag: "latest"})
				})
				if err != nil {
					t.Errorf("worker %d move %d: %v", w, i, err)
					continue
				}
				mu.Lock()
				if other, dup := moves[prev]; dup {
					t.Errorf("two moves replaced %.19q: to %.19s and %.19s", prev, other, m.Digest)
				}
				moves[prev] = m.Digest
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d serialization failures or deadlocks retried", retried.Load())
	if t.Failed() {
		return
	}
	// Walk the chain from "": it must visit every manifest once.
	seen, cur := 0, digest.Digest("")
	for {
		next, ok := moves[cur]
		if !ok {
			break
		}
		if !ms[next] {
			t.Fatalf("chain visits %s twice or an unknown manifest", next)
		}
		delete(ms, next)
		seen++
		cur = next
	}
	if seen != workers*rounds {
		t.Errorf("chain of tag moves has %d links, want %d", seen, workers*rounds)
	}
	if err := s.View(t.Context(), func(r meta.Reader) error {
		got, err := r.Tag("hot", "latest")
		if got != cur {
			t.Errorf("tag points at %.19s, the chain ends at %.19s", got, cur)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRetry: Update runs fn again after a serialization failure or a
// deadlock, and never after any other error.
func TestRetry(t *testing.T) {
	s := openT(t, freshSchema(t), Dialect())
	cases := []struct {
		name      string
		failures  []error // returned by the first attempts, in order
		wantCalls int
		wantErr   bool
	}{
		{"serialization failure", []error{&pgconn.PgError{Code: "40001"}}, 2, false},
		{"deadlock, wrapped, twice", []error{fmt.Errorf("meta: x: %w", &pgconn.PgError{Code: "40P01"}), &pgconn.PgError{Code: "40001"}}, 3, false},
		{"unique violation", []error{&pgconn.PgError{Code: "23505"}}, 1, true},
		{"plain error", []error{errors.New("refused")}, 1, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			repo := fmt.Sprintf("retry-%d", i)
			err := s.Update(t.Context(), func(tx meta.Tx) error {
				calls++
				if err := tx.EnsureRepository(repo); err != nil {
					return err
				}
				if calls <= len(c.failures) {
					return c.failures[calls-1]
				}
				return nil
			})
			if calls != c.wantCalls || (err != nil) != c.wantErr {
				t.Errorf("fn ran %d times, Update = %v; want %d runs, error %v", calls, err, c.wantCalls, c.wantErr)
			}
			var exists bool
			if verr := s.View(t.Context(), func(r meta.Reader) error {
				_, err := r.Repository(repo)
				exists = err == nil
				return nil
			}); verr != nil {
				t.Fatal(verr)
			}
			if exists == c.wantErr {
				t.Errorf("repository committed = %v after Update = %v", exists, err)
			}
		})
	}
}
