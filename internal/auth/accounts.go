package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Errors of account management, besides ErrDenied, meta.ErrNotFound and
// meta.ErrExists.
var (
	// ErrInvalid wraps every refusal of a malformed request.
	ErrInvalid = errors.New("invalid request")
	// ErrNotEmpty: a project still holding repositories cannot be deleted.
	ErrNotEmpty = errors.New("project still has repositories")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// userNameRe is the grammar of user names: what fits in a Basic auth
// header, a URL path segment and a log line without quoting.
var userNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// robotNameRe is a robot's own name (after robot$ and the project).
var robotNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// MinPasswordLength is the shortest password berth accepts.
const MinPasswordLength = 8

func checkPassword(p string) error {
	if len(p) < MinPasswordLength {
		return invalid("password must be at least %d characters", MinPasswordLength)
	}
	if len(p) > 72 {
		return invalid("password must be at most 72 bytes (bcrypt's limit)")
	}
	return nil
}

// auditIn records a management change in the change's own transaction,
// by the actor of ctx. project goes in the event's repository field.
func auditIn(ctx context.Context, tx meta.Tx, action, project, detail string) error {
	a := actor.From(ctx)
	return tx.AppendAudit(meta.AuditEvent{At: time.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr, Action: action, Repo: project, Detail: detail})
}

// UserPatch changes a user: nil fields stay as they are.
type UserPatch struct {
	Password *string
	Admin    *bool
	Disabled *bool
}

func (s *Service) requireAdmin(actor Identity) error {
	if !actor.Admin {
		return ErrDenied
	}
	return nil
}

// ListUsers lists the local users (system admins only).
func (s *Service) ListUsers(ctx context.Context, actor Identity) ([]meta.User, error) {
	if err := s.requireAdmin(actor); err != nil {
		return nil, err
	}
	var out []meta.User
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.ListUsers("", 0)
		return err
	})
	return out, err
}

// GetUser returns a user: system admins see anyone, users themselves.
func (s *Service) GetUser(ctx context.Context, actor Identity, name string) (meta.User, error) {
	if !actor.Admin && !(actor.Kind == KindUser && actor.Name == name) {
		return meta.User{}, ErrDenied
	}
	var u meta.User
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		u, err = r.User(name)
		return err
	})
	return u, err
}

// CreateUser adds a local user (system admins only).
func (s *Service) CreateUser(ctx context.Context, actor Identity, name, password string, admin bool) (meta.User, error) {
	if err := s.requireAdmin(actor); err != nil {
		return meta.User{}, err
	}
	if !userNameRe.MatchString(name) {
		return meta.User{}, invalid("user name %q: use 1 to 64 of a-z 0-9 . _ @ -, starting with a letter or digit", name)
	}
	if err := checkPassword(password); err != nil {
		return meta.User{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return meta.User{}, err
	}
	now := time.Now()
	u := meta.User{Name: name, PasswordHash: hash, Admin: admin, CreatedAt: now, PasswordChangedAt: now}
	err = s.store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		return auditIn(ctx, tx, "user.create", "", fmt.Sprintf("user %s admin=%v", name, admin))
	})
	return u, err
}

// UpdateUser changes a user. Users may change their own password; only
// system admins change anything else, and none may take away their own
// admin flag or disable themselves (so the last admin cannot lock
// everyone out by mistake).
func (s *Service) UpdateUser(ctx context.Context, actor Identity, name string, p UserPatch) (meta.User, error) {
	self := actor.Kind == KindUser && actor.Name == name
	if !actor.Admin && !(self && p.Admin == nil && p.Disabled == nil) {
		return meta.User{}, ErrDenied
	}
	if self && ((p.Admin != nil && !*p.Admin) || (p.Disabled != nil && *p.Disabled)) {
		return meta.User{}, invalid("you cannot remove your own admin rights or disable yourself")
	}
	var hash []byte
	if p.Password != nil {
		if err := checkPassword(*p.Password); err != nil {
			return meta.User{}, err
		}
		var err error
		if hash, err = HashPassword(*p.Password); err != nil {
			return meta.User{}, err
		}
	}
	var u meta.User
	err := s.store.Update(ctx, func(tx meta.Tx) error {
		var err error
		if u, err = tx.User(name); err != nil {
			return err
		}
		if hash != nil {
			u.PasswordHash, u.PasswordChangedAt = hash, time.Now()
		}
		if p.Admin != nil {
			u.Admin = *p.Admin
		}
		if p.Disabled != nil {
			u.Disabled = *p.Disabled
		}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		return auditIn(ctx, tx, "user.update", "", fmt.Sprintf("user %s password=%v admin=%v disabled=%v", name, p.Password != nil, u.Admin, u.Disabled))
	})
	if err == nil {
		s.Authn.Forget()
	}
	return u, err
}

