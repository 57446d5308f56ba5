// Package pg opens the metadata index in a PostgreSQL database (pgx through
// database/sql) and supplies the PostgreSQL dialect of sqlstore, which holds
// the queries, the schema and the migrations shared with SQLite.
//
// What differs from SQLite:
//
//   - Many nodes share one database. Open migrates under a session advisory
//     lock (MigrateLockKey), so nodes that start at once against an empty
//     database migrate one after the other and the later ones find nothing
//     to do.
//   - Updates run concurrently, at READ COMMITTED (set explicitly, whatever
//     the server's default), on a pool of connections. Every write is one
//     statement that is safe there (inserts with ON CONFLICT, deletes), and
//     PutTag moves a tag with a compare-and-set, so the previous digest it
//     reports is the one it replaced. Writers of one hot row (the same tag
//     pushed from many places) queue on its row lock. Serialization failures
//     and deadlocks are retried by sqlstore after a short random wait.
//     READ COMMITTED does not protect a check that fn reads and then acts
//     on (a quota, an immutable tag): such code must lock what it read or
//     write conditionally, as PutTag does.
//   - Views run in read-only REPEATABLE READ transactions (one snapshot).
//   - Event ids come from an identity column, which numbers rows when they
//     are inserted, not when they commit. AppendEvent therefore takes a
//     transaction advisory lock (EventLockKey) before its insert: outbox
//     writers commit one at a time, in id order, and a reader following the
//     outbox with EventsAfter never skips an id that commits late.
//   - UpdateAsync sets synchronous_commit off for its transaction only.
//   - Names that are listed in order use TEXT COLLATE "C" (bytewise, Go's
//     string order) whatever the database's default collation is.
//
// Tests run against a real server when BERTH_TEST_PG_DSN is set (a superuser
// URL; scripts/lib/postgres.sh starts a private one): each test binary makes
// its own database and each store its own schema. Without it they skip, or
// fail when BERTH_REQUIRE_PG=1.
package pg
