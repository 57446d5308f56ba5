package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func webhookMigration() Migration {
	return Migration{
		Version: 11,
		Name:    "webhooks",
		Statements: []string{
			// Who made each change, for the notifications.
			`ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE events ADD COLUMN addr TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE events ADD COLUMN detail TEXT NOT NULL DEFAULT ''`,
			// project NULL: a global endpoint. last_event is the cursor
			// in the outbox (events.id). events is a comma-separated list.
			`CREATE TABLE webhooks (
				id ` + TypeSerialID + `,
				project ` + TypeKeyText + ` REFERENCES projects (name) ON DELETE CASCADE,
				url TEXT NOT NULL,
				secret ` + TypeBytes + ` NOT NULL,
				events TEXT NOT NULL,
				payload_format TEXT NOT NULL,
				enabled BOOLEAN NOT NULL,
				created_at BIGINT NOT NULL,
				last_event BIGINT NOT NULL
			)`,
			`CREATE INDEX webhooks_project ON webhooks (project, id)`,
			`CREATE TABLE webhook_deliveries (
				id ` + TypeSerialID + `,
				webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
				first_event BIGINT NOT NULL,
				last_event BIGINT NOT NULL,
				events BIGINT NOT NULL,
				attempt BIGINT NOT NULL,
				attempted_at BIGINT NOT NULL,
				status BIGINT NOT NULL,
				error_text TEXT NOT NULL,
				duration BIGINT NOT NULL
			)`,
			`CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id)`,
		},
	}
}