// DeleteUser removes a user and its memberships (system admins only; not
// oneself).
func (s *Service) DeleteUser(ctx context.Context, actor Identity, name string) error {
	if err := s.requireAdmin(actor); err != nil {
		return err
	}
	if actor.Kind == KindUser && actor.Name == name {
		return invalid("you cannot delete yourself")
	}
	err := s.store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.DeleteUser(name); err != nil {
			return err
		}
		return auditIn(ctx, tx, "user.delete", "", "user "+name)
	})
	if err == nil {
		s.Authn.Forget()
	}
	return err
}

// projectRole is actor's role in project ("" none); system admins are
// project admins everywhere.
func (s *Service) projectRole(r meta.Reader, actor Identity, project string) (string, error) {
	if actor.Admin {
		return RoleAdmin, nil
	}
	if actor.Kind != KindUser {
		return "", nil
	}
	return bestRole(r, actor, project)
}

// ProjectInfo is a project with the caller's role in it.
type ProjectInfo struct {
	meta.Project
	Role string // the caller's role, "" for none
}

// ListProjects lists the projects the caller may see: public ones and
// those it is a member of (all for system admins).
func (s *Service) ListProjects(ctx context.Context, actor Identity) ([]ProjectInfo, error) {
	var out []ProjectInfo
	err := s.store.View(ctx, func(r meta.Reader) error {
		ps, err := r.ListProjects("", 0)
		if err != nil {
			return err
		}
		for _, p := range ps {
			role, err := s.projectRole(r, actor, p.Name)
			if err != nil {
				return err
			}
			if p.Public || role != "" {
				out = append(out, ProjectInfo{Project: p, Role: role})
			}
		}
		return nil
	})
	return out, err
}

// GetProject returns a project the caller may see (meta.ErrNotFound
// otherwise, so private names do not leak).
func (s *Service) GetProject(ctx context.Context, actor Identity, name string) (ProjectInfo, error) {
	var out ProjectInfo
	err := s.store.View(ctx, func(r meta.Reader) error {
		p, err := r.Project(name)
		if err != nil {
			return err
		}
		role, err := s.projectRole(r, actor, name)
		if err != nil {
			return err
		}
		if !p.Public && role == "" {
			return fmt.Errorf("project %s: %w", name, meta.ErrNotFound)
		}
		out = ProjectInfo{Project: p, Role: role}
		return nil
	})
	return out, err
}

// CreateProject makes a project, the creator its admin. System admins may,
// and any user when projects.auto_create is on.
func (s *Service) CreateProject(ctx context.Context, actor Identity, name string, public bool) (meta.Project, error) {
	if !actor.Admin && !(actor.Kind == KindUser && s.opts.AutoCreateProjects) {
		return meta.Project{}, ErrDenied
	}
	if strings.Contains(name, "/") || !oci.ValidName(name) {
		return meta.Project{}, invalid("project name %q: one component of a repository name (lowercase letters, digits, . _ -)", name)
	}
	p := meta.Project{Name: name, Public: public, CreatedAt: time.Now()}
	err := s.store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.CreateProject(p); err != nil {
			return err
		}
		if err := auditIn(ctx, tx, "project.create", name, fmt.Sprintf("public=%v", public)); err != nil {
			return err
		}
		if actor.Kind == KindUser {
			return tx.PutMember(meta.Member{Project: name, Kind: meta.MemberUser, Name: actor.Name, Role: RoleAdmin})
		}
		return nil
	})
	return p, err
}

// requireProjectAdmin runs fn in a transaction when actor administers
// project.
func (s *Service) asProjectAdmin(ctx context.Context, actor Identity, project string, fn func(tx meta.Tx) error) error {
	return s.store.Update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Project(project); err != nil {
			return err
		}
		role, err := s.projectRole(tx, actor, project)
		if err != nil {
			return err
		}
		if role != RoleAdmin {
			return ErrDenied
		}
		return fn(tx)
	})
}

// SetProjectPublic makes a project public or private (project admins).
func (s *Service) SetProjectPublic(ctx context.Context, actor Identity, name string, public bool) error {
	return s.asProjectAdmin(ctx, actor, name, func(tx meta.Tx) error {
		if err := tx.UpdateProject(meta.Project{Name: name, Public: public}); err != nil {
			return err
		}
		return auditIn(ctx, tx, "project.update", name, fmt.Sprintf("public=%v", public))
	})
}

