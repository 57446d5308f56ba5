package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

const (
	qTag = `SELECT m.digest FROM repositories r JOIN tags t ON t.repo_id = r.id JOIN manifests m ON m.id = t.manifest_id
		WHERE r.name = ? AND t.name = ?`
	qListTags = `SELECT t.name FROM repositories r JOIN tags t ON t.repo_id = r.id
		WHERE r.name = ? AND t.name > ? ORDER BY t.name`
	qListTagsN = qListTags + ` LIMIT ?`
	qTagsOf    = `SELECT t.name FROM repositories r JOIN manifests m ON m.repo_id = r.id JOIN tags t ON t.manifest_id = m.id
		WHERE r.name = ? AND m.digest = ? ORDER BY t.name`
	qManifestID = `SELECT m.id, m.repo_id FROM repositories r JOIN manifests m ON m.repo_id = r.id
		WHERE r.name = ? AND m.digest = ?`
	qTagPrevious = `SELECT t.manifest_id, m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ? AND t.name = ?`
	qTagCreate   = `INSERT INTO tags (repo_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, name) DO NOTHING`
	// A compare-and-set: moves the tag only if it still points where the
	// transaction saw it point.
	qTagMove   = `UPDATE tags SET manifest_id = ?, updated_at = ? WHERE repo_id = ? AND name = ? AND manifest_id = ?`
	qDeleteTag = `DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND name = ?`
)

func (t *txn) Tag(repo, tag string) (digest.Digest, error) {
	var d string
	if err := t.queryRow(qTag, []any{repo, tag}, &d); err != nil {
		return "", notFound(fmt.Sprintf("tag %s:%s", repo, tag), err)
	}
	return digest.Digest(d), nil
}

func (t *txn) ListTags(repo, last string, n int) ([]string, error) {
	if n <= 0 {
		return t.column("list tags of "+repo, qListTags, repo, last)
	}
	return t.column("list tags of "+repo, qListTagsN, repo, last, n)
}

func (t *txn) TagsOf(repo string, d digest.Digest) ([]string, error) {
	return t.column(fmt.Sprintf("tags of %s in %s", d, repo), qTagsOf, repo, string(d))
}

// maxTagRaces bounds how often PutTag starts over because another
// transaction created, moved or deleted the tag between its read and its
// write.
const maxTagRaces = 100

// PutTag points tag at d and returns the digest it replaced. That digest is
// exact also where writers run concurrently (PostgreSQL at READ COMMITTED):
// a new tag is created only if nobody else created it, and a tag is moved
// with a compare-and-set on the manifest it was read to point at, which
// waits for a concurrent mover to commit and then fails, so PutTag reads
// again.
func (t *txn) PutTag(repo, tag string, d digest.Digest) (digest.Digest, error) {
	var manifestID, repoID int64
	if err := t.queryRow(qManifestID, []any{repo, string(d)}, &manifestID, &repoID); err != nil {
		return "", notFound(fmt.Sprintf("tag %s:%s: manifest %s", repo, tag, d), err)
	}
	now := time.Now().UnixNano()
	for range maxTagRaces {
		var (
			prevID int64
			prev   string
			q      = qTagMove
			args   = []any{manifestID, now, repoID, tag}
		)
		err := t.queryRow(qTagPrevious, []any{repoID, tag}, &prevID, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			q, args = qTagCreate, []any{repoID, tag, manifestID, now}
		case err != nil:
			return "", fmt.Errorf("meta: tag %s:%s: %w", repo, tag, err)
		case prev == string(d):
			return d, nil
		default:
			args = append(args, prevID)
		}
		res, err := t.exec(q, args...)
		if err != nil {
			return "", fmt.Errorf("meta: tag %s:%s: %w", repo, tag, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return "", fmt.Errorf("meta: tag %s:%s: %w", repo, tag, err)
		}
		if n == 1 {
			return digest.Digest(prev), nil
		}
	}
	return "", fmt.Errorf("meta: tag %s:%s: changed by other transactions %d times in a row", repo, tag, maxTagRaces)
}

func (t *txn) DeleteTag(repo, tag string) error {
	return t.execOne(fmt.Sprintf("delete tag %s:%s", repo, tag), qDeleteTag, repo, tag)
}
