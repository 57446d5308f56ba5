package meta

import (
	"errors"
	"strings"
	"time"
)

// ErrExists is returned (bare or wrapped) when a row to be created exists
// already (a user, project, robot or key of that name).
var ErrExists = errors.New("meta: already exists")

// User is a local account. PasswordHash is a bcrypt hash. PasswordChangedAt
// moves whenever the password does: long-lived refresh tokens issued before
// it stop working.
type User struct {
	Name              string
	PasswordHash      []byte
	Admin             bool
	Disabled          bool
	CreatedAt         time.Time
	PasswordChangedAt time.Time
}

// Project is the first path component of repository names ("team" for
// "team/app"). Anonymous clients may pull from public projects. Quota is
// the project's storage quota in bytes (0 = unlimited; see QuotaReader for
// what counts).
type Project struct {
	Name      string
	Public    bool
	Quota     int64
	CreatedAt time.Time
}

// ProjectOf returns the project of a repository: its first path
// component ("team" for "team/app"; "alpine" for "alpine").
func ProjectOf(repo string) string {
	if i := strings.IndexByte(repo, '/'); i >= 0 {
		return repo[:i]
	}
	return repo
}

// Member kinds: a local (or htpasswd) user, or a directory group whose
// members all get the role.
const (
	MemberUser  = "user"
	MemberGroup = "group"
)

// Member gives a user or group a role in a project. Roles are named by the
// auth package ("admin", "maintainer", "developer", "guest", "limited-guest").
type Member struct {
	Project string
	Kind    string
	Name    string
	Role    string
}

// Robot is a robot account for CI: "robot$<project>+<name>" (Project set) or
// "robot$<name>" (a system robot, Project ""). SecretHash is a bcrypt hash of
// the secret shown once at creation. A zero ExpiresAt never expires.
type Robot struct {
	Name        string
	Project     string
	Description string
	SecretHash  []byte
	Permissions []RobotPermission
	ExpiresAt   time.Time
	Disabled    bool
	CreatedAt   time.Time
}

// RobotPermission grants actions ("pull", "push", "delete") on repositories
// matching a pattern (the pattern grammar of docs/patterns.md).
type RobotPermission struct {
	Repositories string   `json:"repositories"`
	Actions      []string `json:"actions"`
}

// SigningKey is a token signing key (a PEM private key). Tokens are signed
// with the newest key that is not retired; retired keys still verify tokens
// until they are deleted.
type SigningKey struct {
	ID         string
	PrivateKey []byte
	CreatedAt  time.Time
	RetiredAt  time.Time // zero while the key signs
}

type AccountReader interface {
	// User returns the named user or ErrNotFound.
	User(name string) (User, error)
	// ListUsers returns up to n users sorted by name after the given name
	// ("" = from the start). n <= 0 means no limit.
	ListUsers(after string, n int) ([]User, error)
	// Robot returns the named robot or ErrNotFound.
	Robot(name string) (Robot, error)
	// ListRobots returns the robots of project sorted by name; project ""
	// lists system robots, "*" every robot.
	ListRobots(project string) ([]Robot, error)
}

type AccountWriter interface {
	// CreateUser adds u; ErrExists if the name is taken.
	CreateUser(u User) error
	// UpdateUser saves PasswordHash, Admin, Disabled and PasswordChangedAt;
	// ErrNotFound if there is no such user.
	UpdateUser(u User) error
	// DeleteUser removes the user and its project memberships; ErrNotFound
	// if there is no such user.
	DeleteUser(name string) error
	// CreateRobot adds r; ErrExists if the name is taken.
	CreateRobot(r Robot) error
	// UpdateRobot saves Description, SecretHash, Permissions, ExpiresAt and
	// Disabled; ErrNotFound if there is no such robot.
	UpdateRobot(r Robot) error
	// DeleteRobot removes the robot; ErrNotFound if there is none.
	DeleteRobot(name string) error
}

type ProjectReader interface {
	// Project returns the named project or ErrNotFound.
	Project(name string) (Project, error)
	// ListProjects returns up to n projects sorted by name after the given
	// name ("" = from the start). n <= 0 means no limit.
	ListProjects(after string, n int) ([]Project, error)
	// Members returns the members of project sorted by kind then name.
	Members(project string) ([]Member, error)
	// MembershipsOf returns the memberships of the named user or group,
	// sorted by project.
	MembershipsOf(kind, name string) ([]Member, error)
}