// DeleteProject removes an empty project with its members and robots
// (system admins only).
func (s *Service) DeleteProject(ctx context.Context, actor Identity, name string) error {
	if err := s.requireAdmin(actor); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Repository(name); err == nil {
			return ErrNotEmpty
		}
		next, err := tx.ListRepositories(name+"/", 1)
		if err != nil {
			return err
		}
		if len(next) == 1 && strings.HasPrefix(next[0], name+"/") {
			return ErrNotEmpty
		}
		if err := tx.DeleteProject(name); err != nil {
			return err
		}
		return auditIn(ctx, tx, "project.delete", name, "")
	})
}

// ListMembers lists a project's members (to anyone who may see it).
func (s *Service) ListMembers(ctx context.Context, actor Identity, project string) ([]meta.Member, error) {
	if _, err := s.GetProject(ctx, actor, project); err != nil {
		return nil, err
	}
	var out []meta.Member
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.Members(project)
		return err
	})
	return out, err
}

// PutMember gives a user or group a role in a project (project admins).
func (s *Service) PutMember(ctx context.Context, actor Identity, m meta.Member) error {
	if m.Kind != meta.MemberUser && m.Kind != meta.MemberGroup {
		return invalid("member kind %q: user or group", m.Kind)
	}
	if !ValidRole(m.Role) {
		return invalid("role %q: one of %s", m.Role, strings.Join(Roles, ", "))
	}
	if m.Name == "" || len(m.Name) > 256 {
		return invalid("member name must be 1 to 256 characters")
	}
	return s.asProjectAdmin(ctx, actor, m.Project, func(tx meta.Tx) error {
		if m.Kind == meta.MemberUser && !IsRobotName(m.Name) {
			// A local user must exist; htpasswd and directory users are
			// not listed here and may be named freely.
			if _, err := tx.User(m.Name); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
		}
		if err := tx.PutMember(m); err != nil {
			return err
		}
		return auditIn(ctx, tx, "member.put", m.Project, fmt.Sprintf("%s %s role %s", m.Kind, m.Name, m.Role))
	})
}

// DeleteMember removes a membership (project admins).
func (s *Service) DeleteMember(ctx context.Context, actor Identity, project, kind, name string) error {
	return s.asProjectAdmin(ctx, actor, project, func(tx meta.Tx) error {
		if err := tx.DeleteMember(project, kind, name); err != nil {
			return err
		}
		return auditIn(ctx, tx, "member.delete", project, kind+" "+name)
	})
}

// RobotSpec describes a robot account to create.
type RobotSpec struct {
	Project     string // "" for a system robot
	Name        string // its own name; the account is robot$project+name
	Description string
	Permissions []meta.RobotPermission
	ExpiresAt   time.Time // zero: never
}

// robotSecretLength is the length of generated robot secrets.
const robotSecretLength = 40

// CreateRobot makes a robot account and returns it with its secret, shown
// this once. Project robots are made by project admins and may only be
// given repositories of their project; system robots by system admins.
func (s *Service) CreateRobot(ctx context.Context, actor Identity, spec RobotSpec) (meta.Robot, string, error) {
	if strings.HasPrefix(spec.Name, ScannerRobotPrefix) {
		return meta.Robot{}, "", invalid("robot names starting with %s are berth's own (the credentials it hands external scanners)", ScannerRobotPrefix)
	}
	return s.createRobot(ctx, actor, spec)
}

func (s *Service) createRobot(ctx context.Context, actor Identity, spec RobotSpec) (meta.Robot, string, error) {
	if !robotNameRe.MatchString(spec.Name) {
		return meta.Robot{}, "", invalid("robot name %q: use 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit", spec.Name)
	}
	if len(spec.Permissions) == 0 {
		return meta.Robot{}, "", invalid("a robot needs at least one permission")
	}
	for _, p := range spec.Permissions {
		if err := checkRobotPermission(spec.Project, p); err != nil {
			return meta.Robot{}, "", err
		}
	}
	if !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(time.Now()) {
		return meta.Robot{}, "", invalid("expiry %s is in the past", spec.ExpiresAt.Format(time.RFC3339))
	}
	secret := NewSecret(robotSecretLength)
	hash, err := HashPassword(secret)
	if err != nil {
		return meta.Robot{}, "", err
	}
	rb := meta.Robot{
		Name: RobotName(spec.Project, spec.Name), Project: spec.Project, Description: spec.Description,
		SecretHash: hash, Permissions: spec.Permissions, ExpiresAt: spec.ExpiresAt, CreatedAt: time.Now(),
	}
	create := func(tx meta.Tx) error {
		if err := tx.CreateRobot(rb); err != nil {
			return err
		}
		return auditIn(ctx, tx, "robot.create", spec.Project, "robot "+rb.Name)
	}
	if spec.Project == "" {
		if err := s.requireAdmin(actor); err != nil {
			return meta.Robot{}, "", err
		}
		err = s.store.Update(ctx, create)
	} else {
		err = s.asProjectAdmin(ctx, actor, spec.Project, create)
	}
	if err != nil {
		return meta.Robot{}, "", err
	}
	return rb, secret, nil
}

