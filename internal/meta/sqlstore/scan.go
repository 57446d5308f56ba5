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

func scanMigration() Migration {
	return Migration{
		Version: 16,
		Name:    "vulnerability scanning",
		Statements: []string{
			// The imported OSV advisories, and the packages each names.
			`CREATE TABLE vuln_records (
				id ` + TypeKeyText + ` PRIMARY KEY,
				modified BIGINT NOT NULL,
				withdrawn BOOLEAN NOT NULL,
				data ` + TypeBytes + ` NOT NULL
			)`,
			`CREATE TABLE vuln_packages (
				ecosystem ` + TypeKeyText + ` NOT NULL,
				name ` + TypeKeyText + ` NOT NULL,
				vuln_id ` + TypeKeyText + ` NOT NULL REFERENCES vuln_records (id) ON DELETE CASCADE,
				PRIMARY KEY (ecosystem, name, vuln_id)
			)`,
			`CREATE INDEX vuln_packages_vuln ON vuln_packages (vuln_id)`,
			// One row (id 1).
			`CREATE TABLE vulndb_state (
				id BIGINT PRIMARY KEY,
				generation BIGINT NOT NULL,
				imported_at BIGINT NOT NULL,
				records BIGINT NOT NULL,
				source TEXT NOT NULL
			)`,
			// A scan per manifest of a repository: the queue entry, then
			// its result (kept while a new scan of it is queued).
			`CREATE TABLE scans (
				repo_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
				digest ` + TypeKeyText + ` NOT NULL,
				state TEXT NOT NULL,
				reason TEXT NOT NULL,
				attempts BIGINT NOT NULL,
				holder TEXT NOT NULL,
				lease_until BIGINT NOT NULL,
				queued_at BIGINT NOT NULL,
				started_at BIGINT NOT NULL,
				finished_at BIGINT NOT NULL,
				db_generation BIGINT NOT NULL,
				error_text TEXT NOT NULL,
				n_critical BIGINT NOT NULL,
				n_high BIGINT NOT NULL,
				n_medium BIGINT NOT NULL,
				n_low BIGINT NOT NULL,
				n_unknown BIGINT NOT NULL,
				packages BIGINT NOT NULL,
				sbom TEXT NOT NULL,
				report ` + TypeBytes + ` NOT NULL,
				PRIMARY KEY (repo_id, digest)
			)`,
			`CREATE INDEX scans_queue ON scans (state, queued_at)`,
			// One row (id 1): the scanner's cursor in the outbox.
			`CREATE TABLE scan_cursor (
				id BIGINT PRIMARY KEY,
				last_event BIGINT NOT NULL
			)`,
			`CREATE TABLE scan_policies (
				project ` + TypeKeyText + ` PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
				block TEXT NOT NULL,
				allow TEXT NOT NULL,
				require_scan BOOLEAN NOT NULL,
				scan_on_push BOOLEAN NOT NULL,
				updated_at BIGINT NOT NULL
			)`,
		},
	}
}

