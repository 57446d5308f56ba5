package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func signatureMigration() Migration {
	return Migration{
		Version: 15,
		Name:    "signature policies",
		Statements: []string{
			// identities: one per line (a subject holds commas).
			`CREATE TABLE signature_policies (
				id ` + TypeSerialID + `,
				project ` + TypeKeyText + ` NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
				repositories ` + TypeKeyText + ` NOT NULL,
				dry_run BOOLEAN NOT NULL,
				keys TEXT NOT NULL,
				certificates TEXT NOT NULL,
				identities TEXT NOT NULL,
				version BIGINT NOT NULL,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL,
				UNIQUE (project, repositories)
			)`,
		},
	}
}

const (
	sigPolicyCols = `id, project, repositories, dry_run, keys, certificates, identities, version, created_at, updated_at`
	qSigPolicies  = `SELECT ` + sigPolicyCols + ` FROM signature_policies WHERE project = ? OR ? = '' ORDER BY id`
	qSigPolicy    = `SELECT ` + sigPolicyCols + ` FROM signature_policies WHERE id = ?`
	qAddSigPolicy = `INSERT INTO signature_policies (project, repositories, dry_run, keys, certificates, identities, version, created_at, updated_at)
		SELECT name, ?, ?, ?, ?, ?, 1, ?, ? FROM projects WHERE name = ?
		ON CONFLICT (project, repositories) DO NOTHING RETURNING id`
	qSigPolicyTaken = `SELECT COUNT(*) FROM signature_policies WHERE project = (SELECT project FROM signature_policies WHERE id = ?)
		AND repositories = ? AND id <> ?`
	qUpdSigPolicy = `UPDATE signature_policies SET repositories = ?, dry_run = ?, keys = ?, certificates = ?, identities = ?,
		version = version + 1, updated_at = ? WHERE id = ?`
	qDelSigPolicy     = `DELETE FROM signature_policies WHERE id = ?`
	qProjectExists    = `SELECT COUNT(*) FROM projects WHERE name = ?`
	qManifestParentsN = `SELECT m.digest FROM manifest_children c JOIN manifests m ON m.id = c.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND c.digest = ? ORDER BY m.digest LIMIT ?`
)

func scanSigPolicy(sc scanner) (meta.SignaturePolicy, error) {
	var (
		p                meta.SignaturePolicy
		ids              string
		created, updated int64
	)
	if err := sc.Scan(&p.ID, &p.Project, &p.Repositories, &p.DryRun, &p.Keys, &p.Certificates, &ids, &p.Version, &created, &updated); err != nil {
		return meta.SignaturePolicy{}, err
	}
	if ids != "" {
		p.Identities = strings.Split(ids, "\n")
	}
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return p, nil
}

func (t *txn) SignaturePolicies(project string) ([]meta.SignaturePolicy, error) {
	var out []meta.SignaturePolicy
	err := t.rows("signature policies", qSigPolicies, []any{project, project}, func(sc scanner) error {
		p, err := scanSigPolicy(sc)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (t *txn) SignaturePolicy(id int64) (meta.SignaturePolicy, error) {
	st, err := t.stmt(qSigPolicy)
	if err != nil {
		return meta.SignaturePolicy{}, err
	}
	p, err := scanSigPolicy(st.QueryRowContext(t.ctx, id))
	if err != nil {
		return meta.SignaturePolicy{}, notFound(fmt.Sprintf("signature policy %d", id), err)
	}
	return p, nil
}

func (t *txn) AddSignaturePolicy(p meta.SignaturePolicy) (int64, error) {
	now := p.CreatedAt
	if now.IsZero() {
		now = time.Now()
	}
	var id int64
	err := t.queryRow(qAddSigPolicy, []any{p.Repositories, p.DryRun, p.Keys, p.Certificates,
		strings.Join(p.Identities, "\n"), nanos(now), nanos(now), p.Project}, &id)
	if errors.Is(err, sql.ErrNoRows) {
		var n int64
		if err := t.queryRow(qProjectExists, []any{p.Project}, &n); err != nil {
			return 0, fmt.Errorf("meta: add signature policy to %s: %w", p.Project, err)
		}
		if n == 0 {
			return 0, fmt.Errorf("meta: project %s: %w", p.Project, meta.ErrNotFound)
		}
		return 0, fmt.Errorf("meta: signature policy of %s for %q: %w", p.Project, p.Repositories, meta.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("meta: add signature policy to %s: %w", p.Project, err)
	}
	return id, nil
}

func (t *txn) UpdateSignaturePolicy(p meta.SignaturePolicy) error {
	var taken int64
	if err := t.queryRow(qSigPolicyTaken, []any{p.ID, p.Repositories, p.ID}, &taken); err != nil {
		return fmt.Errorf("meta: update signature policy %d: %w", p.ID, err)
	}
	if taken > 0 {
		return fmt.Errorf("meta: signature policy for %q: %w", p.Repositories, meta.ErrExists)
	}
	now := p.UpdatedAt
	if now.IsZero() {
		now = time.Now()
	}
	return t.execOne(fmt.Sprintf("signature policy %d", p.ID), qUpdSigPolicy, p.Repositories, p.DryRun, p.Keys,
		p.Certificates, strings.Join(p.Identities, "\n"), nanos(now), p.ID)
}

func (t *txn) DeleteSignaturePolicy(id int64) error {
	return t.execOne(fmt.Sprintf("signature policy %d", id), qDelSigPolicy, id)
}

func (t *txn) ManifestParentDigests(repo string, d digest.Digest, n int) ([]digest.Digest, error) {
	var out []digest.Digest
	err := t.rows("parents of "+string(d), qManifestParentsN, []any{repo, string(d), n}, func(sc scanner) error {
		var s string
		if err := sc.Scan(&s); err != nil {
			return err
		}
		out = append(out, digest.Digest(s))
		return nil
	})
	return out, err
}
