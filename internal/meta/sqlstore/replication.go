package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func replicationMigration() Migration {
	return Migration{
		Version: 14,
		Name:    "replication",
		Statements: []string{
			// last_event is the policy's cursor in the outbox (events.id).
			`CREATE TABLE replication_policies (
				id ` + TypeSerialID + `,
				name ` + TypeKeyText + ` NOT NULL UNIQUE,
				enabled BOOLEAN NOT NULL,
				direction TEXT NOT NULL,
				remote_url TEXT NOT NULL,
				username TEXT NOT NULL,
				password ` + TypeBytes + ` NOT NULL,
				insecure BOOLEAN NOT NULL,
				repositories TEXT NOT NULL,
				tags TEXT NOT NULL,
				label TEXT NOT NULL,
				prefix TEXT NOT NULL,
				schedule TEXT NOT NULL,
				on_event BOOLEAN NOT NULL,
				deletes BOOLEAN NOT NULL,
				bandwidth BIGINT NOT NULL,
				concurrency BIGINT NOT NULL,
				created_at BIGINT NOT NULL,
				last_event BIGINT NOT NULL,
				last_scheduled BIGINT NOT NULL
			)`,
			`CREATE TABLE replication_runs (
				id ` + TypeSerialID + `,
				policy_id BIGINT NOT NULL REFERENCES replication_policies (id) ON DELETE CASCADE,
				trigger_kind TEXT NOT NULL,
				started_at BIGINT NOT NULL
			)`,
			`CREATE INDEX replication_runs_policy ON replication_runs (policy_id, id)`,
			// The durable queue: a worker claims a queued job whose
			// next_attempt_at has come, under a lease (lease_holder,
			// lease_until) that it renews while the job runs.
			`CREATE TABLE replication_jobs (
				id ` + TypeSerialID + `,
				run_id BIGINT NOT NULL REFERENCES replication_runs (id) ON DELETE CASCADE,
				policy_id BIGINT NOT NULL,
				action TEXT NOT NULL,
				repository TEXT NOT NULL,
				reference TEXT NOT NULL,
				state TEXT NOT NULL,
				attempts BIGINT NOT NULL,
				next_attempt_at BIGINT NOT NULL,
				lease_holder TEXT NOT NULL,
				lease_until BIGINT NOT NULL,
				event_at BIGINT NOT NULL,
				created_at BIGINT NOT NULL,
				started_at BIGINT NOT NULL,
				finished_at BIGINT NOT NULL,
				images BIGINT NOT NULL,
				bytes BIGINT NOT NULL,
				result TEXT NOT NULL,
				error_text TEXT NOT NULL
			)`,
			`CREATE INDEX replication_jobs_due ON replication_jobs (state, next_attempt_at, id)`,
			`CREATE INDEX replication_jobs_run ON replication_jobs (run_id, id)`,
		},
	}
}

