package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/meta"
)

// Grant is what an identity may do to one repository.
type Grant struct {
	Actions []string // among pull, push, delete
	// List: the repository shows in the caller's catalog and its tags may
	// be listed (false for limited guests).
	List bool
	// ProjectMissing: the repository's project does not exist yet.
	ProjectMissing bool
	// CanCreate: a push may create the missing project.
	CanCreate bool
}

// Allows reports whether the grant includes every action.
func (g Grant) Allows(actions ...string) bool {
	for _, a := range actions {
		if !slices.Contains(g.Actions, a) {
			return false
		}
	}
	return true
}

// Authorizer decides what identities may do, from the projects, members
// and robots in the metadata store.
type Authorizer struct {
	store      meta.Store
	autoCreate bool
}

// NewAuthorizer returns an Authorizer. autoCreate lets any authenticated
// user (not only system admins) create a project by pushing into it.
func NewAuthorizer(store meta.Store, autoCreate bool) *Authorizer {
	return &Authorizer{store: store, autoCreate: autoCreate}
}

var allActions = []string{ActionPull, ActionPush, ActionDelete}

// Grant returns what id may do to repo.
func (z *Authorizer) Grant(ctx context.Context, id Identity, repo string) (Grant, error) {
	var g Grant
	err := z.store.View(ctx, func(r meta.Reader) error {
		var err error
		g, err = z.grant(r, id, repo, time.Now())
		return err
	})
	return g, err
}

func (z *Authorizer) grant(r meta.Reader, id Identity, repo string, now time.Time) (Grant, error) {
	project := meta.ProjectOf(repo)
	p, err := r.Project(project)
	missing := errors.Is(err, meta.ErrNotFound)
	if err != nil && !missing {
		return Grant{}, err
	}
	g := Grant{ProjectMissing: missing}
	switch {
	case id.Kind == KindRobot:
		rb, err := r.Robot(id.Name)
		if errors.Is(err, meta.ErrNotFound) {
			return g, nil
		}
		if err != nil {
			return Grant{}, err
		}
		if missing { // robots never create projects
			return g, nil
		}
		g.Actions = robotActions(rb, repo, now)
		if p.Public && robotActive(rb, now) && !slices.Contains(g.Actions, ActionPull) {
			g.Actions = append([]string{ActionPull}, g.Actions...) // what anyone may do
		}
		g.List = slices.Contains(g.Actions, ActionPull)
		return g, nil
	case id.Admin:
		g.Actions, g.List, g.CanCreate = slices.Clone(allActions), true, missing
		return g, nil
	case missing:
		g.CanCreate = id.Kind == KindUser && z.autoCreate
		if g.CanCreate {
			g.Actions = []string{ActionPush}
		}
		return g, nil
	}
	role := ""
	if id.Kind == KindUser {
		if role, err = bestRole(r, id, project); err != nil {
			return Grant{}, err
		}
	}
	if role != "" {
		g.Actions = slices.Clone(roleActions[role])
		g.List = role != RoleLimitedGuest
	}
	if p.Public {
		if !slices.Contains(g.Actions, ActionPull) {
			g.Actions = append([]string{ActionPull}, g.Actions...)
		}
		g.List = true
	}
	return g, nil
}

// bestRole is the highest role id has in project, directly or through one
// of its groups ("" for none).
func bestRole(r meta.Reader, id Identity, project string) (string, error) {
	best := ""
	consider := func(kind, name string) error {
		ms, err := r.MembershipsOf(kind, name)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Project == project && roleRank[m.Role] > roleRank[best] {
				best = m.Role
			}
		}
		return nil
	}
	if err := consider(meta.MemberUser, id.Name); err != nil {
		return "", err
	}
	for _, grp := range id.Groups {
		if err := consider(meta.MemberGroup, grp); err != nil {
			return "", err
		}
	}
	return best, nil
}

// robotActions is the union of the actions of the robot's permissions
// whose pattern matches repo (none if the robot is inactive, or repo lies
// outside a project robot's project).
func robotActions(rb meta.Robot, repo string, now time.Time) []string {
	if !robotActive(rb, now) || (rb.Project != "" && meta.ProjectOf(repo) != rb.Project) {
		return nil
	}
	var out []string
	for _, p := range rb.Permissions {
		pat, err := pattern.Compile(p.Repositories)
		if err != nil || !pat.Match(repo) {
			continue
		}
		for _, a := range p.Actions {
			if slices.Contains(allActions, a) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// Visible returns a filter for listings: whether id may see a repository
// in the catalog. It looks each project up once.
func (z *Authorizer) Visible(ctx context.Context, id Identity) func(repo string) (bool, error) {
	if id.Admin {
		return func(string) (bool, error) { return true, nil }
	}
	seen := map[string]bool{}
	return func(repo string) (bool, error) {
		if id.Kind == KindRobot {
			g, err := z.Grant(ctx, id, repo)
			return g.List, err
		}
		project := meta.ProjectOf(repo)
		if v, ok := seen[project]; ok {
			return v, nil
		}
		g, err := z.Grant(ctx, id, repo)
		if err != nil {
			return false, err
		}
		seen[project] = g.List
		return g.List, nil
	}
}

// EnsureProject creates project (private) when it does not exist, with id
// as its project admin when id is a user. It reports whether it created it.
func (z *Authorizer) EnsureProject(ctx context.Context, id Identity, project string) (bool, error) {
	created := false
	err := z.store.Update(ctx, func(tx meta.Tx) error {
		err := tx.CreateProject(meta.Project{Name: project, CreatedAt: time.Now()})
		if errors.Is(err, meta.ErrExists) {
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		if err := tx.AppendAudit(meta.AuditEvent{
			At: time.Now(), Actor: id.Name, ActorKind: id.Kind, Addr: actor.From(ctx).Addr,
			Action: "project.create", Repo: project, Detail: "public=false, made by a push",
		}); err != nil {
			return err
		}
		if id.Kind == KindUser {
			return tx.PutMember(meta.Member{Project: project, Kind: meta.MemberUser, Name: id.Name, Role: RoleAdmin})
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("auth: create project %s: %w", project, err)
	}
	return created, nil
}

func compilePattern(p string) (pattern.Pattern, error) { return pattern.Compile(p) }
