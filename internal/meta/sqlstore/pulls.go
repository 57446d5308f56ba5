package sqlstore

import (
	"fmt"

	"github.com/berth-registry/berth/internal/meta"
)

func pullStatsMigration() Migration {
	return Migration{
		Version: 8,
		Name:    "pull statistics",
		Statements: []string{
			// One row per manifest and the tag it was pulled by ('' = by
			// digest); goes with its manifest.
			`CREATE TABLE pull_stats (
				manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
				tag ` + TypeKeyText + ` NOT NULL,
				pulls BIGINT NOT NULL,
				last_pulled_at BIGINT NOT NULL,
				PRIMARY KEY (manifest_id, tag)
			)`,
		},
	}
}

const (
	qRecordPulls = `INSERT INTO pull_stats (manifest_id, tag, pulls, last_pulled_at)
		SELECT m.id, ?, ?, ? FROM manifests m JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? AND m.digest = ?
		ON CONFLICT (manifest_id, tag) DO UPDATE SET
			pulls = pull_stats.pulls + excluded.pulls,
			last_pulled_at = CASE WHEN excluded.last_pulled_at > pull_stats.last_pulled_at
				THEN excluded.last_pulled_at ELSE pull_stats.last_pulled_at END`
	qPullStats = `SELECT m.digest, p.tag, p.pulls, p.last_pulled_at
		FROM pull_stats p JOIN manifests m ON m.id = p.manifest_id JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? ORDER BY m.digest, p.tag`
	qPullTotals = `SELECT m.digest, SUM(p.pulls), MAX(p.last_pulled_at)
		FROM pull_stats p JOIN manifests m ON m.id = p.manifest_id JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? GROUP BY m.digest`
)

func (t *txn) RecordPulls(ps []meta.PullCount) error {
	for _, p := range ps {
		if p.Pulls <= 0 {
			continue
		}
		if _, err := t.exec(qRecordPulls, p.Tag, p.Pulls, nanos(p.Last), p.Repo, string(p.Digest)); err != nil {
			return fmt.Errorf("meta: record pulls of %s@%s: %w", p.Repo, p.Digest, err)
		}
	}
	return nil
}

func (t *txn) PullStats(repo string) ([]meta.PullCount, error) {
	var out []meta.PullCount
	err := t.rows("pull statistics of "+repo, qPullStats, []any{repo}, func(sc scanner) error {
		var (
			p    = meta.PullCount{Repo: repo}
			last int64
		)
		if err := sc.Scan(&p.Digest, &p.Tag, &p.Pulls, &last); err != nil {
			return err
		}
		p.Last = fromNanos(last)
		out = append(out, p)
		return nil
	})
	return out, err
}