// ScannerRobotPrefix starts the names of the system robots berth makes to
// hand an external scanner a short-lived pull credential; nobody else may
// make such a robot, and they are not held to the pull policies (a
// scanner reads what it scans).
const ScannerRobotPrefix = "berth-scanner-"

// IsScannerRobot reports whether id is one of those robots.
func IsScannerRobot(id Identity) bool {
	return id.Kind == KindRobot && strings.HasPrefix(id.Name, RobotPrefix+ScannerRobotPrefix)
}

// ScannerCredential makes a system robot that may pull repo until ttl has
// passed, for an external scanner, and returns its account name and
// secret, and a function that deletes it.
func (s *Service) ScannerCredential(ctx context.Context, repo string, ttl time.Duration) (user, secret string, release func() error, err error) {
	name := ScannerRobotPrefix + strings.ToLower(NewSecret(12))
	admin := Identity{Kind: KindUser, Name: "scanner", Admin: true}
	rb, secret, err := s.createRobot(ctx, admin, RobotSpec{Name: name, Description: "pull credential of an external scan of " + repo,
		Permissions: []meta.RobotPermission{{Repositories: repo, Actions: []string{ActionPull}}}, ExpiresAt: time.Now().Add(ttl)})
	if err != nil {
		return "", "", nil, err
	}
	release = func() error { return s.DeleteRobot(context.WithoutCancel(ctx), admin, "", name) }
	return rb.Name, secret, release, nil
}

func checkRobotPermission(project string, p meta.RobotPermission) error {
	if p.Repositories == "" {
		return invalid("a permission needs a repositories pattern")
	}
	if _, err := compilePattern(p.Repositories); err != nil {
		return invalid("repositories pattern %q: %v", p.Repositories, err)
	}
	if project != "" && !strings.HasPrefix(p.Repositories, project+"/") && p.Repositories != project {
		return invalid("a robot of project %s may only be given repositories of it (patterns starting with %s/)", project, project)
	}
	if len(p.Actions) == 0 {
		return invalid("a permission needs actions (pull, push, delete)")
	}
	for _, a := range p.Actions {
		if !slices.Contains(allActions, a) {
			return invalid("action %q: pull, push or delete", a)
		}
	}
	return nil
}

// ListRobots lists the robots of a project (its admins) or, for project
// "", the system robots (system admins).
func (s *Service) ListRobots(ctx context.Context, actor Identity, project string) ([]meta.Robot, error) {
	var out []meta.Robot
	list := func(r meta.Reader) error {
		var err error
		out, err = r.ListRobots(project)
		return err
	}
	if project == "" {
		if err := s.requireAdmin(actor); err != nil {
			return nil, err
		}
		return out, s.store.View(ctx, list)
	}
	err := s.asProjectAdmin(ctx, actor, project, func(tx meta.Tx) error { return list(tx) })
	return out, err
}

// SetRobotDisabled disables or enables a robot.
func (s *Service) SetRobotDisabled(ctx context.Context, actor Identity, project, name string, disabled bool) error {
	return s.onRobot(ctx, actor, project, name, func(tx meta.Tx, rb meta.Robot) error {
		rb.Disabled = disabled
		if err := tx.UpdateRobot(rb); err != nil {
			return err
		}
		return auditIn(ctx, tx, "robot.update", project, fmt.Sprintf("robot %s disabled=%v", rb.Name, disabled))
	})
}

// DeleteRobot removes a robot.
func (s *Service) DeleteRobot(ctx context.Context, actor Identity, project, name string) error {
	return s.onRobot(ctx, actor, project, name, func(tx meta.Tx, rb meta.Robot) error {
		if err := tx.DeleteRobot(rb.Name); err != nil {
			return err
		}
		return auditIn(ctx, tx, "robot.delete", project, "robot "+rb.Name)
	})
}

