package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Project usage is kept by reference counting, in the same transactions as
// the manifest writes:
//
//	project_usage  (project, digest) → size, refs
//	               refs = manifests of the project whose own digest it is
//	                    + manifests of the project that reference it as a blob
//	project_totals project → bytes = SUM(size) of its project_usage rows
//
// A row appears when refs goes from 0 to 1 (its size joins the total) and
// goes when refs drops to 0 (its size leaves it). Every writer first
// updates the project's project_totals row, which serialises the writers of
// one project on PostgreSQL (a row lock until commit); the quota check of a
// push takes the same lock (LockProjectUsage) before it looks.
//
// The size of a blob comes from the blob link of the manifest's repository.
// A manifest put by a caller that did not link its blobs (the registry
// always does) counts them with size 0 until a later manifest of the
// project references them with a known size; the reference counts stay
// exact either way.

// projectLetters are the characters of a repository name's first
// component (the distribution name grammar allows only lowercase letters,
// digits and separators there): trimming them from the left leaves "" or
// "/rest", whose length tells where the project name ends. Written with
// substr, length and ltrim so that one expression runs on SQLite and
// PostgreSQL alike.
const projectLetters = `'abcdefghijklmnopqrstuvwxyz0123456789._-'`

// projectOfSQL is the SQL expression for the project of the repository name
// in column col.
func projectOfSQL(col string) string {
	return `substr(` + col + `, 1, length(` + col + `) - length(ltrim(` + col + `, ` + projectLetters + `)))`
}

func quotaMigration() Migration {
	proj := projectOfSQL("r.name")
	return Migration{
		Version: 9,
		Name:    "project quotas",
		Statements: []string{
			`ALTER TABLE projects ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0`,
			`CREATE TABLE project_usage (
				project ` + TypeKeyText + ` NOT NULL,
				digest TEXT NOT NULL,
				size BIGINT NOT NULL,
				refs BIGINT NOT NULL,
				PRIMARY KEY (project, digest)
			)`,
			`CREATE TABLE project_totals (
				project ` + TypeKeyText + ` PRIMARY KEY,
				bytes BIGINT NOT NULL
			)`,
			// What the manifests stored so far hold.
			`INSERT INTO project_usage (project, digest, size, refs)
				SELECT x.project, x.digest, MAX(x.size), COUNT(*) FROM (
					SELECT ` + proj + ` AS project, m.digest AS digest, m.size AS size
						FROM manifests m JOIN repositories r ON r.id = m.repo_id
					UNION ALL
					SELECT ` + proj + `, mb.digest, COALESCE(b.size, 0)
						FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
						JOIN repositories r ON r.id = m.repo_id
						LEFT JOIN blob_links b ON b.repo_id = m.repo_id AND b.digest = mb.digest
				) x GROUP BY x.project, x.digest`,
			`INSERT INTO project_totals (project, bytes)
				SELECT project, SUM(size) FROM project_usage GROUP BY project`,
		},
	}
}

// blobsOfManifest is the blobs the manifest stored as row ? references,
// sized by the blob links of its repository (0 when unlinked).
const blobsOfManifest = `FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
	LEFT JOIN blob_links b ON b.repo_id = m.repo_id AND b.digest = mb.digest`

// inManifest restricts project_usage rows to the digests of one manifest.
// Parameters: digest, manifest id.
const inManifest = `(digest = ? OR digest IN (SELECT digest FROM manifest_blobs WHERE manifest_id = ?))`

const (
	qProjectUsage    = `SELECT bytes FROM project_totals WHERE project = ?`
	qListUsage       = `SELECT project, bytes FROM project_totals ORDER BY project`
	qTotalUsage      = `SELECT COALESCE(SUM(size), 0) FROM (SELECT digest, MAX(size) AS size FROM project_usage GROUP BY digest) x`
	qUsageCounts     = `SELECT refs FROM project_usage WHERE project = ? AND digest = ?`
	qSetProjectQuota = `UPDATE projects SET quota_bytes = ? WHERE name = ?`
	// Takes the project's row lock (PostgreSQL) and returns its total.
	qLockUsage = `INSERT INTO project_totals (project, bytes) VALUES (?, 0)
		ON CONFLICT (project) DO UPDATE SET bytes = project_totals.bytes RETURNING bytes`
	qAddUsage = `UPDATE project_totals SET bytes = bytes + ? WHERE project = ?`
	// What a new manifest's blobs add: those not counted yet, and those
	// counted with size 0 that now have a size. Parameters: project,
	// manifest id.
	qUsageGrowth = `SELECT CAST(COALESCE(SUM(COALESCE(b.size, 0) - COALESCE(u.size, 0)), 0) AS BIGINT)
		` + blobsOfManifest + ` LEFT JOIN project_usage u ON u.project = ? AND u.digest = mb.digest
		WHERE mb.manifest_id = ? AND (u.digest IS NULL OR (u.size = 0 AND b.size > 0))`
	qUsageRefBlobs = `INSERT INTO project_usage (project, digest, size, refs)
		SELECT ?, mb.digest, COALESCE(b.size, 0), 1 ` + blobsOfManifest + ` WHERE mb.manifest_id = ?
		ON CONFLICT (project, digest) DO UPDATE SET refs = project_usage.refs + 1,
			size = CASE WHEN project_usage.size = 0 THEN excluded.size ELSE project_usage.size END`
	qUsageSize = `SELECT size FROM project_usage WHERE project = ? AND digest = ?`
	qUsageRef  = `INSERT INTO project_usage (project, digest, size, refs) VALUES (?, ?, ?, 1)
		ON CONFLICT (project, digest) DO UPDATE SET refs = project_usage.refs + 1,
			size = CASE WHEN project_usage.size = 0 THEN excluded.size ELSE project_usage.size END`
	qUsageUnrefManifest = `UPDATE project_usage SET refs = refs - 1 WHERE project = ? AND ` + inManifest
	qUsageDropManifest  = `DELETE FROM project_usage WHERE project = ? AND refs <= 0 AND ` + inManifest + ` RETURNING size`
	// A repository's references to each digest: the manifest with that
	// digest (0 or 1) and the manifests that reference it as a blob.
	qUsageUnrefRepo = `UPDATE project_usage SET refs = refs
		- (SELECT COUNT(*) FROM manifests m WHERE m.repo_id = ? AND m.digest = project_usage.digest)
		- (SELECT COUNT(*) FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
			WHERE m.repo_id = ? AND mb.digest = project_usage.digest)
		WHERE project = ? AND digest IN (SELECT digest FROM manifests WHERE repo_id = ?
			UNION SELECT mb.digest FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id WHERE m.repo_id = ?)`
	qUsageDropRepo = `DELETE FROM project_usage WHERE project = ? AND refs <= 0 RETURNING size`
	qRepoID        = `SELECT id FROM repositories WHERE name = ?`
)

