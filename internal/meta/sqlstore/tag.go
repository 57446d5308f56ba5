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
	qTagPrevious = `SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ? AND t.name = ?`
	qPutTag      = `INSERT INTO tags (repo_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`
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

func (t *txn) PutTag(repo, tag string, d digest.Digest) (digest.Digest, error) {
	var manifestID, repoID int64
	if err := t.queryRow(qManifestID, []any{repo, string(d)}, &manifestID, &repoID); err != nil {
		return "", notFound(fmt.Sprintf("tag %s:%s: manifest %s", repo, tag, d), err)
	}
	var prev string
	err := t.queryRow(qTagPrevious, []any{repoID, tag}, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("meta: tag %s:%s: %w", repo, tag, err)
	}
	if prev == string(d) {
		return d, nil
	}
	if _, err := t.exec(qPutTag, repoID, tag, manifestID, time.Now().UnixNano()); err != nil {
		return "", fmt.Errorf("meta: tag %s:%s: %w", repo, tag, err)
	}
	return digest.Digest(prev), nil
}

func (t *txn) DeleteTag(repo, tag string) error {
	return t.execOne(fmt.Sprintf("delete tag %s:%s", repo, tag), qDeleteTag, repo, tag)
}
