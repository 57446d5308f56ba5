package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

const (
	auditCols          = `id, at, actor, actor_kind, addr, action, repo, digest, tag, detail`
	qAppendAudit       = `INSERT INTO audit_events (at, actor, actor_kind, addr, action, repo, digest, tag, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qDeleteAuditBefore = `DELETE FROM audit_events WHERE at < ?`
)

func (t *txn) AppendAudit(events ...meta.AuditEvent) error {
	for _, e := range events {
		if _, err := t.exec(qAppendAudit, nanos(e.At), e.Actor, e.ActorKind, e.Addr, e.Action, e.Repo, e.Digest, e.Tag, e.Detail); err != nil {
			return fmt.Errorf("meta: append audit event: %w", err)
		}
	}
	return nil
}

func (t *txn) DeleteAuditBefore(before time.Time) (int, error) {
	res, err := t.exec(qDeleteAuditBefore, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("meta: purge audit events: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ListAudit builds its query from the filter (prepared per transaction:
// the combinations are many and the calls rare).
func (t *txn) ListAudit(f meta.AuditFilter) ([]meta.AuditEvent, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Repo != "" {
		add("repo = ?", f.Repo)
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UnixNano())
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := `SELECT ` + auditCols + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limitOrAll(f.Limit))
	var out []meta.AuditEvent
	err := t.rows("list audit events", q, args, func(sc scanner) error {
		var (
			e  meta.AuditEvent
			at int64
		)
		if err := sc.Scan(&e.ID, &at, &e.Actor, &e.ActorKind, &e.Addr, &e.Action, &e.Repo, &e.Digest, &e.Tag, &e.Detail); err != nil {
			return err
		}
		e.At = fromNanos(at)
		out = append(out, e)
		return nil
	})
	return out, err
}

const (
	qActivityPushes = `SELECT digest, actor, at FROM audit_events WHERE repo = ? AND action = 'push' ORDER BY id`
)

func (t *txn) Activity(repo string) (map[string]meta.Activity, error) {
	out := map[string]meta.Activity{}
	err := t.rows("pull counts of "+repo, qPullTotals, []any{repo}, func(sc scanner) error {
		var (
			d    string
			n    int
			last int64
		)
		if err := sc.Scan(&d, &n, &last); err != nil {
			return err
		}
		a := out[d]
		a.Pulls, a.LastPull = n, fromNanos(last)
		out[d] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = t.rows("pushes of "+repo, qActivityPushes, []any{repo}, func(sc scanner) error {
		var (
			d, actor string
			at       int64
		)
		if err := sc.Scan(&d, &actor, &at); err != nil {
			return err
		}
		a := out[d]
		a.Pusher, a.PushedAt = actor, fromNanos(at) // the last push wins
		out[d] = a
		return nil
	})
	return out, err
}
