package sqlstore

import (
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/opencontainers/go-digest"
)

const (
	qUploadSelect  = `SELECT id, repo, algorithm, byte_offset, hash_state, created_at, updated_at FROM uploads`
	qUpload        = qUploadSelect + ` WHERE id = ?`
	qUploadsBefore = qUploadSelect + ` WHERE updated_at < ? ORDER BY updated_at, id`
	qUploadCreate  = `INSERT INTO uploads (id, repo, algorithm, byte_offset, hash_state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qUploadUpdate  = `UPDATE uploads SET byte_offset = ?, hash_state = ?, updated_at = ? WHERE id = ?`
	qUploadDelete  = `DELETE FROM uploads WHERE id = ?`
	qUploadEnd     = `INSERT INTO upload_ends (id) VALUES (?) ON CONFLICT (id) DO NOTHING`
	qUploadEnded   = `SELECT COUNT(*) FROM upload_ends WHERE id = ?`
	qUploadEndsDel = `DELETE FROM upload_ends WHERE id IN (SELECT id FROM upload_ends WHERE id < ? ORDER BY id LIMIT ?)`

	qEventInsert  = `INSERT INTO events (kind, repo, digest, tag, media_type, size, created_at, actor, addr, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qEventsAfter  = `SELECT id, kind, repo, digest, tag, media_type, size, created_at, actor, addr, detail FROM events WHERE id > ? ORDER BY id`
	qEventsAfterN = qEventsAfter + ` LIMIT ?`
	qCountUploads = `SELECT COUNT(*) FROM uploads`
	qDeleteEvents = `DELETE FROM events WHERE id <= ? AND created_at < ?`
)

type scanner interface{ Scan(dest ...any) error }

func scanUpload(sc scanner) (meta.Upload, error) {
	var (
		u                meta.Upload
		alg              string
		created, updated int64
	)
	if err := sc.Scan(&u.ID, &u.Repo, &alg, &u.Offset, &u.HashState, &created, &updated); err != nil {
		return meta.Upload{}, err
	}
	u.Algorithm = digest.Algorithm(alg)
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, nil
}

func (t *txn) Upload(id string) (meta.Upload, error) {
	st, err := t.stmt(qUpload)
	if err != nil {
		return meta.Upload{}, err
	}
	u, err := scanUpload(st.QueryRowContext(t.ctx, id))
	if err != nil {
		return meta.Upload{}, notFound("upload "+id, err)
	}
	return u, nil
}

func (t *txn) UploadsUpdatedBefore(before time.Time) ([]meta.Upload, error) {
	st, err := t.stmt(qUploadsBefore)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, before.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("meta: uploads updated before: %w", err)
	}
	defer rows.Close()
	var out []meta.Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: uploads updated before: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: uploads updated before: %w", err)
	}
	return out, nil
}

// CreateUpload stores a new session; zero CreatedAt/UpdatedAt mean now.
func (t *txn) CreateUpload(u meta.Upload) error {
	created := nanos(u.CreatedAt)
	updated := created
	if !u.UpdatedAt.IsZero() {
		updated = u.UpdatedAt.UnixNano()
	}
	_, err := t.exec(qUploadCreate, u.ID, u.Repo, string(u.Algorithm), u.Offset, u.HashState, created, updated)
	if t.s.d.uniqueViolation(err) {
		return fmt.Errorf("meta: create upload %s: already exists: %w", u.ID, err)
	}
	if err != nil {
		return fmt.Errorf("meta: create upload %s: %w", u.ID, err)
	}
	return nil
}

// UpdateUpload saves Offset, HashState and UpdatedAt (zero means now).
func (t *txn) UpdateUpload(u meta.Upload) error {
	return t.execOne("update upload "+u.ID, qUploadUpdate, u.Offset, u.HashState, nanos(u.UpdatedAt), u.ID)
}

func (t *txn) DeleteUpload(id string) error {
	return t.execOne("delete upload "+id, qUploadDelete, id)
}

func uploadEndsMigration() Migration {
	return Migration{
		Version: 18,
		Name:    "ended upload sessions",
		Statements: []string{
			// Sessions that begin without a row (the id carries their
			// repository, algorithm and start) are refused once this
			// records them as finished or cancelled. Ids sort by their
			// start, so the records of expired ids go by range.
			`CREATE TABLE upload_ends (
				id ` + TypeKeyText + ` PRIMARY KEY
			) ` + TableKeyed,
		},
	}
}

func (t *txn) EndUpload(id string) error {
	if _, err := t.exec(qUploadEnd, id); err != nil {
		return fmt.Errorf("meta: end upload %s: %w", id, err)
	}
	return nil
}

func (t *txn) UploadEnded(id string) (bool, error) {
	var n int
	if err := t.queryRow(qUploadEnded, []any{id}, &n); err != nil {
		return false, fmt.Errorf("meta: upload %s ended: %w", id, err)
	}
	return n > 0, nil
}

func (t *txn) DeleteUploadEndsBefore(id string, n int) (int, error) {
	res, err := t.exec(qUploadEndsDel, id, n)
	if err != nil {
		return 0, fmt.Errorf("meta: purge ended uploads: %w", err)
	}
	deleted, err := res.RowsAffected()
	return int(deleted), err
}

// AppendEvent adds e to the outbox; the store assigns the ID, and a zero
// CreatedAt means now.
func (t *txn) AppendEvent(e meta.Event) error {
	if t.s.d.EventLock != "" {
		if _, err := t.q.ExecContext(t.ctx, t.s.d.EventLock); err != nil {
			return fmt.Errorf("meta: append event: lock: %w", err)
		}
	}
	_, err := t.exec(qEventInsert, e.Kind, e.Repo, string(e.Digest), e.Tag, e.MediaType, e.Size, nanos(e.CreatedAt), e.Actor, e.Addr, e.Detail)
	if err != nil {
		return fmt.Errorf("meta: append event: %w", err)
	}
	t.appended = true
	return nil
}

func (t *txn) CountUploads() (int, error) {
	var n int
	if err := t.queryRow(qCountUploads, nil, &n); err != nil {
		return 0, fmt.Errorf("meta: count uploads: %w", err)
	}
	return n, nil
}

func (t *txn) DeleteEventsBefore(upTo int64, before time.Time) (int, error) {
	res, err := t.exec(qDeleteEvents, upTo, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("meta: purge events: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) EventsAfter(after int64, n int) ([]meta.Event, error) {
	q, args := qEventsAfter, []any{after}
	if n > 0 {
		q, args = qEventsAfterN, append(args, n)
	}
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("meta: events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []meta.Event
	for rows.Next() {
		var (
			e       meta.Event
			d       string
			created int64
		)
		if err := rows.Scan(&e.ID, &e.Kind, &e.Repo, &d, &e.Tag, &e.MediaType, &e.Size, &created, &e.Actor, &e.Addr, &e.Detail); err != nil {
			return nil, fmt.Errorf("meta: events after %d: %w", after, err)
		}
		e.Digest, e.CreatedAt = digest.Digest(d), fromNanos(created)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meta: events after %d: %w", after, err)
	}
	return out, nil
}
