package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func proxyMigration() Migration {
	return Migration{
		Version: 13,
		Name:    "pull-through cache",
		Statements: []string{
			// password is sealed (secretbox) when a key is configured.
			`CREATE TABLE proxies (
				project ` + TypeKeyText + ` PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
				url TEXT NOT NULL,
				username TEXT NOT NULL,
				password ` + TypeBytes + ` NOT NULL,
				insecure BOOLEAN NOT NULL,
				ca_cert TEXT NOT NULL,
				ttl BIGINT NOT NULL,
				created_at BIGINT NOT NULL
			)`,
			// When each cached tag was last found current upstream.
			`CREATE TABLE proxy_checks (
				repo_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
				tag ` + TypeKeyText + ` NOT NULL,
				checked_at BIGINT NOT NULL,
				PRIMARY KEY (repo_id, tag)
			)`,
		},
	}
}

const (
	proxyCols    = `project, url, username, password, insecure, ca_cert, ttl, created_at`
	qProxy       = `SELECT ` + proxyCols + ` FROM proxies WHERE project = ?`
	qListProxies = `SELECT ` + proxyCols + ` FROM proxies ORDER BY project`
	qPutProxy    = `INSERT INTO proxies (` + proxyCols + `) SELECT name, ?, ?, ?, ?, ?, ?, ? FROM projects WHERE name = ?
		ON CONFLICT (project) DO UPDATE SET url = excluded.url, username = excluded.username, password = excluded.password,
			insecure = excluded.insecure, ca_cert = excluded.ca_cert, ttl = excluded.ttl`
	qDeleteProxy   = `DELETE FROM proxies WHERE project = ?`
	qProxyChecked  = `SELECT c.checked_at FROM proxy_checks c JOIN repositories r ON r.id = c.repo_id WHERE r.name = ? AND c.tag = ?`
	qSetProxyCheck = `INSERT INTO proxy_checks (repo_id, tag, checked_at) SELECT id, ?, ? FROM repositories WHERE name = ?
		ON CONFLICT (repo_id, tag) DO UPDATE SET checked_at = excluded.checked_at`
	qUsageUnsized  = `SELECT COUNT(*) FROM project_usage WHERE project = ? AND digest = ? AND size = 0`
	qUsageSizeBlob = `UPDATE project_usage SET size = ? WHERE project = ? AND digest = ? AND size = 0`
)

func scanProxy(sc scanner) (meta.Proxy, error) {
	var (
		p            meta.Proxy
		ttl, created int64
	)
	if err := sc.Scan(&p.Project, &p.URL, &p.Username, &p.Password, &p.Insecure, &p.CACert, &ttl, &created); err != nil {
		return meta.Proxy{}, err
	}
	p.TTL, p.CreatedAt = time.Duration(ttl), fromNanos(created)
	return p, nil
}

func (t *txn) Proxy(project string) (meta.Proxy, error) {
	st, err := t.stmt(qProxy)
	if err != nil {
		return meta.Proxy{}, err
	}
	p, err := scanProxy(st.QueryRowContext(t.ctx, project))
	if err != nil {
		return meta.Proxy{}, notFound("proxy project "+project, err)
	}
	return p, nil
}

func (t *txn) ListProxies() ([]meta.Proxy, error) {
	var out []meta.Proxy
	err := t.rows("proxy projects", qListProxies, nil, func(sc scanner) error {
		p, err := scanProxy(sc)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (t *txn) PutProxy(p meta.Proxy) error {
	created := p.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	password := p.Password
	if password == nil {
		password = []byte{}
	}
	return t.execOne("make "+p.Project+" a proxy project", qPutProxy,
		p.URL, p.Username, password, p.Insecure, p.CACert, int64(p.TTL), nanos(created), p.Project)
}

func (t *txn) DeleteProxy(project string) error {
	return t.execOne("proxy project "+project, qDeleteProxy, project)
}

func (t *txn) ProxyTagChecked(repo, tag string) (time.Time, error) {
	var at int64
	err := t.queryRow(qProxyChecked, []any{repo, tag}, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("meta: check time of %s:%s: %w", repo, tag, err)
	}
	return fromNanos(at), nil
}

func (t *txn) SetProxyTagChecked(repo, tag string, at time.Time) error {
	return t.execOne(fmt.Sprintf("check time of %s:%s", repo, tag), qSetProxyCheck, tag, nanos(at), repo)
}

// sizeUsage gives a blob its size in its project's usage when a manifest
// counted it before the blob was there (a pull-through cache stores a
// manifest first and its blobs as they are pulled).
func (t *txn) sizeUsage(repo, d string, size int64) error {
	project := meta.ProjectOf(repo)
	var n int64
	if err := t.queryRow(qUsageUnsized, []any{project, d}, &n); err != nil {
		return fmt.Errorf("meta: usage of %s in project %s: %w", d, project, err)
	}
	if n == 0 || size == 0 {
		return nil
	}
	// The project's total first, as every writer of its usage does.
	if _, err := t.LockProjectUsage(project); err != nil {
		return err
	}
	res, err := t.exec(qUsageSizeBlob, size, project, d)
	if err != nil {
		return fmt.Errorf("meta: usage of %s in project %s: %w", d, project, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return t.addUsage(project, size)
}
