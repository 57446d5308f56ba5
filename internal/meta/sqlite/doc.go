// Package sqlite opens the metadata index in a SQLite database file
// (modernc.org/sqlite, pure Go) and supplies the SQLite dialect of
// sqlstore, which holds the queries, the schema and the migrations.
//
// The database runs in WAL mode. Update returns only after an fsync of the
// WAL that began after its commit (group commit: concurrent writers share
// one fsync), so a commit that Update acknowledged survives a crash or power
// loss. Foreign keys are on (tags and references go with their manifest) and
// the busy timeout is 10 s. Writes go through a pool of one connection whose
// transactions begin IMMEDIATE: concurrent Updates queue in the pool instead
// of failing with SQLITE_BUSY. Views run on a separate pool of query-only
// connections, each in a deferred read transaction (one WAL snapshot per
// View).
package sqlite