const (
	webhookCols         = `id, project, url, secret, events, payload_format, enabled, created_at, last_event`
	qWebhook            = `SELECT ` + webhookCols + ` FROM webhooks WHERE id = ?`
	qGlobalWebhooks     = `SELECT ` + webhookCols + ` FROM webhooks WHERE project IS NULL ORDER BY id`
	qProjectWebhooks    = `SELECT ` + webhookCols + ` FROM webhooks WHERE project = ? ORDER BY id`
	qAllWebhooks        = `SELECT ` + webhookCols + ` FROM webhooks ORDER BY id`
	qWebhookProject     = `SELECT COUNT(*) FROM projects WHERE name = ?`
	qMaxEventID         = `SELECT COALESCE(MAX(id), 0) FROM events`
	qAddWebhook         = `INSERT INTO webhooks (project, url, secret, events, payload_format, enabled, created_at, last_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qSetWebhookEnabled  = `UPDATE webhooks SET enabled = ? WHERE id = ?`
	qDeleteWebhook      = `DELETE FROM webhooks WHERE id = ?`
	qAdvanceWebhook     = `UPDATE webhooks SET last_event = CASE WHEN last_event < ? THEN ? ELSE last_event END WHERE id = ?`
	deliveryCols        = `id, webhook_id, first_event, last_event, events, attempt, attempted_at, status, error_text, duration`
	qWebhookDeliveries  = `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC`
	qWebhookDeliveriesN = qWebhookDeliveries + ` LIMIT ?`
	qAddDelivery        = `INSERT INTO webhook_deliveries (webhook_id, first_event, last_event, events, attempt, attempted_at, status, error_text, duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qPruneDeliveries    = `DELETE FROM webhook_deliveries WHERE webhook_id = ? AND id <= (
		SELECT id FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`
)

func scanWebhook(sc scanner) (meta.Webhook, error) {
	var (
		w       meta.Webhook
		project sql.NullString
		events  string
		created int64
	)
	if err := sc.Scan(&w.ID, &project, &w.URL, &w.Secret, &events, &w.Format, &w.Enabled, &created, &w.Cursor); err != nil {
		return meta.Webhook{}, err
	}
	w.Project, w.CreatedAt = project.String, fromNanos(created)
	if events != "" {
		w.Events = strings.Split(events, ",")
	}
	return w, nil
}

func (t *txn) webhooks(what, q string, args []any) ([]meta.Webhook, error) {
	var out []meta.Webhook
	err := t.rows(what, q, args, func(sc scanner) error {
		w, err := scanWebhook(sc)
		if err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	return out, err
}

func (t *txn) Webhook(id int64) (meta.Webhook, error) {
	st, err := t.stmt(qWebhook)
	if err != nil {
		return meta.Webhook{}, err
	}
	w, err := scanWebhook(st.QueryRowContext(t.ctx, id))
	if err != nil {
		return meta.Webhook{}, notFound(fmt.Sprintf("webhook %d", id), err)
	}
	return w, nil
}

func (t *txn) ListWebhooks(project string) ([]meta.Webhook, error) {
	if project == "" {
		return t.webhooks("global webhooks", qGlobalWebhooks, nil)
	}
	return t.webhooks("webhooks of "+project, qProjectWebhooks, []any{project})
}

func (t *txn) AllWebhooks() ([]meta.Webhook, error) {
	return t.webhooks("webhooks", qAllWebhooks, nil)
}

func (t *txn) WebhookDeliveries(webhook, before int64, n int) ([]meta.WebhookDelivery, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	q, args := qWebhookDeliveries, []any{webhook, before}
	if n > 0 {
		q, args = qWebhookDeliveriesN, append(args, n)
	}
	var out []meta.WebhookDelivery
	err := t.rows(fmt.Sprintf("deliveries of webhook %d", webhook), q, args, func(sc scanner) error {
		var (
			d        meta.WebhookDelivery
			at, took int64
			count    int64
			status   int64
			attempt  int64
		)
		if err := sc.Scan(&d.ID, &d.Webhook, &d.FirstEvent, &d.LastEvent, &count, &attempt, &at, &status, &d.Error, &took); err != nil {
			return err
		}
		d.Events, d.Attempt, d.Status = int(count), int(attempt), int(status)
		d.At, d.Duration = fromNanos(at), time.Duration(took)
		out = append(out, d)
		return nil
	})
	return out, err
}

func (t *txn) AddWebhook(w meta.Webhook) (int64, error) {
	var project any // NULL: global
	if w.Project != "" {
		var n int
		if err := t.queryRow(qWebhookProject, []any{w.Project}, &n); err != nil {
			return 0, fmt.Errorf("meta: add webhook to %s: %w", w.Project, err)
		}
		if n == 0 {
			return 0, fmt.Errorf("meta: project %s: %w", w.Project, meta.ErrNotFound)
		}
		project = w.Project
	}
	var cursor int64
	if err := t.queryRow(qMaxEventID, nil, &cursor); err != nil {
		return 0, fmt.Errorf("meta: add webhook: newest event: %w", err)
	}
	secret := w.Secret
	if secret == nil {
		secret = []byte{}
	}
	var id int64
	args := []any{project, w.URL, secret, strings.Join(w.Events, ","), w.Format, w.Enabled, nanos(w.CreatedAt), cursor}
	if err := t.queryRow(qAddWebhook, args, &id); err != nil {
		return 0, fmt.Errorf("meta: add webhook: %w", err)
	}
	return id, nil
}

func (t *txn) SetWebhookEnabled(id int64, enabled bool) error {
	return t.execOne(fmt.Sprintf("webhook %d", id), qSetWebhookEnabled, enabled, id)
}

func (t *txn) DeleteWebhook(id int64) error {
	return t.execOne(fmt.Sprintf("delete webhook %d", id), qDeleteWebhook, id)
}

func (t *txn) AdvanceWebhookCursor(id, event int64) error {
	return t.execOne(fmt.Sprintf("advance webhook %d", id), qAdvanceWebhook, event, event, id)
}

func (t *txn) RecordWebhookDelivery(d meta.WebhookDelivery) error {
	what := fmt.Sprintf("record delivery of webhook %d", d.Webhook)
	_, err := t.exec(qAddDelivery, d.Webhook, d.FirstEvent, d.LastEvent, int64(d.Events), int64(d.Attempt),
		nanos(d.At), int64(d.Status), d.Error, int64(d.Duration))
	if err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	if _, err := t.exec(qPruneDeliveries, d.Webhook, d.Webhook, meta.WebhookDeliveriesKept); err != nil {
		return fmt.Errorf("meta: %s: prune: %w", what, err)
	}
	return nil
}
