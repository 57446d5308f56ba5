package sqlstore

import (
	"fmt"
	"time"
)

const (
	// One statement, so two nodes racing for a free or expired lease cannot
	// both win: the conflicting insert updates only when the row is expired
	// or already the caller's.
	qLeaseAcquire = `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at <= ? OR leases.holder = excluded.holder`
	qLeaseRelease = `DELETE FROM leases WHERE name = ? AND holder = ?`
)

func (t *txn) AcquireLease(name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	res, err := t.exec(qLeaseAcquire, name, holder, nanos(now.Add(ttl)), nanos(now))
	if err != nil {
		return false, fmt.Errorf("meta: acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("meta: acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

func (t *txn) ReleaseLease(name, holder string) error {
	if _, err := t.exec(qLeaseRelease, name, holder); err != nil {
		return fmt.Errorf("meta: release lease %s: %w", name, err)
	}
	return nil
}