const (
	replPolicyCols = `id, name, enabled, direction, remote_url, username, password, insecure, repositories, tags, label,
		prefix, schedule, on_event, deletes, bandwidth, concurrency, created_at, last_event, last_scheduled`
	qReplPolicy    = `SELECT ` + replPolicyCols + ` FROM replication_policies WHERE id = ?`
	qReplPolicies  = `SELECT ` + replPolicyCols + ` FROM replication_policies ORDER BY id`
	qAddReplPolicy = `INSERT INTO replication_policies (name, enabled, direction, remote_url, username, password, insecure,
		repositories, tags, label, prefix, schedule, on_event, deletes, bandwidth, concurrency, created_at, last_event, last_scheduled)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`
	qReplNameTaken = `SELECT COUNT(*) FROM replication_policies WHERE name = ? AND id <> ?`
	qUpdReplPolicy = `UPDATE replication_policies SET name = ?, enabled = ?, direction = ?, remote_url = ?, username = ?,
		password = ?, insecure = ?, repositories = ?, tags = ?, label = ?, prefix = ?, schedule = ?, on_event = ?, deletes = ?,
		bandwidth = ?, concurrency = ? WHERE id = ?`
	qDelReplPolicy = `DELETE FROM replication_policies WHERE id = ?`
	qAdvanceRepl   = `UPDATE replication_policies SET last_event = CASE WHEN last_event < ? THEN ? ELSE last_event END WHERE id = ?`
	qReplScheduled = `UPDATE replication_policies SET last_scheduled = ? WHERE id = ?`
	qAddReplRun    = `INSERT INTO replication_runs (policy_id, trigger_kind, started_at) VALUES (?, ?, ?) RETURNING id`
	qReplRunPolicy = `SELECT policy_id FROM replication_runs WHERE id = ?`
	replRunSelect  = `SELECT r.id, r.policy_id, r.trigger_kind, r.started_at, COUNT(j.id),
		CAST(COALESCE(SUM(CASE WHEN j.state IN ('queued', 'running') THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN j.state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(j.images), 0) AS BIGINT), CAST(COALESCE(SUM(j.bytes), 0) AS BIGINT),
		CAST(COALESCE(MAX(j.finished_at), 0) AS BIGINT)
		FROM replication_runs r LEFT JOIN replication_jobs j ON j.run_id = r.id `
	replRunGroup    = ` GROUP BY r.id, r.policy_id, r.trigger_kind, r.started_at`
	qReplRun        = replRunSelect + `WHERE r.id = ?` + replRunGroup
	qReplRunsAll    = replRunSelect + `WHERE r.id < ?` + replRunGroup + ` ORDER BY r.id DESC LIMIT ?`
	qReplRunsPolicy = replRunSelect + `WHERE r.policy_id = ? AND r.id < ?` + replRunGroup + ` ORDER BY r.id DESC LIMIT ?`
	replJobCols     = `id, run_id, policy_id, action, repository, reference, state, attempts, next_attempt_at, lease_holder,
		lease_until, event_at, created_at, started_at, finished_at, images, bytes, result, error_text`
	qReplJobs    = `SELECT ` + replJobCols + ` FROM replication_jobs WHERE run_id = ? ORDER BY id`
	qReplJobsDue = `SELECT COUNT(*) FROM replication_jobs WHERE state = 'queued' AND next_attempt_at <= ?`
	qAddReplJob  = `INSERT INTO replication_jobs (run_id, policy_id, action, repository, reference, state, attempts,
		next_attempt_at, lease_holder, lease_until, event_at, created_at, started_at, finished_at, images, bytes, result, error_text)
		VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, '', 0, ?, ?, 0, 0, 0, 0, '', '')`
	// The subquery picks a candidate; the outer WHERE state = 'queued'
	// is checked again on the row itself, so when two writers pick the
	// same job (PostgreSQL, read committed) the second updates nothing.
	qClaimReplJob = `UPDATE replication_jobs SET state = 'running', lease_holder = ?, lease_until = ?, started_at = ?,
		attempts = attempts + 1
		WHERE id = (SELECT id FROM replication_jobs WHERE state = 'queued' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT 1) AND state = 'queued'
		RETURNING ` + replJobCols
	qRenewReplJob  = `UPDATE replication_jobs SET lease_until = ? WHERE id = ? AND lease_holder = ? AND state = 'running'`
	qFinishReplJob = `UPDATE replication_jobs SET state = ?, next_attempt_at = ?, finished_at = ?, images = ?, bytes = ?,
		result = ?, error_text = ?, lease_holder = '', lease_until = 0
		WHERE id = ? AND lease_holder = ? AND state = 'running'`
	qRequeueReplJobs = `UPDATE replication_jobs SET state = 'queued', lease_holder = '', lease_until = 0
		WHERE state = 'running' AND lease_until < ?`
	qDelReplRuns = `DELETE FROM replication_runs WHERE started_at < ? AND NOT EXISTS (
		SELECT 1 FROM replication_jobs j WHERE j.run_id = replication_runs.id AND j.state IN ('queued', 'running'))`
)

func scanReplPolicy(sc scanner) (meta.ReplicationPolicy, error) {
	var (
		p                  meta.ReplicationPolicy
		conc               int64
		created, scheduled int64
	)
	err := sc.Scan(&p.ID, &p.Name, &p.Enabled, &p.Direction, &p.RemoteURL, &p.Username, &p.Password, &p.Insecure,
		&p.Repositories, &p.Tags, &p.Label, &p.Prefix, &p.Schedule, &p.OnEvent, &p.Deletes, &p.Bandwidth, &conc,
		&created, &p.Cursor, &scheduled)
	if err != nil {
		return meta.ReplicationPolicy{}, err
	}
	p.Concurrency, p.CreatedAt, p.LastScheduled = int(conc), fromNanos(created), fromOptNanos(scheduled)
	return p, nil
}

