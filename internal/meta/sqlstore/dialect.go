package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
)

// Dialect is what differs between the SQL databases the Store runs on.
type Dialect struct {
	// Name identifies the dialect in errors ("sqlite", "postgres").
	Name string
	// NumberedParams rewrites the '?' placeholders of every query to $1, $2,
	// ... (PostgreSQL). False keeps '?' (SQLite).
	NumberedParams bool
	// Types replaces the placeholders in the schema migrations: each key
	// (for example "{{bytes}}") is replaced by its value ("BLOB", "BYTEA").
	// Every placeholder used by Migrations must be present.
	Types map[string]string
	// Migrations is the ordered schema history (usually CoreMigrations).
	// Versions start at 1 and increase by one.
	Migrations []Migration
	// IsUniqueViolation reports whether err is a unique/primary key violation.
	IsUniqueViolation func(error) bool
	// IsRetryable reports whether a transaction that failed with err may be
	// run again from the start (PostgreSQL serialization failure or
	// deadlock). Nil means never retry.
	IsRetryable func(error) bool
	// BeginRead, when set, is the statement that starts a View's read-only
	// snapshot transaction on a connection the Store keeps for reads, with
	// every read query prepared on it ("BEGIN" on SQLite). EndRead ends it
	// ("ROLLBACK" when empty). This skips database/sql's Tx machinery and
	// the driver's per-transaction parsing of BEGIN and ROLLBACK, about a
	// third of the cost of a one-query View on SQLite. When BeginRead is
	// empty, View uses sql.DB.BeginTx with ReadOnly and ReadIsolation.
	// The kept connections never return to the read pool, so BeginRead
	// needs a read pool of its own, not the write pool.
	BeginRead, EndRead string
	// ReadIsolation is the isolation level of a View's transaction when
	// BeginRead is empty. It must give one snapshot for the whole View
	// (sql.LevelRepeatableRead on PostgreSQL; SQLite's default is fine).
	ReadIsolation sql.IsolationLevel
	// AsyncBefore and AsyncAfter run on the write connection around an
	// UpdateAsync transaction (SQLite opened with Synchronous FULL: PRAGMA
	// synchronous=NORMAL, then back to FULL); AsyncInTx runs first inside it (PostgreSQL: SET LOCAL
	// synchronous_commit = off). All empty: UpdateAsync is Update.
	AsyncBefore, AsyncAfter, AsyncInTx string
	// Durable, when set, runs after each Update's commit and before Update
	// returns, to make the commit durable (SQLite: group commit, one WAL
	// fsync shared by the commits made while the previous one ran, the
	// connection itself committing without fsync). UpdateAsync skips it.
	// A failure is returned by Update although the change is committed.
	Durable func() error
	// WriteIsolation is the isolation level of Update's transactions;
	// sql.LevelDefault (zero) leaves the driver's default (SQLite, whose
	// writers run one at a time anyway). PostgreSQL sets
	// sql.LevelReadCommitted explicitly, whatever the server's default: the
	// queries are written for it (upserts, PutTag's compare-and-set), and
	// writers of one hot row queue on its lock instead of failing with
	// serialization failures over and over.
	WriteIsolation sql.IsolationLevel
	// MigrateLock and MigrateUnlock, when set, run on one connection before
	// and after the whole migration, so that several processes starting at
	// once against an empty database migrate one after the other
	// (PostgreSQL: a session advisory lock). The connection is dropped if
	// MigrateUnlock fails. Empty: no lock (SQLite).
	MigrateLock, MigrateUnlock string
	// EventLock, when set, runs in the transaction before each AppendEvent
	// insert and must hold a lock until the transaction ends, so that event
	// ids are handed out in commit order (PostgreSQL: a transaction advisory
	// lock). Without it a sequence numbers events in insert order: id 6 may
	// commit before id 5, and a reader that saw 6 would skip 5 for good.
	// SQLite runs one writer at a time and needs none.
	EventLock string
	// DigestLocks, when set, takes transaction locks on a set of digests
	// (one text[] parameter), held until the transaction ends, in a fixed
	// order: what garbage collection and the writes that reference blobs
	// and manifests take so that a sweep and a push never interleave
	// (PostgreSQL: transaction advisory locks). SQLite runs one writer at a
	// time and needs none.
	DigestLocks string
}

// Type placeholders used by CoreMigrations; a Dialect maps each to a column
// definition.
const (
	// TypeRowID is an auto-assigned 64-bit primary key column
	// ("INTEGER PRIMARY KEY" on SQLite, an identity BIGINT on PostgreSQL).
	TypeRowID = "{{row_id}}"
	// TypeSerialID is like TypeRowID but must never reuse a value, even
	// after the highest row was deleted (event ids are a cursor).
	TypeSerialID = "{{serial_id}}"
	// TypeBytes is a binary column (BLOB / BYTEA).
	TypeBytes = "{{bytes}}"
	// TypeKeyText is text that compares bytewise (TEXT / TEXT COLLATE "C").
	TypeKeyText = "{{key_text}}"
	// TableKeyed follows the closing parenthesis of a table whose rows
	// live in its primary key's index alone (SQLite: WITHOUT ROWID, one
	// B-tree instead of two; PostgreSQL: nothing).
	TableKeyed = "{{keyed}}"
)

// rebind rewrites '?' placeholders to $n when the dialect numbers them.
// Queries in this package never contain a literal '?'.
func (d *Dialect) rebind(q string) string {
	if !d.NumberedParams || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (d *Dialect) uniqueViolation(err error) bool {
	return err != nil && d.IsUniqueViolation != nil && d.IsUniqueViolation(err)
}

func (d *Dialect) retryable(err error) bool {
	return err != nil && d.IsRetryable != nil && d.IsRetryable(err)
}
