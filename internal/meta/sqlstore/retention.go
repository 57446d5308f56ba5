package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func retentionMigration() Migration {
	return Migration{
		Version: 10,
		Name:    "retention rules",
		Statements: []string{
			// count serves keep-last, age (nanoseconds) the rules by age.
			`CREATE TABLE retention_rules (
				id ` + TypeSerialID + `,
				project ` + TypeKeyText + ` NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
				repositories TEXT NOT NULL,
				tags TEXT NOT NULL,
				kind TEXT NOT NULL,
				count BIGINT NOT NULL,
				age BIGINT NOT NULL,
				created_at BIGINT NOT NULL
			)`,
			`CREATE INDEX retention_rules_project ON retention_rules (project, id)`,
		},
	}
}

const (
	retentionCols        = `id, project, repositories, tags, kind, count, age, created_at`
	qRetentionRules      = `SELECT ` + retentionCols + ` FROM retention_rules WHERE project = ? ORDER BY id`
	qAllRetentionRules   = `SELECT ` + retentionCols + ` FROM retention_rules ORDER BY project, id`
	qRetentionProject    = `SELECT COUNT(*) FROM projects WHERE name = ?`
	qAddRetentionRule    = `INSERT INTO retention_rules (project, repositories, tags, kind, count, age, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qDelRetentionRule    = `DELETE FROM retention_rules WHERE project = ? AND id = ?`
	qProjectRepositories = `SELECT name FROM repositories WHERE name >= ? AND name < ? ORDER BY name`
	qTagDetails          = `SELECT t.name, m.digest, t.updated_at FROM repositories r JOIN tags t ON t.repo_id = r.id
		JOIN manifests m ON m.id = t.manifest_id WHERE r.name = ? ORDER BY t.name`
	qManifestSummaries = `SELECT m.digest, m.media_type, m.size, m.subject, m.created_at FROM manifests m
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? ORDER BY m.digest`
	qManifestRefsOfRepo = `SELECT 'b', m.digest, x.digest FROM manifest_blobs x JOIN manifests m ON m.id = x.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ?
		UNION ALL SELECT 'm', m.digest, x.digest FROM manifest_children x JOIN manifests m ON m.id = x.manifest_id
		JOIN repositories r ON r.id = m.repo_id WHERE r.name = ?
		ORDER BY 2, 1, 3`
)

func (t *txn) retentionRules(what, q string, args []any) ([]meta.RetentionRule, error) {
	var out []meta.RetentionRule
	err := t.rows(what, q, args, func(sc scanner) error {
		var (
			r            meta.RetentionRule
			age, created int64
		)
		if err := sc.Scan(&r.ID, &r.Project, &r.Repositories, &r.Tags, &r.Kind, &r.Count, &age, &created); err != nil {
			return err
		}
		r.Age, r.CreatedAt = time.Duration(age), fromNanos(created)
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *txn) RetentionRules(project string) ([]meta.RetentionRule, error) {
	return t.retentionRules("retention rules of "+project, qRetentionRules, []any{project})
}

func (t *txn) ListRetentionRules() ([]meta.RetentionRule, error) {
	return t.retentionRules("retention rules", qAllRetentionRules, nil)
}

func (t *txn) AddRetentionRule(r meta.RetentionRule) (int64, error) {
	var n int
	if err := t.queryRow(qRetentionProject, []any{r.Project}, &n); err != nil {
		return 0, fmt.Errorf("meta: add retention rule to %s: %w", r.Project, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("meta: project %s: %w", r.Project, meta.ErrNotFound)
	}
	var id int64
	args := []any{r.Project, r.Repositories, r.Tags, r.Kind, r.Count, int64(r.Age), nanos(r.CreatedAt)}
	if err := t.queryRow(qAddRetentionRule, args, &id); err != nil {
		return 0, fmt.Errorf("meta: add retention rule to %s: %w", r.Project, err)
	}
	return id, nil
}

func (t *txn) DeleteRetentionRule(project string, id int64) error {
	return t.execOne(fmt.Sprintf("retention rule %d of %s", id, project), qDelRetentionRule, project, id)
}

// ProjectRepositories reads the range [project, project+"0"): '0' follows
// '/' in byte order, so the range holds the project's repositories and
// the names that merely start like it ("team-x"), which are dropped.
func (t *txn) ProjectRepositories(project string) ([]string, error) {
	names, err := t.column("repositories of project "+project, qProjectRepositories, project, project+"0")
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if n == project || strings.HasPrefix(n, project+"/") {
			out = append(out, n)
		}
	}
	return out, nil
}

func (t *txn) TagDetails(repo string) ([]meta.TagDetail, error) {
	var out []meta.TagDetail
	err := t.rows("tags of "+repo, qTagDetails, []any{repo}, func(sc scanner) error {
		var (
			td      meta.TagDetail
			d       string
			updated int64
		)
		if err := sc.Scan(&td.Name, &d, &updated); err != nil {
			return err
		}
		td.Digest, td.UpdatedAt = digest.Digest(d), fromNanos(updated)
		out = append(out, td)
		return nil
	})
	return out, err
}

func (t *txn) ManifestSummaries(repo string) ([]meta.ManifestSummary, error) {
	var out []meta.ManifestSummary
	index := map[digest.Digest]int{}
	err := t.rows("manifests of "+repo, qManifestSummaries, []any{repo}, func(sc scanner) error {
		var (
			m       meta.ManifestSummary
			d       string
			subject sql.NullString
			created int64
		)
		if err := sc.Scan(&d, &m.MediaType, &m.Size, &subject, &created); err != nil {
			return err
		}
		m.Digest, m.CreatedAt = digest.Digest(d), fromNanos(created)
		m.Subject = digest.Digest(subject.String)
		index[m.Digest] = len(out)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = t.rows("references of the manifests of "+repo, qManifestRefsOfRepo, []any{repo, repo}, func(sc scanner) error {
		var kind, owner, ref string
		if err := sc.Scan(&kind, &owner, &ref); err != nil {
			return err
		}
		i, ok := index[digest.Digest(owner)]
		if !ok {
			return nil // put after the first read (PostgreSQL, READ COMMITTED)
		}
		if kind == "b" {
			out[i].Blobs = append(out[i].Blobs, digest.Digest(ref))
		} else {
			out[i].Children = append(out[i].Children, digest.Digest(ref))
		}
		return nil
	})
	return out, err
}
