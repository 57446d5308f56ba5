package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

func manifestSeenMigration() Migration {
	return Migration{
		Version: 12,
		Name:    "manifest sightings",
		Statements: []string{
			// When a client last checked a manifest by digest (HEAD): GC's
			// grace period counts from it too. Apart from manifests so that
			// reading it never touches a manifest's content pages.
			`CREATE TABLE manifest_seen (
				manifest_id BIGINT PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
				seen_at BIGINT NOT NULL
			)`,
		},
	}
}

const (
	qTouchManifest = `INSERT INTO manifest_seen (manifest_id, seen_at)
		SELECT m.id, ? FROM manifests m JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND m.digest = ?
		ON CONFLICT (manifest_id) DO UPDATE SET seen_at = excluded.seen_at`
	qManifestSeen = `SELECT s.seen_at FROM manifest_seen s JOIN manifests m ON m.id = s.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND m.digest = ?`
)

func (t *txn) TouchManifest(repo string, d digest.Digest, at time.Time) error {
	return t.execOne(fmt.Sprintf("manifest %s in %s", d, repo), qTouchManifest, nanos(at), repo, string(d))
}

func (t *txn) ManifestSeen(repo string, d digest.Digest) (time.Time, error) {
	var at int64
	err := t.queryRow(qManifestSeen, []any{repo, string(d)}, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("meta: when %s in %s was seen: %w", d, repo, err)
	}
	return fromNanos(at), nil
}