const (
	qVulnState    = `SELECT generation, imported_at, records, source FROM vulndb_state WHERE id = 1`
	qSetVulnState = `INSERT INTO vulndb_state (id, generation, imported_at, records, source) VALUES (1, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, imported_at = excluded.imported_at,
			records = excluded.records, source = excluded.source`
	qPutVuln = `INSERT INTO vuln_records (id, modified, withdrawn, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, withdrawn = excluded.withdrawn, data = excluded.data
		WHERE excluded.modified > vuln_records.modified`
	qDelVulnPkgs = `DELETE FROM vuln_packages WHERE vuln_id = ?`
	qPutVulnPkg  = `INSERT INTO vuln_packages (ecosystem, name, vuln_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`

	scanCols = `r.name, s.digest, s.state, s.reason, s.attempts, s.holder, s.lease_until, s.queued_at, s.started_at,
		s.finished_at, s.db_generation, s.error_text, s.n_critical, s.n_high, s.n_medium, s.n_low, s.n_unknown,
		s.packages, s.sbom, s.report`
	qScan      = `SELECT ` + scanCols + ` FROM scans s JOIN repositories r ON r.id = s.repo_id WHERE r.name = ? AND s.digest = ?`
	qScansBack = `SELECT ` + scanCols + ` FROM scans s JOIN repositories r ON r.id = s.repo_id
		WHERE s.state = 'done' AND s.db_generation < ? AND (r.name > ? OR (r.name = ? AND s.digest > ?))
		ORDER BY r.name, s.digest LIMIT ?`
	qQueueScan = `INSERT INTO scans (repo_id, digest, state, reason, attempts, holder, lease_until, queued_at, started_at,
			finished_at, db_generation, error_text, n_critical, n_high, n_medium, n_low, n_unknown, packages, sbom, report)
		SELECT id, ?, 'queued', ?, 0, '', 0, ?, 0, 0, 0, '', 0, 0, 0, 0, 0, 0, '', ? FROM repositories WHERE name = ?
		ON CONFLICT (repo_id, digest) DO UPDATE SET state = 'queued', reason = excluded.reason, queued_at = excluded.queued_at,
			attempts = 0, error_text = ''
		WHERE scans.state IN ('done', 'failed')`
	qClaimScan = `UPDATE scans SET state = 'running', holder = ?, lease_until = ?, started_at = ?, attempts = attempts + 1
		WHERE (repo_id, digest) = (SELECT repo_id, digest FROM scans WHERE state = 'queued' AND queued_at <= ?
			ORDER BY queued_at LIMIT 1) AND state = 'queued'
		RETURNING repo_id, digest`
	qRenewScan  = `UPDATE scans SET lease_until = ? WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ? AND holder = ? AND state = 'running'`
	qFinishScan = `UPDATE scans SET state = ?, queued_at = ?, finished_at = ?, db_generation = ?, error_text = ?,
			n_critical = ?, n_high = ?, n_medium = ?, n_low = ?, n_unknown = ?, packages = ?, sbom = ?, report = ?,
			holder = '', lease_until = 0
		WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ? AND holder = ? AND state = 'running'`
	qScanFindings = `UPDATE scans SET db_generation = ?, n_critical = ?, n_high = ?, n_medium = ?, n_low = ?, n_unknown = ?,
			packages = ?, report = ?
		WHERE repo_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`
	qRequeueScans = `UPDATE scans SET state = 'queued', holder = '', lease_until = 0 WHERE state = 'running' AND lease_until < ?`
	qScanCursor   = `SELECT last_event FROM scan_cursor WHERE id = 1`
	qAdvanceScan  = `INSERT INTO scan_cursor (id, last_event) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET last_event = excluded.last_event WHERE excluded.last_event > scan_cursor.last_event`
	scanPolicyCols = `project, block, allow, require_scan, scan_on_push, updated_at, scanner`
	qScanPolicy    = `SELECT ` + scanPolicyCols + ` FROM scan_policies WHERE project = ?`
	qScanPolicies  = `SELECT ` + scanPolicyCols + ` FROM scan_policies ORDER BY project`
	qPutScanPolicy = `INSERT INTO scan_policies (` + scanPolicyCols + `) SELECT name, ?, ?, ?, ?, ?, ? FROM projects WHERE name = ?
		ON CONFLICT (project) DO UPDATE SET block = excluded.block, allow = excluded.allow, require_scan = excluded.require_scan,
			scan_on_push = excluded.scan_on_push, updated_at = excluded.updated_at, scanner = excluded.scanner`
	qDelScanPolicy = `DELETE FROM scan_policies WHERE project = ?`
)

func (t *txn) VulnDBState() (meta.VulnDBState, error) {
	var (
		s  meta.VulnDBState
		at int64
	)
	err := t.queryRow(qVulnState, nil, &s.Generation, &at, &s.Records, &s.Source)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.VulnDBState{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("meta: vulnerability database state: %w", err)
	}
	s.ImportedAt = fromOptNanos(at)
	return s, nil
}

