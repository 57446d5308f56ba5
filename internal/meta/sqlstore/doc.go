// Package sqlstore implements meta.Store on database/sql. Everything that is
// the same on SQLite and PostgreSQL lives here: the schema (as migrations
// written once with a few type placeholders), the migration runner, every
// query and the transaction handling. A small Dialect supplies what differs:
// the placeholder style, the column types, how to classify driver errors and
// how a read transaction begins. Queries are written with '?' placeholders
// and rebound once, when they are prepared, for dialects that number them.
//
// Schema (all timestamps are BIGINT unix nanoseconds, UTC when read back):
//
//	schema_migrations (version PK, name, applied_at)
//	repositories      (id PK, name UNIQUE, created_at)
//	blob_links        (repo_id → repositories, digest, size, created_at)   PK (repo_id, digest); index (digest, repo_id)
//	manifests         (id PK, repo_id → repositories, digest, media_type, artifact_type, size,
//	                   subject NULL, annotations JSON NULL, created_at, content)  UNIQUE (repo_id, digest); index (repo_id, subject, digest)
//	manifest_blobs    (manifest_id → manifests CASCADE, digest)             PK (manifest_id, digest); index (digest)
//	manifest_children (manifest_id → manifests CASCADE, digest)             PK (manifest_id, digest); index (digest)
//	tags              (repo_id → repositories, name, manifest_id → manifests CASCADE, updated_at)
//	                                                                        PK (repo_id, name); index (manifest_id, name)
//	uploads           (id PK, repo, algorithm, byte_offset, hash_state NULL, created_at, updated_at)  index (updated_at, id)
//	events            (id PK never reused, kind, repo, digest, tag, media_type, size, created_at)
//
// Deleting a manifest deletes its tags and references through the foreign
// keys. Text columns listed in order (repository and tag names) must compare
// bytewise so that the order matches Go's string comparison: SQLite's default
// BINARY collation does; PostgreSQL must map TypeKeyText to TEXT COLLATE "C".
//
// Update runs on the write pool in an *sql.Tx, with every statement prepared
// when the Store is created and bound with Tx.StmtContext (which reuses the
// statement already prepared on the connection). View runs on the read pool:
// with Dialect.BeginRead set, on connections the Store keeps checked out
// with the read queries prepared on them, between BeginRead and EndRead;
// otherwise in a read-only *sql.Tx.
package sqlstore