func (s *Service) onRobot(ctx context.Context, actor Identity, project, name string, fn func(meta.Tx, meta.Robot) error) error {
	full := RobotName(project, name)
	do := func(tx meta.Tx) error {
		rb, err := tx.Robot(full)
		if err != nil {
			return err
		}
		return fn(tx, rb)
	}
	var err error
	if project == "" {
		if err = s.requireAdmin(actor); err != nil {
			return err
		}
		err = s.store.Update(ctx, do)
	} else {
		err = s.asProjectAdmin(ctx, actor, project, do)
	}
	if err == nil {
		s.Authn.Forget()
	}
	return err
}

// ListAudit returns audit events (system admins only).
func (s *Service) ListAudit(ctx context.Context, actor Identity, f meta.AuditFilter) ([]meta.AuditEvent, error) {
	if err := s.requireAdmin(actor); err != nil {
		return nil, err
	}
	var out []meta.AuditEvent
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.ListAudit(f)
		return err
	})
	return out, err
}

// Allowed reports whether id may do action to repo (for management calls
// about repositories).
func (s *Service) Allowed(ctx context.Context, id Identity, repo, action string) error {
	g, err := s.Authz.Grant(ctx, id, repo)
	if err != nil {
		return err
	}
	if !g.Allows(action) {
		if g.List || g.Allows(ActionPull) {
			return ErrDenied
		}
		return fmt.Errorf("repository %s: %w", repo, meta.ErrNotFound) // do not reveal what the caller may not see
	}
	return nil
}

// RotateSigningKey makes a new token signing key (system admins only); the
// old ones keep verifying until PruneSigningKeys drops them.
func (s *Service) RotateSigningKey(ctx context.Context, actor Identity) error {
	if err := s.requireAdmin(actor); err != nil {
		return err
	}
	if err := s.Tokens.Rotate(ctx, time.Now()); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx meta.Tx) error { return auditIn(ctx, tx, "signing-key.rotate", "", "") })
}

// PruneSigningKeys deletes keys retired longer ago than the longest token
// lifetime: no token they signed can still be valid.
func (s *Service) PruneSigningKeys(ctx context.Context, now time.Time) (int, error) {
	return s.Tokens.Prune(ctx, now.Add(-max(s.opts.RefreshTTL, s.opts.TokenTTL)-leeway))
}

// ListImmutableRules lists a project's immutable tag rules (to who may see
// the project).
func (s *Service) ListImmutableRules(ctx context.Context, actor Identity, project string) ([]meta.ImmutableRule, error) {
	if _, err := s.GetProject(ctx, actor, project); err != nil {
		return nil, err
	}
	var out []meta.ImmutableRule
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.ImmutableRules(project)
		return err
	})
	return out, err
}

// AddImmutableRule makes tags matching tags in the project's repositories
// matching repos immutable (project admins).
func (s *Service) AddImmutableRule(ctx context.Context, actor Identity, project, repos, tags string) (meta.ImmutableRule, error) {
	if _, err := pattern.Compile(repos); err != nil {
		return meta.ImmutableRule{}, invalid("repositories pattern %q: %v", repos, err)
	}
	if _, err := pattern.Compile(tags); err != nil {
		return meta.ImmutableRule{}, invalid("tags pattern %q: %v", tags, err)
	}
	if repos != "**" && repos != project && !strings.HasPrefix(repos, project+"/") {
		return meta.ImmutableRule{}, invalid("a rule of project %s covers its repositories: start the pattern with %s/ (or use **)", project, project)
	}
	r := meta.ImmutableRule{Project: project, Repositories: repos, Tags: tags, CreatedAt: time.Now()}
	err := s.asProjectAdmin(ctx, actor, project, func(tx meta.Tx) error {
		var err error
		if r.ID, err = tx.AddImmutableRule(r); err != nil {
			return err
		}
		return auditIn(ctx, tx, "immutable-rule.add", project, fmt.Sprintf("rule %d: %s %s", r.ID, repos, tags))
	})
	return r, err
}

// DeleteImmutableRule removes a rule (project admins).
func (s *Service) DeleteImmutableRule(ctx context.Context, actor Identity, project string, id int64) error {
	return s.asProjectAdmin(ctx, actor, project, func(tx meta.Tx) error {
		if err := tx.DeleteImmutableRule(project, id); err != nil {
			return err
		}
		return auditIn(ctx, tx, "immutable-rule.delete", project, fmt.Sprintf("rule %d", id))
	})
}

// RequireAdmin refuses anyone but a system admin (ErrDenied).
func (s *Service) RequireAdmin(actor Identity) error { return s.requireAdmin(actor) }