func (t *txn) SetVulnDBState(s meta.VulnDBState) error {
	if _, err := t.exec(qSetVulnState, s.Generation, nanos(s.ImportedAt), s.Records, s.Source); err != nil {
		return fmt.Errorf("meta: vulnerability database state: %w", err)
	}
	return nil
}

func (t *txn) PutVulnRecords(rs []meta.VulnRecord) (int, error) {
	changed := 0
	for _, r := range rs {
		res, err := t.exec(qPutVuln, r.ID, nanos(r.Modified), r.Withdrawn, r.Data)
		if err != nil {
			return changed, fmt.Errorf("meta: vulnerability %s: %w", r.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // not newer than the stored one
		}
		changed++
		if _, err := t.exec(qDelVulnPkgs, r.ID); err != nil {
			return changed, fmt.Errorf("meta: packages of vulnerability %s: %w", r.ID, err)
		}
		for _, p := range r.Packages {
			if _, err := t.exec(qPutVulnPkg, p.Ecosystem, p.Name, r.ID); err != nil {
				return changed, fmt.Errorf("meta: packages of vulnerability %s: %w", r.ID, err)
			}
		}
	}
	return changed, nil
}

func (t *txn) VulnRecordsFor(ecosystems []string, name string) ([]meta.VulnRecord, error) {
	if len(ecosystems) == 0 {
		return nil, nil
	}
	q := `SELECT DISTINCT v.id, v.modified, v.withdrawn, v.data FROM vuln_records v JOIN vuln_packages p ON p.vuln_id = v.id
		WHERE p.name = ? AND p.ecosystem IN (?` + strings.Repeat(", ?", len(ecosystems)-1) + `) ORDER BY v.id`
	args := []any{name}
	for _, e := range ecosystems {
		args = append(args, e)
	}
	var out []meta.VulnRecord
	err := t.rows("vulnerabilities of "+name, q, args, func(sc scanner) error {
		var (
			r   meta.VulnRecord
			mod int64
		)
		if err := sc.Scan(&r.ID, &mod, &r.Withdrawn, &r.Data); err != nil {
			return err
		}
		r.Modified = fromNanos(mod)
		out = append(out, r)
		return nil
	})
	return out, err
}

func scanScan(sc scanner) (meta.Scan, error) {
	var (
		s                                   meta.Scan
		d, sbom                             string
		lease, queued, started, finished    int64
		attempts, cr, hi, me, lo, un, pkgsN int64
	)
	if err := sc.Scan(&s.Repo, &d, &s.State, &s.Reason, &attempts, &s.Holder, &lease, &queued, &started, &finished,
		&s.DBGeneration, &s.Error, &cr, &hi, &me, &lo, &un, &pkgsN, &sbom, &s.Report); err != nil {
		return meta.Scan{}, err
	}
	s.Digest, s.SBOM = digest.Digest(d), digest.Digest(sbom)
	s.Attempts, s.Critical, s.High, s.Medium, s.Low, s.Unknown, s.Packages = int(attempts), int(cr), int(hi), int(me), int(lo), int(un), int(pkgsN)
	s.LeaseUntil, s.QueuedAt, s.StartedAt, s.FinishedAt = fromOptNanos(lease), fromOptNanos(queued), fromOptNanos(started), fromOptNanos(finished)
	return s, nil
}

func (t *txn) Scan(repo string, d digest.Digest) (meta.Scan, error) {
	st, err := t.stmt(qScan)
	if err != nil {
		return meta.Scan{}, err
	}
	s, err := scanScan(st.QueryRowContext(t.ctx, repo, string(d)))
	if err != nil {
		return meta.Scan{}, notFound(fmt.Sprintf("scan of %s in %s", d, repo), err)
	}
	return s, nil
}

func (t *txn) ScansBehind(gen int64, afterRepo string, afterDigest digest.Digest, n int) ([]meta.Scan, error) {
	var out []meta.Scan
	err := t.rows("scans to match again", qScansBack, []any{gen, afterRepo, afterRepo, string(afterDigest), n}, func(sc scanner) error {
		s, err := scanScan(sc)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func (t *txn) QueueScan(repo string, d digest.Digest, reason string, now time.Time) (bool, error) {
	res, err := t.exec(qQueueScan, string(d), reason, nanos(now), []byte{}, repo)
	if err != nil {
		return false, fmt.Errorf("meta: queue scan of %s in %s: %w", d, repo, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("meta: queue scan of %s in %s: %w", d, repo, err)
	} else if n > 0 {
		return true, nil
	}
	var exists int64
	if err := t.queryRow(`SELECT COUNT(*) FROM repositories WHERE name = ?`, []any{repo}, &exists); err != nil {
		return false, fmt.Errorf("meta: queue scan of %s in %s: %w", d, repo, err)
	}
	if exists == 0 {
		return false, fmt.Errorf("meta: repository %s: %w", repo, meta.ErrNotFound)
	}
	return false, nil
}

func (t *txn) ClaimScan(holder string, now time.Time, ttl time.Duration) (meta.Scan, bool, error) {
	var (
		repoID int64
		d      string
	)
	err := t.queryRow(qClaimScan, []any{holder, nanos(now.Add(ttl)), nanos(now), nanos(now)}, &repoID, &d)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Scan{}, false, nil
	}
	if err != nil {
		return meta.Scan{}, false, fmt.Errorf("meta: claim scan: %w", err)
	}
	var repo string
	if err := t.queryRow(`SELECT name FROM repositories WHERE id = ?`, []any{repoID}, &repo); err != nil {
		return meta.Scan{}, false, fmt.Errorf("meta: claim scan: %w", err)
	}
	s, err := t.Scan(repo, digest.Digest(d))
	return s, err == nil, err
}

func (t *txn) RenewScan(repo string, d digest.Digest, holder string, until time.Time) error {
	return t.execOne(fmt.Sprintf("lease of the scan of %s in %s", d, repo), qRenewScan, nanos(until), repo, string(d), holder)
}

func (t *txn) FinishScan(s meta.Scan, holder string) error {
	report := s.Report
	if report == nil {
		report = []byte{}
	}
	return t.execOne(fmt.Sprintf("scan of %s in %s", s.Digest, s.Repo), qFinishScan, s.State, nanos(s.QueuedAt),
		optNanos(s.FinishedAt), s.DBGeneration, s.Error, s.Critical, s.High, s.Medium, s.Low, s.Unknown, s.Packages,
		string(s.SBOM), report, s.Repo, string(s.Digest), holder)
}

func (t *txn) UpdateScanFindings(s meta.Scan) error {
	report := s.Report
	if report == nil {
		report = []byte{}
	}
	return t.execOne(fmt.Sprintf("scan of %s in %s", s.Digest, s.Repo), qScanFindings, s.DBGeneration, s.Critical,
		s.High, s.Medium, s.Low, s.Unknown, s.Packages, report, s.Repo, string(s.Digest))
}

func (t *txn) RequeueExpiredScans(now time.Time) (int, error) {
	res, err := t.exec(qRequeueScans, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("meta: requeue scans: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *txn) ScanCursor() (int64, error) {
	var c int64
	err := t.queryRow(qScanCursor, nil, &c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("meta: scan cursor: %w", err)
	}
	return c, nil
}

func (t *txn) AdvanceScanCursor(event int64) error {
	if _, err := t.exec(qAdvanceScan, event); err != nil {
		return fmt.Errorf("meta: scan cursor: %w", err)
	}
	return nil
}

func scanScanPolicy(sc scanner) (meta.ScanPolicy, error) {
	var (
		p       meta.ScanPolicy
		allow   string
		updated int64
	)
	if err := sc.Scan(&p.Project, &p.Block, &allow, &p.RequireScan, &p.ScanOnPush, &updated, &p.Scanner); err != nil {
		return meta.ScanPolicy{}, err
	}
	if allow != "" {
		p.Allow = strings.Split(allow, ",")
	}
	p.UpdatedAt = fromNanos(updated)
	return p, nil
}

func (t *txn) ScanPolicy(project string) (meta.ScanPolicy, error) {
	st, err := t.stmt(qScanPolicy)
	if err != nil {
		return meta.ScanPolicy{}, err
	}
	p, err := scanScanPolicy(st.QueryRowContext(t.ctx, project))
	if err != nil {
		return meta.ScanPolicy{}, notFound("scan policy of "+project, err)
	}
	return p, nil
}

func (t *txn) ScanPolicies() ([]meta.ScanPolicy, error) {
	var out []meta.ScanPolicy
	err := t.rows("scan policies", qScanPolicies, nil, func(sc scanner) error {
		p, err := scanScanPolicy(sc)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (t *txn) PutScanPolicy(p meta.ScanPolicy) error {
	return t.execOne("scan policy of project "+p.Project, qPutScanPolicy, p.Block, strings.Join(p.Allow, ","),
		p.RequireScan, p.ScanOnPush, nanos(p.UpdatedAt), p.Scanner, p.Project)
}

func (t *txn) DeleteScanPolicy(project string) error {
	return t.execOne("scan policy of project "+project, qDelScanPolicy, project)
}

func scannersMigration() Migration {
	return Migration{
		Version: 17,
		Name:    "external scanners",
		Statements: []string{
			`CREATE TABLE scanners (
				name ` + TypeKeyText + ` PRIMARY KEY,
				url TEXT NOT NULL,
				auth TEXT NOT NULL,
				credential ` + TypeBytes + ` NOT NULL,
				insecure BOOLEAN NOT NULL,
				is_default BOOLEAN NOT NULL,
				created_at BIGINT NOT NULL
			)`,
			`ALTER TABLE scan_policies ADD COLUMN scanner TEXT NOT NULL DEFAULT ''`,
		},
	}
}

const (
	scannerCols = `name, url, auth, credential, insecure, is_default, created_at`
	qScanners   = `SELECT ` + scannerCols + ` FROM scanners ORDER BY name`
	qScanner    = `SELECT ` + scannerCols + ` FROM scanners WHERE name = ?`
	qUndefault  = `UPDATE scanners SET is_default = FALSE WHERE name <> ?`
	qPutScanner = `INSERT INTO scanners (` + scannerCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, auth = excluded.auth, credential = excluded.credential,
			insecure = excluded.insecure, is_default = excluded.is_default`
	qDelScanner = `DELETE FROM scanners WHERE name = ?`
)

func scanScanner(sc scanner) (meta.Scanner, error) {
	var (
		s       meta.Scanner
		created int64
	)
	if err := sc.Scan(&s.Name, &s.URL, &s.Auth, &s.Credential, &s.Insecure, &s.Default, &created); err != nil {
		return meta.Scanner{}, err
	}
	s.CreatedAt = fromNanos(created)
	return s, nil
}

func (t *txn) Scanners() ([]meta.Scanner, error) {
	var out []meta.Scanner
	err := t.rows("scanners", qScanners, nil, func(sc scanner) error {
		s, err := scanScanner(sc)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func (t *txn) ScannerByName(name string) (meta.Scanner, error) {
	st, err := t.stmt(qScanner)
	if err != nil {
		return meta.Scanner{}, err
	}
	s, err := scanScanner(st.QueryRowContext(t.ctx, name))
	if err != nil {
		return meta.Scanner{}, notFound("scanner "+name, err)
	}
	return s, nil
}

func (t *txn) PutScanner(s meta.Scanner) error {
	cred := s.Credential
	if cred == nil {
		cred = []byte{}
	}
	if s.Default {
		if _, err := t.exec(qUndefault, s.Name); err != nil {
			return fmt.Errorf("meta: scanner %s: %w", s.Name, err)
		}
	}
	if _, err := t.exec(qPutScanner, s.Name, s.URL, s.Auth, cred, s.Insecure, s.Default, nanos(s.CreatedAt)); err != nil {
		return fmt.Errorf("meta: scanner %s: %w", s.Name, err)
	}
	return nil
}

func (t *txn) DeleteScanner(name string) error {
	return t.execOne("scanner "+name, qDelScanner, name)
}
