package sqlstore

import (
	"fmt"

	"github.com/berth-registry/berth/internal/meta"
)

const (
	qImmutableRules   = `SELECT id, project, repositories, tags, created_at FROM immutable_rules WHERE project = ? ORDER BY id`
	qAddImmutableRule = `INSERT INTO immutable_rules (project, repositories, tags, created_at) VALUES (?, ?, ?, ?) RETURNING id`
	qDelImmutableRule = `DELETE FROM immutable_rules WHERE project = ? AND id = ?`
)

func (t *txn) ImmutableRules(project string) ([]meta.ImmutableRule, error) {
	var out []meta.ImmutableRule
	err := t.rows("immutable rules of "+project, qImmutableRules, []any{project}, func(sc scanner) error {
		var (
			r       meta.ImmutableRule
			created int64
		)
		if err := sc.Scan(&r.ID, &r.Project, &r.Repositories, &r.Tags, &created); err != nil {
			return err
		}
		r.CreatedAt = fromNanos(created)
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *txn) AddImmutableRule(r meta.ImmutableRule) (int64, error) {
	var id int64
	if err := t.queryRow(qAddImmutableRule, []any{r.Project, r.Repositories, r.Tags, nanos(r.CreatedAt)}, &id); err != nil {
		return 0, fmt.Errorf("meta: add immutable rule to %s: %w", r.Project, err)
	}
	return id, nil
}

func (t *txn) DeleteImmutableRule(project string, id int64) error {
	return t.execOne(fmt.Sprintf("delete immutable rule %d of %s", id, project), qDelImmutableRule, project, id)
}

const (
	qListQuarantine = `SELECT digest, reason, at FROM quarantined_blobs ORDER BY digest`
	qPutQuarantine  = `INSERT INTO quarantined_blobs (digest, reason, at) VALUES (?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET reason = excluded.reason, at = excluded.at`
	qDelQuarantine = `DELETE FROM quarantined_blobs WHERE digest = ?`
)

func (t *txn) ListQuarantine() ([]meta.QuarantinedBlob, error) {
	var out []meta.QuarantinedBlob
	err := t.rows("quarantined blobs", qListQuarantine, nil, func(sc scanner) error {
		var (
			q  meta.QuarantinedBlob
			at int64
		)
		if err := sc.Scan(&q.Digest, &q.Reason, &at); err != nil {
			return err
		}
		q.At = fromNanos(at)
		out = append(out, q)
		return nil
	})
	return out, err
}

func (t *txn) PutQuarantine(q meta.QuarantinedBlob) error {
	if _, err := t.exec(qPutQuarantine, q.Digest, q.Reason, nanos(q.At)); err != nil {
		return fmt.Errorf("meta: quarantine %s: %w", q.Digest, err)
	}
	return nil
}

func (t *txn) DeleteQuarantine(d string) error {
	if _, err := t.exec(qDelQuarantine, d); err != nil {
		return fmt.Errorf("meta: lift quarantine of %s: %w", d, err)
	}
	return nil
}
