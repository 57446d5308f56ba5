package sqlstore

import (
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/opencontainers/go-digest"
)

// nanos converts t for storage; the zero time means now.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().UnixNano()
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

const (
	qRepository    = `SELECT created_at FROM repositories WHERE name = ?`
	qListRepos     = `SELECT name FROM repositories WHERE name > ? ORDER BY name`
	qListReposN    = qListRepos + ` LIMIT ?`
	qEnsureRepo    = `INSERT INTO repositories (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`
	qDeleteRepo    = `DELETE FROM repositories WHERE name = ?`
	qBlobLink      = `SELECT b.size FROM blob_links b JOIN repositories r ON r.id = b.repo_id WHERE r.name = ? AND b.digest = ?`
	qListBlobLinks = `SELECT b.digest, b.size FROM blob_links b JOIN repositories r ON r.id = b.repo_id
		WHERE r.name = ? AND b.digest > ? ORDER BY b.digest LIMIT ?`
	qReposWithBlob  = `SELECT r.name FROM blob_links b JOIN repositories r ON r.id = b.repo_id WHERE b.digest = ? ORDER BY r.name`
	qReposWithBlobN = qReposWithBlob + ` LIMIT ?`
	qLinkBlob       = `INSERT INTO blob_links (repo_id, digest, size, created_at) SELECT id, ?, ?, ? FROM repositories WHERE name = ? ON CONFLICT (repo_id, digest) DO UPDATE SET created_at = excluded.created_at`
	qBlobLinkInfo   = `SELECT b.size, b.created_at FROM blob_links b JOIN repositories r ON r.id = b.repo_id WHERE r.name = ? AND b.digest = ?`
	qTouchBlobLink  = `UPDATE blob_links SET created_at = ? WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`
	qUnlinkBlob     = `DELETE FROM blob_links WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`
)

func (t *txn) Repository(name string) (meta.Repository, error) {
	var created int64
	if err := t.queryRow(qRepository, []any{name}, &created); err != nil {
		return meta.Repository{}, notFound("repository "+name, err)
	}
	return meta.Repository{Name: name, CreatedAt: fromNanos(created)}, nil
}

func (t *txn) ListRepositories(last string, n int) ([]string, error) {
	if n <= 0 {
		return t.column("list repositories", qListRepos, last)
	}
	return t.column("list repositories", qListReposN, last, n)
}

func (t *txn) DeleteRepository(name string) error {
	what := "delete repository " + name
	var id int64
	if err := t.queryRow(qRepoID, []any{name}, &id); err != nil {
		return notFound(what, err)
	}
	if err := t.uncountRepository(name, id); err != nil {
		return err
	}
	return t.execOne(what, qDeleteRepo, name)
}

func (t *txn) EnsureRepository(name string) error {
	if _, err := t.exec(qEnsureRepo, name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("meta: ensure repository %s: %w", name, err)
	}
	return nil
}

func (t *txn) BlobLink(repo string, d digest.Digest) (int64, error) {
	var size int64
	if err := t.queryRow(qBlobLink, []any{repo, string(d)}, &size); err != nil {
		return 0, notFound(fmt.Sprintf("blob %s in %s", d, repo), err)
	}
	return size, nil
}

func (t *txn) BlobLinkInfo(repo string, d digest.Digest) (meta.BlobLink, error) {
	l := meta.BlobLink{Digest: d}
	var at int64
	if err := t.queryRow(qBlobLinkInfo, []any{repo, string(d)}, &l.Size, &at); err != nil {
		return l, notFound(fmt.Sprintf("blob %s in %s", d, repo), err)
	}
	l.LinkedAt = fromNanos(at)
	return l, nil
}

func (t *txn) TouchBlobLink(repo string, d digest.Digest, at time.Time) error {
	return t.execOne(fmt.Sprintf("blob %s in %s", d, repo), qTouchBlobLink, nanos(at), repo, string(d))
}

func (t *txn) ReposWithBlob(d digest.Digest, limit int) ([]string, error) {
	if limit <= 0 {
		return t.column("repositories with blob", qReposWithBlob, string(d))
	}
	return t.column("repositories with blob", qReposWithBlobN, string(d), limit)
}

func (t *txn) LinkBlob(repo string, d digest.Digest, size int64) error {
	if err := t.EnsureRepository(repo); err != nil {
		return err
	}
	if _, err := t.exec(qLinkBlob, string(d), size, time.Now().UnixNano(), repo); err != nil {
		return fmt.Errorf("meta: link blob %s to %s: %w", d, repo, err)
	}
	return t.sizeUsage(repo, string(d), size)
}

func (t *txn) UnlinkBlob(repo string, d digest.Digest) error {
	return t.execOne(fmt.Sprintf("unlink blob %s from %s", d, repo), qUnlinkBlob, repo, string(d))
}

func (t *txn) ListBlobLinks(repo string, after digest.Digest, n int) ([]meta.BlobLink, error) {
	st, err := t.stmt(qListBlobLinks)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, repo, string(after), limitOrAll(n))
	if err != nil {
		return nil, fmt.Errorf("meta: list blobs of %s: %w", repo, err)
	}
	defer rows.Close()
	var out []meta.BlobLink
	for rows.Next() {
		var l meta.BlobLink
		var d string
		if err := rows.Scan(&d, &l.Size); err != nil {
			return nil, fmt.Errorf("meta: list blobs of %s: %w", repo, err)
		}
		l.Digest = digest.Digest(d)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list blobs of %s: %w", repo, err)
	}
	return out, nil
}
