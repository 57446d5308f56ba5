package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/opencontainers/go-digest"
)

const (
	manifestCols = `m.digest, m.media_type, m.artifact_type, m.size, m.subject, m.annotations, m.created_at`

	qManifest = `SELECT ` + manifestCols + `, m.content FROM manifests m JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? AND m.digest = ?`
	qManifestByTag = `SELECT ` + manifestCols + `, m.content FROM repositories r
		JOIN tags t ON t.repo_id = r.id JOIN manifests m ON m.id = t.manifest_id
		WHERE r.name = ? AND t.name = ?`
	qReferrers = `SELECT ` + manifestCols + ` FROM manifests m JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? AND m.subject = ?`
	qListManifests = `SELECT ` + manifestCols + `, m.content FROM manifests m JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? AND m.digest > ? ORDER BY m.digest LIMIT ?`
	qReferrersAll  = qReferrers + ` ORDER BY m.digest`
	qReferrersType = qReferrers + ` AND m.artifact_type = ? ORDER BY m.digest`
	qPutManifest   = `INSERT INTO manifests (repo_id, digest, media_type, artifact_type, size, subject, annotations, created_at, content)
		SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM repositories WHERE name = ?
		ON CONFLICT (repo_id, digest) DO NOTHING RETURNING id`
	qManifestBlob  = `INSERT INTO manifest_blobs (manifest_id, digest) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qManifestChild = `INSERT INTO manifest_children (manifest_id, digest) VALUES (?, ?) ON CONFLICT DO NOTHING`
	// Tags and references go with the manifest (ON DELETE CASCADE).
	qDeleteManifest = `DELETE FROM manifests WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`
	qManifestRefs   = `SELECT 'b', x.digest FROM manifest_blobs x JOIN manifests m ON m.id = x.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND m.digest = ?
		UNION ALL SELECT 'm', x.digest FROM manifest_children x JOIN manifests m ON m.id = x.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND m.digest = ?
		ORDER BY 1, 2`
)

// scanManifest reads manifestCols and, when withContent, the content.
func scanManifest(sc scanner, withContent bool) (meta.Manifest, error) {
	var (
		m               meta.Manifest
		d               string
		subject, annots sql.NullString
		created         int64
	)
	dest := []any{&d, &m.MediaType, &m.ArtifactType, &m.Size, &subject, &annots, &created}
	if withContent {
		dest = append(dest, &m.Content)
	}
	if err := sc.Scan(dest...); err != nil {
		return meta.Manifest{}, err
	}
	m.Digest, m.Subject, m.CreatedAt = digest.Digest(d), digest.Digest(subject.String), fromNanos(created)
	if annots.Valid && annots.String != "" {
		if err := json.Unmarshal([]byte(annots.String), &m.Annotations); err != nil {
			return meta.Manifest{}, fmt.Errorf("annotations of %s: %w", d, err)
		}
	}
	return m, nil
}

func (t *txn) Manifest(repo string, d digest.Digest) (meta.Manifest, error) {
	st, err := t.stmt(qManifest)
	if err != nil {
		return meta.Manifest{}, err
	}
	m, err := scanManifest(st.QueryRowContext(t.ctx, repo, string(d)), true)
	if err != nil {
		return meta.Manifest{}, notFound(fmt.Sprintf("manifest %s in %s", d, repo), err)
	}
	return m, nil
}

func (t *txn) ManifestByTag(repo, tag string) (meta.Manifest, error) {
	st, err := t.stmt(qManifestByTag)
	if err != nil {
		return meta.Manifest{}, err
	}
	m, err := scanManifest(st.QueryRowContext(t.ctx, repo, tag), true)
	if err != nil {
		return meta.Manifest{}, notFound(fmt.Sprintf("manifest tagged %s:%s", repo, tag), err)
	}
	return m, nil
}

func (t *txn) Referrers(repo string, subject digest.Digest, artifactType string) ([]meta.Manifest, error) {
	q, args := qReferrersAll, []any{repo, string(subject)}
	if artifactType != "" {
		q, args = qReferrersType, append(args, artifactType)
	}
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: referrers of %s in %s: %w", subject, repo, err)
	}
	defer rows.Close()
	var out []meta.Manifest
	for rows.Next() {
		m, err := scanManifest(rows, false)
		if err != nil {
			return nil, fmt.Errorf("meta: referrers of %s in %s: %w", subject, repo, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: referrers of %s in %s: %w", subject, repo, err)
	}
	return out, nil
}

// PutManifest stores m with its references. A zero CreatedAt means now. If
// the manifest is already in repo nothing changes (not even its references).
func (t *txn) PutManifest(repo string, m meta.Manifest, refs meta.Refs) error {
	if err := t.EnsureRepository(repo); err != nil {
		return err
	}
	var subject, annots any
	if m.Subject != "" {
		subject = string(m.Subject)
	}
	if len(m.Annotations) > 0 {
		b, err := json.Marshal(m.Annotations)
		if err != nil {
			return fmt.Errorf("meta: put manifest %s: annotations: %w", m.Digest, err)
		}
		annots = string(b)
	}
	content := m.Content
	if content == nil {
		content = []byte{}
	}
	var id int64
	err := t.queryRow(qPutManifest, []any{string(m.Digest), m.MediaType, m.ArtifactType, m.Size,
		subject, annots, nanos(m.CreatedAt), content, repo}, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // already there
	}
	if err != nil {
		return fmt.Errorf("meta: put manifest %s in %s: %w", m.Digest, repo, err)
	}
	for _, b := range refs.Blobs {
		if _, err := t.exec(qManifestBlob, id, string(b)); err != nil {
			return fmt.Errorf("meta: put manifest %s: blob reference %s: %w", m.Digest, b, err)
		}
	}
	for _, c := range refs.Manifests {
		if _, err := t.exec(qManifestChild, id, string(c)); err != nil {
			return fmt.Errorf("meta: put manifest %s: child reference %s: %w", m.Digest, c, err)
		}
	}
	return t.countManifest(repo, id, m)
}

func (t *txn) DeleteManifest(repo string, d digest.Digest) error {
	what := fmt.Sprintf("delete manifest %s from %s", d, repo)
	var id, repoID int64
	if err := t.queryRow(qManifestID, []any{repo, string(d)}, &id, &repoID); err != nil {
		return notFound(what, err)
	}
	if err := t.uncountManifest(repo, id, d); err != nil {
		return err
	}
	return t.execOne(what, qDeleteManifest, repo, string(d))
}

// ManifestRefs returns the references recorded for manifest d in repo
// (sorted; empty when the manifest has none or is not there). It is not
// part of meta.Reader; GC and the conformance suite reach it with a type
// assertion.
func (t *txn) ManifestRefs(repo string, d digest.Digest) (meta.Refs, error) {
	st, err := t.stmt(qManifestRefs)
	if err != nil {
		return meta.Refs{}, err
	}
	rows, err := st.QueryContext(t.ctx, repo, string(d), repo, string(d))
	if err != nil {
		return meta.Refs{}, fmt.Errorf("meta: references of %s in %s: %w", d, repo, err)
	}
	defer rows.Close()
	var refs meta.Refs
	for rows.Next() {
		var kind, ref string
		if err := rows.Scan(&kind, &ref); err != nil {
			return meta.Refs{}, fmt.Errorf("meta: references of %s in %s: %w", d, repo, err)
		}
		if kind == "b" {
			refs.Blobs = append(refs.Blobs, digest.Digest(ref))
		} else {
			refs.Manifests = append(refs.Manifests, digest.Digest(ref))
		}
	}
	return refs, rows.Err()
}

func (t *txn) ListManifests(repo string, after digest.Digest, n int) ([]meta.Manifest, error) {
	st, err := t.stmt(qListManifests)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, repo, string(after), limitOrAll(n))
	if err != nil {
		return nil, fmt.Errorf("meta: list manifests of %s: %w", repo, err)
	}
	defer rows.Close()
	var out []meta.Manifest
	for rows.Next() {
		m, err := scanManifest(rows, true)
		if err != nil {
			return nil, fmt.Errorf("meta: list manifests of %s: %w", repo, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: list manifests of %s: %w", repo, err)
	}
	return out, nil
}

// limitOrAll turns n <= 0 (no limit) into a LIMIT both dialects take.
func limitOrAll(n int) int {
	if n <= 0 {
		return math.MaxInt32
	}
	return n
}