type ProjectWriter interface {
	// CreateProject adds p; ErrExists if the name is taken.
	CreateProject(p Project) error
	// UpdateProject saves Public (not Quota: SetProjectQuota does);
	// ErrNotFound if there is no such project.
	UpdateProject(p Project) error
	// DeleteProject removes the project with its members and robots (not
	// its repositories: the caller checks that none is left); ErrNotFound if
	// there is no such project.
	DeleteProject(name string) error
	// PutMember adds the member or changes its role; the project must exist
	// (ErrNotFound otherwise).
	PutMember(m Member) error
	// DeleteMember removes a membership; ErrNotFound if there was none.
	DeleteMember(project, kind, name string) error
}

type KeyReader interface {
	// SigningKeys returns every key, newest first.
	SigningKeys() ([]SigningKey, error)
}

type KeyWriter interface {
	// AddSigningKey stores k; ErrExists if the id is taken.
	AddSigningKey(k SigningKey) error
	// RetireSigningKey marks the key retired at the given time; ErrNotFound
	// if there is no such key.
	RetireSigningKey(id string, at time.Time) error
	// DeleteSigningKey removes the key; ErrNotFound if there is none.
	DeleteSigningKey(id string) error
}

// LoginThrottle is the failed-login record of one key ("user:<name>" or
// "addr:<ip>"): failures since WindowStart, and a block until BlockedUntil.
type LoginThrottle struct {
	Key          string
	Failures     int
	WindowStart  time.Time
	BlockedUntil time.Time
}

type ThrottleReader interface {
	// LoginThrottle returns the record of key, or ErrNotFound.
	LoginThrottle(key string) (LoginThrottle, error)
}

type ThrottleWriter interface {
	// PutLoginThrottle saves the record (insert or replace).
	PutLoginThrottle(t LoginThrottle) error
	// DeleteLoginThrottle removes the record; no error if there is none.
	DeleteLoginThrottle(key string) error
	// DeleteLoginThrottlesBefore removes records whose window started and
	// whose block ended before t.
	DeleteLoginThrottlesBefore(t time.Time) (int, error)
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID        int64 // assigned by the store
	At        time.Time
	Actor     string // user or robot name; "" anonymous
	ActorKind string // "user", "robot", "" anonymous
	Addr      string // client address
	Action    string // login, login.failed, pull, push, delete, tag.delete, user.create, member.put, robot.create, ...
	Repo      string
	Digest    string
	Tag       string
	Detail    string // free text (the member and role, the robot, the reason of a failure)
}

// AuditFilter selects audit events: every non-zero field must match.
// Results are newest first; BeforeID pages (0 = from the newest).
type AuditFilter struct {
	Actor    string
	Action   string
	Repo     string
	Since    time.Time
	Until    time.Time
	BeforeID int64
	Limit    int // <= 0: no limit
}

type AuditReader interface {
	// ListAudit returns the events matching f, newest first.
	ListAudit(f AuditFilter) ([]AuditEvent, error)
	// Activity sums up what is known of repo's manifests by digest: pulls
	// and the last pull (the pull statistics, all tags together), and the
	// last push with its actor (the audit log).
	Activity(repo string) (map[string]Activity, error)
}

// Activity is what is known of the use of one manifest.
type Activity struct {
	Pulls    int
	LastPull time.Time
	Pusher   string
	PushedAt time.Time
}

type AuditWriter interface {
	// AppendAudit records events.
	AppendAudit(events ...AuditEvent) error
	// DeleteAuditBefore removes events older than t.
	DeleteAuditBefore(t time.Time) (int, error)
}

// ImmutableRule makes the tags matching Tags, in the repositories of
// Project matching Repositories, immutable: once set, such a tag can not
// be moved to another manifest or deleted. Patterns use the grammar of
// docs/patterns.md; Repositories matches the whole repository name.
type ImmutableRule struct {
	ID           int64 // assigned by the store
	Project      string
	Repositories string
	Tags         string
	CreatedAt    time.Time
}

type PolicyReader interface {
	// ImmutableRules returns the rules of project in ID order.
	ImmutableRules(project string) ([]ImmutableRule, error)
}

type PolicyWriter interface {
	// AddImmutableRule stores r and returns its ID.
	AddImmutableRule(r ImmutableRule) (int64, error)
	// DeleteImmutableRule removes the rule of project with the id;
	// ErrNotFound if there is none.
	DeleteImmutableRule(project string, id int64) error
}

// QuarantinedBlob is a blob that failed verification: its bytes do not
// hash to its digest. It is not served until it is pushed again.
type QuarantinedBlob struct {
	Digest string
	Reason string
	At     time.Time
}

type QuarantineReader interface {
	// ListQuarantine returns every quarantined blob, by digest.
	ListQuarantine() ([]QuarantinedBlob, error)
}

type QuarantineWriter interface {
	// PutQuarantine quarantines a blob (again: the reason and time change).
	PutQuarantine(q QuarantinedBlob) error
	// DeleteQuarantine lifts a quarantine; no error if there was none.
	DeleteQuarantine(digest string) error
}