func scanReplRun(sc scanner) (meta.ReplicationRun, error) {
	var (
		r                             meta.ReplicationRun
		started, finished             int64
		jobs, pending, failed, images int64
	)
	if err := sc.Scan(&r.ID, &r.Policy, &r.Trigger, &started, &jobs, &pending, &failed, &images, &r.Bytes, &finished); err != nil {
		return meta.ReplicationRun{}, err
	}
	r.StartedAt = fromNanos(started)
	r.Jobs, r.Pending, r.Failed, r.Images = int(jobs), int(pending), int(failed), int(images)
	switch {
	case pending > 0:
		r.State = meta.JobRunning
	case failed > 0:
		r.State = meta.JobFailed
		r.FinishedAt = fromOptNanos(finished)
	default:
		r.State = meta.JobSucceeded
		r.FinishedAt = fromOptNanos(finished)
		if r.FinishedAt.IsZero() {
			r.FinishedAt = r.StartedAt // no jobs at all
		}
	}
	return r, nil
}

func scanReplJob(sc scanner) (meta.ReplicationJob, error) {
	var (
		j                                          meta.ReplicationJob
		attempts, images                           int64
		next, until, event, created, started, done int64
	)
	err := sc.Scan(&j.ID, &j.Run, &j.Policy, &j.Action, &j.Repository, &j.Reference, &j.State, &attempts, &next,
		&j.LeaseHolder, &until, &event, &created, &started, &done, &images, &j.Bytes, &j.Result, &j.Error)
	if err != nil {
		return meta.ReplicationJob{}, err
	}
	j.Attempts, j.Images = int(attempts), int(images)
	j.NextAttemptAt, j.LeaseUntil, j.EventAt = fromOptNanos(next), fromOptNanos(until), fromOptNanos(event)
	j.CreatedAt, j.StartedAt, j.FinishedAt = fromOptNanos(created), fromOptNanos(started), fromOptNanos(done)
	return j, nil
}

func (t *txn) ReplicationPolicy(id int64) (meta.ReplicationPolicy, error) {
	st, err := t.stmt(qReplPolicy)
	if err != nil {
		return meta.ReplicationPolicy{}, err
	}
	p, err := scanReplPolicy(st.QueryRowContext(t.ctx, id))
	return p, notFound(fmt.Sprintf("replication policy %d", id), err)
}

func (t *txn) ListReplicationPolicies() ([]meta.ReplicationPolicy, error) {
	var out []meta.ReplicationPolicy
	err := t.rows("replication policies", qReplPolicies, nil, func(sc scanner) error {
		p, err := scanReplPolicy(sc)
		out = append(out, p)
		return err
	})
	return out, err
}

func (t *txn) ReplicationRun(id int64) (meta.ReplicationRun, error) {
	st, err := t.stmt(qReplRun)
	if err != nil {
		return meta.ReplicationRun{}, err
	}
	r, err := scanReplRun(st.QueryRowContext(t.ctx, id))
	return r, notFound(fmt.Sprintf("replication run %d", id), err)
}

func (t *txn) ReplicationRuns(policy, before int64, n int) ([]meta.ReplicationRun, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	q, args := qReplRunsAll, []any{before, limitOrAll(n)}
	if policy != 0 {
		q, args = qReplRunsPolicy, []any{policy, before, limitOrAll(n)}
	}
	var out []meta.ReplicationRun
	err := t.rows("replication runs", q, args, func(sc scanner) error {
		r, err := scanReplRun(sc)
		out = append(out, r)
		return err
	})
	return out, err
}

func (t *txn) ReplicationJobs(run int64) ([]meta.ReplicationJob, error) {
	var out []meta.ReplicationJob
	err := t.rows(fmt.Sprintf("jobs of replication run %d", run), qReplJobs, []any{run}, func(sc scanner) error {
		j, err := scanReplJob(sc)
		out = append(out, j)
		return err
	})
	return out, err
}

func (t *txn) ReplicationJobsDue(now time.Time) (int, error) {
	var n int64
	if err := t.queryRow(qReplJobsDue, []any{nanos(now)}, &n); err != nil {
		return 0, fmt.Errorf("meta: replication jobs due: %w", err)
	}
	return int(n), nil
}

func (t *txn) replPolicyArgs(p meta.ReplicationPolicy) []any {
	pw := p.Password
	if pw == nil {
		pw = []byte{}
	}
	return []any{p.Name, p.Enabled, p.Direction, p.RemoteURL, p.Username, pw, p.Insecure, p.Repositories, p.Tags,
		p.Label, p.Prefix, p.Schedule, p.OnEvent, p.Deletes, p.Bandwidth, int64(p.Concurrency)}
}