func (t *txn) TotalUsage() (int64, error) {
	var n int64
	if err := t.queryRow(qTotalUsage, nil, &n); err != nil {
		return 0, fmt.Errorf("meta: total usage: %w", err)
	}
	return n, nil
}

func (t *txn) ProjectUsage(project string) (int64, error) {
	var n int64
	err := t.queryRow(qProjectUsage, []any{project}, &n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("meta: usage of project %s: %w", project, err)
	}
	return n, nil
}

func (t *txn) ListProjectUsage() ([]meta.ProjectUsage, error) {
	var out []meta.ProjectUsage
	err := t.rows("project usage", qListUsage, nil, func(sc scanner) error {
		var u meta.ProjectUsage
		if err := sc.Scan(&u.Project, &u.Bytes); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

func (t *txn) UsageCounts(project string, d digest.Digest) (bool, error) {
	var refs int64
	err := t.queryRow(qUsageCounts, []any{project, string(d)}, &refs)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("meta: usage of %s in project %s: %w", d, project, err)
	}
	return refs > 0, nil
}

func (t *txn) SetProjectQuota(project string, bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("meta: quota of project %s: negative (%d)", project, bytes)
	}
	return t.execOne("set quota of project "+project, qSetProjectQuota, bytes, project)
}

func (t *txn) LockProjectUsage(project string) (int64, error) {
	var n int64
	if err := t.queryRow(qLockUsage, []any{project}, &n); err != nil {
		return 0, fmt.Errorf("meta: lock usage of project %s: %w", project, err)
	}
	return n, nil
}

// addUsage adds delta bytes to the project's total (whose row
// LockProjectUsage made sure of).
func (t *txn) addUsage(project string, delta int64) error {
	if delta == 0 {
		return nil
	}
	if _, err := t.exec(qAddUsage, delta, project); err != nil {
		return fmt.Errorf("meta: usage of project %s: %w", project, err)
	}
	return nil
}

// countManifest adds the manifest just inserted as row id (with its
// references) to the usage of repo's project.
func (t *txn) countManifest(repo string, id int64, m meta.Manifest) error {
	project := meta.ProjectOf(repo)
	if _, err := t.LockProjectUsage(project); err != nil {
		return err
	}
	what := fmt.Sprintf("usage of manifest %s in %s", m.Digest, repo)
	var growth, had int64
	if err := t.queryRow(qUsageGrowth, []any{project, id}, &growth); err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	if err := t.queryRow(qUsageSize, []any{project, string(m.Digest)}, &had); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	if had == 0 {
		growth += m.Size
	}
	if _, err := t.exec(qUsageRefBlobs, project, id); err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	if _, err := t.exec(qUsageRef, project, string(m.Digest), m.Size); err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	return t.addUsage(project, growth)
}

// uncountManifest takes the manifest stored as row id (about to be deleted)
// out of the usage of repo's project.
func (t *txn) uncountManifest(repo string, id int64, d digest.Digest) error {
	project := meta.ProjectOf(repo)
	if _, err := t.LockProjectUsage(project); err != nil {
		return err
	}
	if _, err := t.exec(qUsageUnrefManifest, project, string(d), id); err != nil {
		return fmt.Errorf("meta: usage of manifest %s in %s: %w", d, repo, err)
	}
	freed, err := t.sumSizes("usage of manifest "+string(d), qUsageDropManifest, project, string(d), id)
	if err != nil {
		return err
	}
	return t.addUsage(project, -freed)
}

// uncountRepository takes every manifest of the repository (row id, about
// to be deleted) out of its project's usage.
func (t *txn) uncountRepository(repo string, id int64) error {
	project := meta.ProjectOf(repo)
	if _, err := t.LockProjectUsage(project); err != nil {
		return err
	}
	if _, err := t.exec(qUsageUnrefRepo, id, id, project, id, id); err != nil {
		return fmt.Errorf("meta: usage of repository %s: %w", repo, err)
	}
	freed, err := t.sumSizes("usage of repository "+repo, qUsageDropRepo, project)
	if err != nil {
		return err
	}
	return t.addUsage(project, -freed)
}

// sumSizes runs a DELETE … RETURNING size and adds the sizes up.
func (t *txn) sumSizes(what, q string, args ...any) (int64, error) {
	var sum int64
	err := t.rows(what, q, args, func(sc scanner) error {
		var n int64
		if err := sc.Scan(&n); err != nil {
			return err
		}
		sum += n
		return nil
	})
	return sum, err
}
