package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Migration is one step of the schema history. Its statements run in one
// transaction together with the row that records the new version.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// ErrSchemaTooNew is wrapped by the error New returns when the database was
// migrated by a newer berth than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this berth supports")

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

const selectSchemaVersion = `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`

// CoreMigrations returns the schema history of the metadata index, written
// once for every dialect with the Type* placeholders. New entries are only
// ever appended; a released migration is never edited.
func CoreMigrations() []Migration {
	return append(baseMigrations(), pullStatsMigration(), quotaMigration(), retentionMigration(), webhookMigration(),
		manifestSeenMigration(), proxyMigration(), replicationMigration(), signatureMigration(), scanMigration(), scannersMigration(),
		uploadEndsMigration())
}

// baseMigrations are versions 1 to 7; each later one has its own function
// next to the queries that use its tables.
func baseMigrations() []Migration {
	return []Migration{{
		Version: 1,
		Name:    "initial schema",
		Statements: []string{
			`CREATE TABLE repositories (
				id ` + TypeRowID + `,
				name ` + TypeKeyText + ` NOT NULL UNIQUE,
				created_at BIGINT NOT NULL
			)`,
			`CREATE TABLE blob_links (
				repo_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
				digest TEXT NOT NULL,
				size BIGINT NOT NULL,
				created_at BIGINT NOT NULL,
				PRIMARY KEY (repo_id, digest)
			)`,
			`CREATE INDEX blob_links_digest ON blob_links (digest, repo_id)`,
			// content is the last column: SQLite then never reads a large
			// manifest's overflow pages to reach the other columns.
			`CREATE TABLE manifests (
				id ` + TypeRowID + `,
				repo_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
				digest TEXT NOT NULL,
				media_type TEXT NOT NULL,
				artifact_type TEXT NOT NULL,
				size BIGINT NOT NULL,
				subject TEXT,
				annotations TEXT,
				created_at BIGINT NOT NULL,
				content ` + TypeBytes + ` NOT NULL,
				UNIQUE (repo_id, digest)
			)`,
			`CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest)`,
			`CREATE TABLE manifest_blobs (
				manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
				digest TEXT NOT NULL,
				PRIMARY KEY (manifest_id, digest)
			)`,
			`CREATE INDEX manifest_blobs_digest ON manifest_blobs (digest)`,
			`CREATE TABLE manifest_children (
				manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
				digest TEXT NOT NULL,
				PRIMARY KEY (manifest_id, digest)
			)`,
			`CREATE INDEX manifest_children_digest ON manifest_children (digest)`,
			`CREATE TABLE tags (
				repo_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
				name ` + TypeKeyText + ` NOT NULL,
				manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
				updated_at BIGINT NOT NULL,
				PRIMARY KEY (repo_id, name)
			)`,
			`CREATE INDEX tags_manifest ON tags (manifest_id, name)`,
			`CREATE TABLE uploads (
				id TEXT PRIMARY KEY,
				repo TEXT NOT NULL,
				algorithm TEXT NOT NULL,
				byte_offset BIGINT NOT NULL,
				hash_state ` + TypeBytes + `,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL
			)`,
			`CREATE INDEX uploads_updated ON uploads (updated_at, id)`,
			`CREATE TABLE events (
				id ` + TypeSerialID + `,
				kind TEXT NOT NULL,
				repo TEXT NOT NULL,
				digest TEXT NOT NULL,
				tag TEXT NOT NULL,
				media_type TEXT NOT NULL,
				size BIGINT NOT NULL,
				created_at BIGINT NOT NULL
			)`,
		},
	}, {
		Version: 2,
		Name:    "leases",
		Statements: []string{
			`CREATE TABLE leases (
				name ` + TypeKeyText + ` PRIMARY KEY,
				holder TEXT NOT NULL,
				expires_at BIGINT NOT NULL
			)`,
		},
	}, {
		Version: 3,
		Name:    "access control",
		Statements: []string{
			`CREATE TABLE users (
				name ` + TypeKeyText + ` PRIMARY KEY,
				password_hash ` + TypeBytes + ` NOT NULL,
				admin BOOLEAN NOT NULL,
				disabled BOOLEAN NOT NULL,
				created_at BIGINT NOT NULL,
				password_changed_at BIGINT NOT NULL
			)`,
			`CREATE TABLE projects (
				name ` + TypeKeyText + ` PRIMARY KEY,
				public BOOLEAN NOT NULL,
				created_at BIGINT NOT NULL
			)`,
			`CREATE TABLE members (
				project ` + TypeKeyText + ` NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
				kind TEXT NOT NULL,
				name ` + TypeKeyText + ` NOT NULL,
				role TEXT NOT NULL,
				PRIMARY KEY (project, kind, name)
			)`,
			`CREATE INDEX members_principal ON members (kind, name, project)`,
			// project is '' for system robots; permissions is JSON.
			`CREATE TABLE robots (
				name ` + TypeKeyText + ` PRIMARY KEY,
				project ` + TypeKeyText + ` NOT NULL,
				description TEXT NOT NULL,
				secret_hash ` + TypeBytes + ` NOT NULL,
				permissions TEXT NOT NULL,
				expires_at BIGINT NOT NULL,
				disabled BOOLEAN NOT NULL,
				created_at BIGINT NOT NULL
			)`,
			`CREATE INDEX robots_project ON robots (project, name)`,
			`CREATE TABLE signing_keys (
				id ` + TypeKeyText + ` PRIMARY KEY,
				private_key ` + TypeBytes + ` NOT NULL,
				created_at BIGINT NOT NULL,
				retired_at BIGINT NOT NULL
			)`,
			// The public project every registry user expects to find.
			`INSERT INTO projects (name, public, created_at) VALUES ('library', TRUE, ` + strconv.FormatInt(time.Now().UnixNano(), 10) + `)`,
		},
	}, {
		Version: 4,
		Name:    "login throttling",
		Statements: []string{
			`CREATE TABLE login_throttles (
				key ` + TypeKeyText + ` PRIMARY KEY,
				failures BIGINT NOT NULL,
				window_start BIGINT NOT NULL,
				blocked_until BIGINT NOT NULL
			)`,
		},
	}, {
		Version: 5,
		Name:    "audit log",
		Statements: []string{
			`CREATE TABLE audit_events (
				id ` + TypeSerialID + `,
				at BIGINT NOT NULL,
				actor ` + TypeKeyText + ` NOT NULL,
				actor_kind TEXT NOT NULL,
				addr TEXT NOT NULL,
				action ` + TypeKeyText + ` NOT NULL,
				repo ` + TypeKeyText + ` NOT NULL,
				digest TEXT NOT NULL,
				tag TEXT NOT NULL,
				detail TEXT NOT NULL
			)`,
			`CREATE INDEX audit_events_at ON audit_events (at)`,
			`CREATE INDEX audit_events_actor ON audit_events (actor, id)`,
			`CREATE INDEX audit_events_repo ON audit_events (repo, id)`,
		},
	}, {
		Version: 6,
		Name:    "immutable tag rules",
		Statements: []string{
			`CREATE TABLE immutable_rules (
				id ` + TypeSerialID + `,
				project ` + TypeKeyText + ` NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
				repositories TEXT NOT NULL,
				tags TEXT NOT NULL,
				created_at BIGINT NOT NULL
			)`,
			`CREATE INDEX immutable_rules_project ON immutable_rules (project, id)`,
		},
	}, {
		Version: 7,
		Name:    "quarantined blobs",
		Statements: []string{
			`CREATE TABLE quarantined_blobs (
				digest ` + TypeKeyText + ` PRIMARY KEY,
				reason TEXT NOT NULL,
				at BIGINT NOT NULL
			)`,
		},
	}}
}

