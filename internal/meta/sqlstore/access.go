package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

const (
	userCols       = `name, password_hash, admin, disabled, created_at, password_changed_at`
	qUser          = `SELECT ` + userCols + ` FROM users WHERE name = ?`
	qListUsers     = `SELECT ` + userCols + ` FROM users WHERE name > ? ORDER BY name LIMIT ?`
	qCreateUser    = `INSERT INTO users (` + userCols + `) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`
	qUpdateUser    = `UPDATE users SET password_hash = ?, admin = ?, disabled = ?, password_changed_at = ? WHERE name = ?`
	qDeleteUser    = `DELETE FROM users WHERE name = ?`
	qDeleteUserMem = `DELETE FROM members WHERE kind = 'user' AND name = ?`

	robotCols       = `name, project, description, secret_hash, permissions, expires_at, disabled, created_at`
	qRobot          = `SELECT ` + robotCols + ` FROM robots WHERE name = ?`
	qListRobots     = `SELECT ` + robotCols + ` FROM robots WHERE project = ? ORDER BY name`
	qListAllRobots  = `SELECT ` + robotCols + ` FROM robots ORDER BY name`
	qCreateRobot    = `INSERT INTO robots (` + robotCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`
	qUpdateRobot    = `UPDATE robots SET description = ?, secret_hash = ?, permissions = ?, expires_at = ?, disabled = ? WHERE name = ?`
	qDeleteRobot    = `DELETE FROM robots WHERE name = ?`
	qDeleteProjRobs = `DELETE FROM robots WHERE project = ?`

	projectCols    = `name, public, quota_bytes, created_at`
	qProject       = `SELECT ` + projectCols + ` FROM projects WHERE name = ?`
	qListProjects  = `SELECT ` + projectCols + ` FROM projects WHERE name > ? ORDER BY name LIMIT ?`
	qCreateProject = `INSERT INTO projects (` + projectCols + `) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`
	qUpdateProject = `UPDATE projects SET public = ? WHERE name = ?`
	qDeleteProject = `DELETE FROM projects WHERE name = ?`
	qDeleteMembers = `DELETE FROM members WHERE project = ?`
	qMembers       = `SELECT project, kind, name, role FROM members WHERE project = ? ORDER BY kind, name`
	qMembershipsOf = `SELECT project, kind, name, role FROM members WHERE kind = ? AND name = ? ORDER BY project`
	qPutMember     = `INSERT INTO members (project, kind, name, role) SELECT name, ?, ?, ? FROM projects WHERE name = ?
		ON CONFLICT (project, kind, name) DO UPDATE SET role = excluded.role`
	qDeleteMember = `DELETE FROM members WHERE project = ? AND kind = ? AND name = ?`

	qSigningKeys = `SELECT id, private_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, id DESC`
	qAddKey      = `INSERT INTO signing_keys (id, private_key, created_at, retired_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	qRetireKey   = `UPDATE signing_keys SET retired_at = ? WHERE id = ?`
	qDeleteKey   = `DELETE FROM signing_keys WHERE id = ?`
)

// optNanos stores an optional time: the zero time as 0.
func optNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromOptNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

// create runs an INSERT … ON CONFLICT DO NOTHING and maps "no row" to
// meta.ErrExists (a plain unique violation would abort a PostgreSQL
// transaction).
func (t *txn) create(what, q string, args ...any) error {
	res, err := t.exec(q, args...)
	if err != nil {
		return fmt.Errorf("meta: create %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("meta: create %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("meta: create %s: %w", what, meta.ErrExists)
	}
	return nil
}

// rows runs q and calls scan for every row.
func (t *txn) rows(what, q string, args []any, scan func(scanner) error) error {
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	rs, err := st.QueryContext(t.ctx, args...)
	if err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return fmt.Errorf("meta: %s: %w", what, err)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("meta: %s: %w", what, err)
	}
	return nil
}

func scanUser(sc scanner) (meta.User, error) {
	var (
		u                meta.User
		created, changed int64
	)
	if err := sc.Scan(&u.Name, &u.PasswordHash, &u.Admin, &u.Disabled, &created, &changed); err != nil {
		return meta.User{}, err
	}
	u.CreatedAt, u.PasswordChangedAt = fromNanos(created), fromNanos(changed)
	return u, nil
}

// bytesOrEmpty keeps a nil slice out of NOT NULL columns.
func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (t *txn) User(name string) (meta.User, error) {
	st, err := t.stmt(qUser)
	if err != nil {
		return meta.User{}, err
	}
	u, err := scanUser(st.QueryRowContext(t.ctx, name))
	return u, notFound("user "+name, err)
}

func (t *txn) ListUsers(after string, n int) ([]meta.User, error) {
	var out []meta.User
	err := t.rows("list users", qListUsers, []any{after, limitOrAll(n)}, func(sc scanner) error {
		u, err := scanUser(sc)
		out = append(out, u)
		return err
	})
	return out, err
}

func (t *txn) CreateUser(u meta.User) error {
	created := nanos(u.CreatedAt)
	changed := u.PasswordChangedAt
	if changed.IsZero() {
		changed = fromNanos(created)
	}
	return t.create("user "+u.Name, qCreateUser, u.Name, bytesOrEmpty(u.PasswordHash), u.Admin, u.Disabled, created, nanos(changed))
}

func (t *txn) UpdateUser(u meta.User) error {
	return t.execOne("update user "+u.Name, qUpdateUser, bytesOrEmpty(u.PasswordHash), u.Admin, u.Disabled, nanos(u.PasswordChangedAt), u.Name)
}

func (t *txn) DeleteUser(name string) error {
	if _, err := t.exec(qDeleteUserMem, name); err != nil {
		return fmt.Errorf("meta: delete memberships of %s: %w", name, err)
	}
	return t.execOne("delete user "+name, qDeleteUser, name)
}

func scanRobot(sc scanner) (meta.Robot, error) {
	var (
		r                meta.Robot
		perms            string
		expires, created int64
	)
	if err := sc.Scan(&r.Name, &r.Project, &r.Description, &r.SecretHash, &perms, &expires, &r.Disabled, &created); err != nil {
		return meta.Robot{}, err
	}
	if err := json.Unmarshal([]byte(perms), &r.Permissions); err != nil {
		return meta.Robot{}, fmt.Errorf("robot %s: permissions: %w", r.Name, err)
	}
	r.ExpiresAt, r.CreatedAt = fromOptNanos(expires), fromNanos(created)
	return r, nil
}

func robotPerms(r meta.Robot) (string, error) {
	p := r.Permissions
	if p == nil {
		p = []meta.RobotPermission{}
	}
	b, err := json.Marshal(p)
	return string(b), err
}

func (t *txn) Robot(name string) (meta.Robot, error) {
	st, err := t.stmt(qRobot)
	if err != nil {
		return meta.Robot{}, err
	}
	r, err := scanRobot(st.QueryRowContext(t.ctx, name))
	return r, notFound("robot "+name, err)
}

func (t *txn) ListRobots(project string) ([]meta.Robot, error) {
	q, args := qListRobots, []any{project}
	if project == "*" {
		q, args = qListAllRobots, nil
	}
	var out []meta.Robot
	err := t.rows("list robots", q, args, func(sc scanner) error {
		r, err := scanRobot(sc)
		out = append(out, r)
		return err
	})
	return out, err
}

func (t *txn) CreateRobot(r meta.Robot) error {
	perms, err := robotPerms(r)
	if err != nil {
		return err
	}
	return t.create("robot "+r.Name, qCreateRobot, r.Name, r.Project, r.Description, bytesOrEmpty(r.SecretHash), perms,
		optNanos(r.ExpiresAt), r.Disabled, nanos(r.CreatedAt))
}

func (t *txn) UpdateRobot(r meta.Robot) error {
	perms, err := robotPerms(r)
	if err != nil {
		return err
	}
	return t.execOne("update robot "+r.Name, qUpdateRobot, r.Description, bytesOrEmpty(r.SecretHash), perms, optNanos(r.ExpiresAt), r.Disabled, r.Name)
}

func (t *txn) DeleteRobot(name string) error {
	return t.execOne("delete robot "+name, qDeleteRobot, name)
}

func scanProject(sc scanner) (meta.Project, error) {
	var (
		p       meta.Project
		created int64
	)
	if err := sc.Scan(&p.Name, &p.Public, &p.Quota, &created); err != nil {
		return meta.Project{}, err
	}
	p.CreatedAt = fromNanos(created)
	return p, nil
}

func (t *txn) Project(name string) (meta.Project, error) {
	st, err := t.stmt(qProject)
	if err != nil {
		return meta.Project{}, err
	}
	p, err := scanProject(st.QueryRowContext(t.ctx, name))
	return p, notFound("project "+name, err)
}

func (t *txn) ListProjects(after string, n int) ([]meta.Project, error) {
	var out []meta.Project
	err := t.rows("list projects", qListProjects, []any{after, limitOrAll(n)}, func(sc scanner) error {
		p, err := scanProject(sc)
		out = append(out, p)
		return err
	})
	return out, err
}

func scanMember(sc scanner) (meta.Member, error) {
	var m meta.Member
	err := sc.Scan(&m.Project, &m.Kind, &m.Name, &m.Role)
	return m, err
}

func (t *txn) members(what, q string, args ...any) ([]meta.Member, error) {
	var out []meta.Member
	err := t.rows(what, q, args, func(sc scanner) error {
		m, err := scanMember(sc)
		out = append(out, m)
		return err
	})
	return out, err
}

func (t *txn) Members(project string) ([]meta.Member, error) {
	return t.members("members of "+project, qMembers, project)
}

func (t *txn) MembershipsOf(kind, name string) ([]meta.Member, error) {
	return t.members("memberships of "+kind+" "+name, qMembershipsOf, kind, name)
}

func (t *txn) CreateProject(p meta.Project) error {
	if p.Quota < 0 {
		return fmt.Errorf("meta: create project %s: negative quota (%d)", p.Name, p.Quota)
	}
	return t.create("project "+p.Name, qCreateProject, p.Name, p.Public, p.Quota, nanos(p.CreatedAt))
}

func (t *txn) UpdateProject(p meta.Project) error {
	return t.execOne("update project "+p.Name, qUpdateProject, p.Public, p.Name)
}

func (t *txn) DeleteProject(name string) error {
	for _, q := range []string{qDeleteMembers, qDeleteProjRobs} {
		if _, err := t.exec(q, name); err != nil {
			return fmt.Errorf("meta: delete project %s: %w", name, err)
		}
	}
	return t.execOne("delete project "+name, qDeleteProject, name)
}

func (t *txn) PutMember(m meta.Member) error {
	return t.execOne(fmt.Sprintf("put member %s %s of %s", m.Kind, m.Name, m.Project), qPutMember, m.Kind, m.Name, m.Role, m.Project)
}

func (t *txn) DeleteMember(project, kind, name string) error {
	return t.execOne(fmt.Sprintf("delete member %s %s of %s", kind, name, project), qDeleteMember, project, kind, name)
}

func (t *txn) SigningKeys() ([]meta.SigningKey, error) {
	var out []meta.SigningKey
	err := t.rows("signing keys", qSigningKeys, nil, func(sc scanner) error {
		var (
			k                meta.SigningKey
			created, retired int64
		)
		if err := sc.Scan(&k.ID, &k.PrivateKey, &created, &retired); err != nil {
			return err
		}
		k.CreatedAt, k.RetiredAt = fromNanos(created), fromOptNanos(retired)
		out = append(out, k)
		return nil
	})
	return out, err
}

func (t *txn) AddSigningKey(k meta.SigningKey) error {
	return t.create("signing key "+k.ID, qAddKey, k.ID, bytesOrEmpty(k.PrivateKey), nanos(k.CreatedAt), optNanos(k.RetiredAt))
}

func (t *txn) RetireSigningKey(id string, at time.Time) error {
	return t.execOne("retire signing key "+id, qRetireKey, nanos(at), id)
}

func (t *txn) DeleteSigningKey(id string) error {
	return t.execOne("delete signing key "+id, qDeleteKey, id)
}

const (
	qLoginThrottle    = `SELECT key, failures, window_start, blocked_until FROM login_throttles WHERE key = ?`
	qPutLoginThrottle = `INSERT INTO login_throttles (key, failures, window_start, blocked_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, blocked_until = excluded.blocked_until`
	qDeleteLoginThrottle   = `DELETE FROM login_throttles WHERE key = ?`
	qDeleteLoginThrottlesB = `DELETE FROM login_throttles WHERE window_start < ? AND blocked_until < ?`
)

func (t *txn) LoginThrottle(key string) (meta.LoginThrottle, error) {
	var (
		lt              meta.LoginThrottle
		start, blockedU int64
	)
	err := t.queryRow(qLoginThrottle, []any{key}, &lt.Key, &lt.Failures, &start, &blockedU)
	if err != nil {
		return meta.LoginThrottle{}, notFound("login throttle "+key, err)
	}
	lt.WindowStart, lt.BlockedUntil = fromNanos(start), fromOptNanos(blockedU)
	return lt, nil
}

func (t *txn) PutLoginThrottle(lt meta.LoginThrottle) error {
	if _, err := t.exec(qPutLoginThrottle, lt.Key, lt.Failures, nanos(lt.WindowStart), optNanos(lt.BlockedUntil)); err != nil {
		return fmt.Errorf("meta: put login throttle %s: %w", lt.Key, err)
	}
	return nil
}

func (t *txn) DeleteLoginThrottle(key string) error {
	if _, err := t.exec(qDeleteLoginThrottle, key); err != nil {
		return fmt.Errorf("meta: delete login throttle %s: %w", key, err)
	}
	return nil
}

func (t *txn) DeleteLoginThrottlesBefore(before time.Time) (int, error) {
	res, err := t.exec(qDeleteLoginThrottlesB, before.UnixNano(), before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("meta: purge login throttles: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
