package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

const (
	qUntaggedManifests = `SELECT r.name, m.digest, m.created_at FROM manifests m JOIN repositories r ON r.id = m.repo_id
		WHERE m.created_at < ? AND (r.name > ? OR (r.name = ? AND m.digest > ?))
		AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
		ORDER BY r.name, m.digest LIMIT ?`
	qManifestParents = `SELECT COUNT(*) FROM manifest_children c JOIN manifests m ON m.id = c.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND c.digest = ?`
	qUnreferencedLinks = `SELECT r.name, b.digest, b.created_at FROM blob_links b JOIN repositories r ON r.id = b.repo_id
		WHERE b.created_at < ? AND (r.name > ? OR (r.name = ? AND b.digest > ?))
		AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
			WHERE m.repo_id = b.repo_id AND mb.digest = b.digest)
		ORDER BY r.name, b.digest LIMIT ?`
	// Tags from "sha256-" up to "sha256." ('-' + 1), at least 71 bytes
	// long: the referrers tag schema's range of the tags index; the subject
	// is "sha256:" and the 64 characters after the prefix. Whether those are
	// hex, and the suffix one of the schema's, is the caller's check.
	qOrphanReferrerTags = `SELECT r.name, t.name, m.digest, t.updated_at FROM tags t
		JOIN repositories r ON r.id = t.repo_id JOIN manifests m ON m.id = t.manifest_id
		WHERE t.name >= 'sha256-' AND t.name < 'sha256.' AND LENGTH(t.name) >= 71 AND t.updated_at < ?
		AND (r.name > ? OR (r.name = ? AND t.name > ?))
		AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = t.repo_id AND s.digest = 'sha256:' || SUBSTR(t.name, 8, 64))
		ORDER BY r.name, t.name LIMIT ?`
	qLinkReferenced = `SELECT COUNT(*) FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND mb.digest = ?`
)

func (t *txn) refs(what, q string, before time.Time, repo string, d digest.Digest, n int) ([]meta.ManifestRef, error) {
	var out []meta.ManifestRef
	err := t.rows(what, q, []any{before.UnixNano(), repo, repo, string(d), limitOrAll(n)}, func(sc scanner) error {
		var (
			r       meta.ManifestRef
			dg      string
			created int64
		)
		if err := sc.Scan(&r.Repo, &dg, &created); err != nil {
			return err
		}
		r.Digest, r.CreatedAt = digest.Digest(dg), fromNanos(created)
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *txn) UntaggedManifests(before time.Time, afterRepo string, afterDigest digest.Digest, n int) ([]meta.ManifestRef, error) {
	return t.refs("untagged manifests", qUntaggedManifests, before, afterRepo, afterDigest, n)
}

func (t *txn) UnreferencedLinks(before time.Time, afterRepo string, afterDigest digest.Digest, n int) ([]meta.ManifestRef, error) {
	return t.refs("unreferenced blob links", qUnreferencedLinks, before, afterRepo, afterDigest, n)
}

func (t *txn) ManifestParents(repo string, d digest.Digest) (int, error) {
	var n int
	if err := t.queryRow(qManifestParents, []any{repo, string(d)}, &n); err != nil {
		return 0, fmt.Errorf("meta: parents of %s in %s: %w", d, repo, err)
	}
	return n, nil
}

func (t *txn) LinkReferenced(repo string, d digest.Digest) (bool, error) {
	var n int
	if err := t.queryRow(qLinkReferenced, []any{repo, string(d)}, &n); err != nil {
		return false, fmt.Errorf("meta: references to %s in %s: %w", d, repo, err)
	}
	return n > 0, nil
}

func (t *txn) LockDigests(ds ...digest.Digest) error {
	if t.s.d.DigestLocks == "" || len(ds) == 0 {
		return nil
	}
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = string(d)
	}
	if _, err := t.q.ExecContext(t.ctx, t.s.d.DigestLocks, keys); err != nil {
		return fmt.Errorf("meta: lock digests: %w", err)
	}
	return nil
}

func (t *txn) LinkedDigests(ds []digest.Digest) (map[digest.Digest]bool, error) {
	out := make(map[digest.Digest]bool, len(ds))
	if len(ds) == 0 {
		return out, nil
	}
	args := make([]any, len(ds))
	for i, d := range ds {
		args[i] = string(d)
	}
	q := `SELECT DISTINCT digest FROM blob_links WHERE digest IN (?` + strings.Repeat(", ?", len(ds)-1) + `)`
	err := t.rows("linked digests", q, args, func(sc scanner) error {
		var d string
		if err := sc.Scan(&d); err != nil {
			return err
		}
		out[digest.Digest(d)] = true
		return nil
	})
	return out, err
}

func (t *txn) OrphanReferrerTags(before time.Time, afterRepo, afterTag string, n int) ([]meta.TagRef, error) {
	var out []meta.TagRef
	err := t.rows("orphaned referrer tags", qOrphanReferrerTags, []any{before.UnixNano(), afterRepo, afterRepo, afterTag, limitOrAll(n)}, func(sc scanner) error {
		var (
			r       meta.TagRef
			dg      string
			updated int64
		)
		if err := sc.Scan(&r.Repo, &r.Tag, &dg, &updated); err != nil {
			return err
		}
		r.Digest, r.UpdatedAt = digest.Digest(dg), fromNanos(updated)
		out = append(out, r)
		return nil
	})
	return out, err
}