// expand replaces the dialect's type placeholders in stmt.
func (d *Dialect) expand(stmt string) (string, error) {
	for k, v := range d.Types {
		stmt = strings.ReplaceAll(stmt, k, v)
	}
	if i := strings.Index(stmt, "{{"); i >= 0 {
		end := min(len(stmt), i+24)
		return "", fmt.Errorf("sqlstore: dialect %s has no type for %q", d.Name, stmt[i:end])
	}
	return stmt, nil
}

// checkMigrations verifies that versions run 1, 2, 3, ... without gaps.
func checkMigrations(ms []Migration) error {
	for i, m := range ms {
		if m.Version != i+1 {
			return fmt.Errorf("sqlstore: migration %d (%q) has version %d, want %d", i, m.Name, m.Version, i+1)
		}
	}
	return nil
}

// migrate brings the schema to the latest version, one transaction per
// migration, on one connection held throughout (inside Dialect.MigrateLock
// and MigrateUnlock when set). The current version is read again inside each
// transaction, so two processes opening the same database at once apply each
// step once.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms := s.d.Migrations
	if err := checkMigrations(ms); err != nil {
		return err
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migration connection: %w", err)
	}
	defer conn.Close()
	if s.d.MigrateLock != "" {
		if _, err := conn.ExecContext(ctx, s.d.MigrateLock); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // the lock may have been granted
			return fmt.Errorf("sqlstore: take migration lock: %w", err)
		}
		defer func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, uerr := conn.ExecContext(uctx, s.d.MigrateUnlock); uerr != nil {
				// Never hand a connection that may still hold the lock
				// back to the pool.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
				if err == nil {
					err = fmt.Errorf("sqlstore: release migration lock: %w", uerr)
				}
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	for {
		done, err := s.migrateStep(ctx, conn, ms)
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) migrateStep(ctx context.Context, conn *sql.Conn, ms []Migration) (done bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlstore: begin migration: %w", err)
	}
	defer func() {
		if err != nil || done {
			_ = tx.Rollback()
		}
	}()
	var cur int
	if err := tx.QueryRowContext(ctx, selectSchemaVersion).Scan(&cur); err != nil {
		return false, fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	latest := len(ms)
	if cur > latest {
		return false, fmt.Errorf("%w: database schema version %d is newer than this berth supports (%d)", ErrSchemaTooNew, cur, latest)
	}
	if cur == latest {
		return true, nil
	}
	m := ms[cur]
	for i, stmt := range m.Statements {
		q, err := s.d.expand(stmt)
		if err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("sqlstore: migration %d (%s) statement %d: %w", m.Version, m.Name, i+1, err)
		}
	}
	ins := s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`)
	if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("sqlstore: record migration %d: %w", m.Version, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlstore: commit migration %d: %w", m.Version, err)
	}
	return false, nil
}

// SchemaVersion returns the schema version recorded in the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.View(ctx, func(r meta.Reader) error {
		return r.(*txn).RawQueryRow(selectSchemaVersion, nil, &v)
	})
	return v, err
}