func (t *txn) AddReplicationPolicy(p meta.ReplicationPolicy) (int64, error) {
	var cursor int64
	if err := t.queryRow(qMaxEventID, nil, &cursor); err != nil {
		return 0, fmt.Errorf("meta: add replication policy: newest event: %w", err)
	}
	args := append(t.replPolicyArgs(p), nanos(p.CreatedAt), cursor, nanos(p.CreatedAt))
	var id int64
	if err := t.queryRow(qAddReplPolicy, args, &id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("meta: replication policy %s: %w", p.Name, meta.ErrExists)
		}
		return 0, fmt.Errorf("meta: add replication policy %s: %w", p.Name, err)
	}
	return id, nil
}

func (t *txn) UpdateReplicationPolicy(p meta.ReplicationPolicy) error {
	var taken int64
	if err := t.queryRow(qReplNameTaken, []any{p.Name, p.ID}, &taken); err != nil {
		return fmt.Errorf("meta: update replication policy %d: %w", p.ID, err)
	}
	if taken > 0 {
		return fmt.Errorf("meta: replication policy %s: %w", p.Name, meta.ErrExists)
	}
	return t.execOne(fmt.Sprintf("replication policy %d", p.ID), qUpdReplPolicy, append(t.replPolicyArgs(p), p.ID)...)
}

func (t *txn) DeleteReplicationPolicy(id int64) error {
	return t.execOne(fmt.Sprintf("replication policy %d", id), qDelReplPolicy, id)
}

func (t *txn) AdvanceReplicationCursor(id, event int64) error {
	return t.execOne(fmt.Sprintf("replication policy %d", id), qAdvanceRepl, event, event, id)
}

func (t *txn) SetReplicationScheduled(id int64, at time.Time) error {
	return t.execOne(fmt.Sprintf("replication policy %d", id), qReplScheduled, nanos(at), id)
}

func (t *txn) AddReplicationRun(r meta.ReplicationRun, jobs []meta.ReplicationJob) (int64, error) {
	var id int64
	if err := t.queryRow(qAddReplRun, []any{r.Policy, r.Trigger, nanos(r.StartedAt)}, &id); err != nil {
		return 0, fmt.Errorf("meta: add replication run of policy %d: %w", r.Policy, err)
	}
	return id, t.addReplJobs(id, r.Policy, jobs)
}

func (t *txn) AddReplicationJobs(run int64, jobs []meta.ReplicationJob) error {
	var policy int64
	if err := t.queryRow(qReplRunPolicy, []any{run}, &policy); err != nil {
		return notFound(fmt.Sprintf("replication run %d", run), err)
	}
	return t.addReplJobs(run, policy, jobs)
}

func (t *txn) addReplJobs(run, policy int64, jobs []meta.ReplicationJob) error {
	for _, j := range jobs {
		next := j.NextAttemptAt
		if next.IsZero() {
			next = j.CreatedAt
		}
		if _, err := t.exec(qAddReplJob, run, policy, j.Action, j.Repository, j.Reference, nanos(next),
			optNanos(j.EventAt), nanos(j.CreatedAt)); err != nil {
			return fmt.Errorf("meta: queue replication job in run %d: %w", run, err)
		}
	}
	return nil
}

func (t *txn) ClaimReplicationJob(holder string, now time.Time, ttl time.Duration) (meta.ReplicationJob, bool, error) {
	st, err := t.stmt(qClaimReplJob)
	if err != nil {
		return meta.ReplicationJob{}, false, err
	}
	j, err := scanReplJob(st.QueryRowContext(t.ctx, holder, nanos(now.Add(ttl)), nanos(now), nanos(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return meta.ReplicationJob{}, false, nil
	}
	if err != nil {
		return meta.ReplicationJob{}, false, fmt.Errorf("meta: claim replication job: %w", err)
	}
	return j, true, nil
}

func (t *txn) RenewReplicationJob(id int64, holder string, until time.Time) error {
	return t.execOne(fmt.Sprintf("lease of replication job %d", id), qRenewReplJob, nanos(until), id, holder)
}

func (t *txn) FinishReplicationJob(j meta.ReplicationJob, holder string) error {
	return t.execOne(fmt.Sprintf("lease of replication job %d", j.ID), qFinishReplJob, j.State, optNanos(j.NextAttemptAt),
		optNanos(j.FinishedAt), int64(j.Images), j.Bytes, j.Result, j.Error, j.ID, holder)
}

func (t *txn) RequeueExpiredReplicationJobs(now time.Time) (int, error) {
	res, err := t.exec(qRequeueReplJobs, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("meta: requeue replication jobs: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) DeleteReplicationRunsBefore(before time.Time) (int, error) {
	res, err := t.exec(qDelReplRuns, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("meta: delete replication runs: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
