package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlstore"
)

var _ meta.Store = (*sqlstore.Store)(nil)

// Options tune Open; the zero value is what berth uses.
type Options struct {
	// Synchronous chooses how commits reach the disk. Empty (what berth
	// uses): group commit — the write connection runs with PRAGMA
	// synchronous=NORMAL and every Update then waits for an fsync of the WAL
	// shared with the commits made meanwhile (see groupSync); UpdateAsync
	// does not wait. "FULL": SQLite fsyncs at every commit itself. "NORMAL":
	// no fsync at commit at all — a power loss can roll back the last
	// commits; only benchmarks and tests should set it.
	Synchronous string
	// ReadConns is the size of the read pool (default max(4, GOMAXPROCS)).
	ReadConns int
	// BusyTimeoutMS is how long a connection waits for a lock held by
	// another process (default 10000).
	BusyTimeoutMS int
}

// Dialect returns the SQLite dialect of sqlstore with the core migrations.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name: "sqlite",
		Types: map[string]string{
			sqlstore.TypeRowID:    "INTEGER PRIMARY KEY",
			sqlstore.TypeSerialID: "INTEGER PRIMARY KEY AUTOINCREMENT",
			sqlstore.TypeBytes:    "BLOB",
			sqlstore.TypeKeyText:  "TEXT",
			sqlstore.TableKeyed:   "WITHOUT ROWID",
		},
		Migrations:        sqlstore.CoreMigrations(),
		IsUniqueViolation: isUniqueViolation,
		BeginRead:         "BEGIN",
		EndRead:           "ROLLBACK",
		// With Options.Synchronous FULL (open replaces these with the
		// group commit by default): in WAL mode NORMAL skips the fsync at
		// commit, the transaction is safe from a process crash, and the
		// next FULL commit syncs it.
		AsyncBefore: "PRAGMA synchronous=NORMAL",
		AsyncAfter:  "PRAGMA synchronous=FULL",
	}
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Open opens (creating if needed) the database file at path and migrates it
// to the latest schema.
func Open(path string) (*sqlstore.Store, error) {
	return OpenWith(context.Background(), path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, o Options) (*sqlstore.Store, error) {
	return open(ctx, path, o, Dialect())
}

func open(ctx context.Context, path string, o Options, d sqlstore.Dialect) (*sqlstore.Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: unsupported database path %q", path)
	}
	if o.Synchronous == "" {
		o.Synchronous = "NORMAL"
		d.Durable = newGroupSync(path + "-wal").Sync
		d.AsyncBefore, d.AsyncAfter = "", ""
	}
	if o.ReadConns <= 0 {
		o.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if o.BusyTimeoutMS <= 0 {
		o.BusyTimeoutMS = 10000
	}
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeoutMS))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous("+o.Synchronous+")")

	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer: SQLite serialises writers anyway, and queueing in the
	// pool costs nothing while lock contention costs busy-waits.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	if err := checkWAL(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}

	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Idle connections are kept: each holds its prepared statements and
	// page cache.
	read.SetMaxOpenConns(o.ReadConns)
	read.SetMaxIdleConns(o.ReadConns)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)

	s, err := sqlstore.New(ctx, read, write, d)
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}

// checkWAL makes sure the database really is in WAL mode (SQLite silently
// stays in rollback mode where WAL is unsupported, e.g. some network file
// systems), which the read/write pool split relies on.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
