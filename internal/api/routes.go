package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

func (x *API) routes() {
	x.handle("GET "+Prefix+"/me", x.me)
	x.handle("GET "+Prefix+"/users", x.listUsers)
	x.handle("POST "+Prefix+"/users", x.createUser)
	x.handle("GET "+Prefix+"/users/{name}", x.getUser)
	x.handle("PATCH "+Prefix+"/users/{name}", x.updateUser)
	x.handle("DELETE "+Prefix+"/users/{name}", x.deleteUser)

	x.handle("GET "+Prefix+"/projects", x.listProjects)
	x.handle("POST "+Prefix+"/projects", x.createProject)
	x.handle("GET "+Prefix+"/projects/{project}", x.getProject)
	x.handle("PATCH "+Prefix+"/projects/{project}", x.updateProject)
	x.handle("DELETE "+Prefix+"/projects/{project}", x.deleteProject)
	x.handle("GET "+Prefix+"/projects/{project}/members", x.listMembers)
	x.handle("PUT "+Prefix+"/projects/{project}/members/{kind}/{member}", x.putMember)
	x.handle("DELETE "+Prefix+"/projects/{project}/members/{kind}/{member}", x.deleteMember)

	x.handle("GET "+Prefix+"/projects/{project}/robots", x.listRobots)
	x.handle("POST "+Prefix+"/projects/{project}/robots", x.createRobot)
	x.handle("PATCH "+Prefix+"/projects/{project}/robots/{robot}", x.updateRobot)
	x.handle("DELETE "+Prefix+"/projects/{project}/robots/{robot}", x.deleteRobot)
	x.handle("GET "+Prefix+"/audit", x.listAudit)
	x.handle("GET "+Prefix+"/repositories", x.listRepositories)
	x.handle("DELETE "+Prefix+"/repositories/{name...}", x.deleteRepository)
	x.handle("GET "+Prefix+"/artifacts", x.listArtifacts)
	x.handle("GET "+Prefix+"/robots", x.listRobots)
	x.handle("POST "+Prefix+"/robots", x.createRobot)
	x.handle("PATCH "+Prefix+"/robots/{robot}", x.updateRobot)
	x.handle("DELETE "+Prefix+"/robots/{robot}", x.deleteRobot)
}

// Wire shapes.

type userJSON struct {
	Name              string    `json:"name"`
	Admin             bool      `json:"admin"`
	Disabled          bool      `json:"disabled"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
}

func userOut(u meta.User) userJSON {
	return userJSON{Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, CreatedAt: u.CreatedAt, PasswordChangedAt: u.PasswordChangedAt}
}

type projectJSON struct {
	Name      string    `json:"name"`
	Public    bool      `json:"public"`
	CreatedAt time.Time `json:"created_at"`
	Role      string    `json:"role,omitempty"` // the caller's role
}

func projectOut(p auth.ProjectInfo) projectJSON {
	return projectJSON{Name: p.Name, Public: p.Public, CreatedAt: p.CreatedAt, Role: p.Role}
}

type memberJSON struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type robotJSON struct {
	Name        string                 `json:"name"`
	Project     string                 `json:"project,omitempty"`
	Description string                 `json:"description,omitempty"`
	Permissions []meta.RobotPermission `json:"permissions"`
	ExpiresAt   *time.Time             `json:"expires_at,omitempty"`
	Disabled    bool                   `json:"disabled"`
	CreatedAt   time.Time              `json:"created_at"`
	Secret      string                 `json:"secret,omitempty"` // only when created
}

func robotOut(rb meta.Robot) robotJSON {
	return robotJSON{Name: rb.Name, Project: rb.Project, Description: rb.Description, Permissions: rb.Permissions,
		ExpiresAt: optTime(rb.ExpiresAt), Disabled: rb.Disabled, CreatedAt: rb.CreatedAt}
}

type identityJSON struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Admin bool   `json:"admin"`
}

func (x *API) me(_ context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	if actor.IsAnonymous() {
		return 0, nil, auth.ErrDenied
	}
	return http.StatusOK, identityJSON{Name: actor.Name, Kind: actor.Kind, Admin: actor.Admin}, nil
}

// Users.

func (x *API) listUsers(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	us, err := x.auth.ListUsers(ctx, actor)
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, userOut(u))
	}
	return http.StatusOK, out, err
}

func (x *API) createUser(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Admin    bool   `json:"admin"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	u, err := x.auth.CreateUser(ctx, actor, in.Name, in.Password, in.Admin)
	return http.StatusCreated, userOut(u), err
}

func (x *API) getUser(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	u, err := x.auth.GetUser(ctx, actor, r.PathValue("name"))
	return http.StatusOK, userOut(u), err
}

func (x *API) updateUser(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Password *string `json:"password"`
		Admin    *bool   `json:"admin"`
		Disabled *bool   `json:"disabled"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	u, err := x.auth.UpdateUser(ctx, actor, r.PathValue("name"), auth.UserPatch{Password: in.Password, Admin: in.Admin, Disabled: in.Disabled})
	return http.StatusOK, userOut(u), err
}

func (x *API) deleteUser(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, x.auth.DeleteUser(ctx, actor, r.PathValue("name"))
}

// Projects and members.

func (x *API) listProjects(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	ps, err := x.auth.ListProjects(ctx, actor)
	out := make([]projectJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, projectOut(p))
	}
	return http.StatusOK, out, err
}

func (x *API) createProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Name   string `json:"name"`
		Public bool   `json:"public"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	p, err := x.auth.CreateProject(ctx, actor, in.Name, in.Public)
	return http.StatusCreated, projectOut(auth.ProjectInfo{Project: p, Role: auth.RoleAdmin}), err
}

func (x *API) getProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	p, err := x.auth.GetProject(ctx, actor, r.PathValue("project"))
	return http.StatusOK, projectOut(p), err
}

func (x *API) updateProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Public *bool `json:"public"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("project")
	if in.Public != nil {
		if err := x.auth.SetProjectPublic(ctx, actor, name, *in.Public); err != nil {
			return 0, nil, err
		}
	}
	p, err := x.auth.GetProject(ctx, actor, name)
	return http.StatusOK, projectOut(p), err
}

func (x *API) deleteProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, x.auth.DeleteProject(ctx, actor, r.PathValue("project"))
}

func (x *API) listMembers(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	ms, err := x.auth.ListMembers(ctx, actor, r.PathValue("project"))
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON{Kind: m.Kind, Name: m.Name, Role: m.Role})
	}
	return http.StatusOK, out, err
}

func (x *API) putMember(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Role string `json:"role"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	m := meta.Member{Project: r.PathValue("project"), Kind: r.PathValue("kind"), Name: r.PathValue("member"), Role: in.Role}
	if err := x.auth.PutMember(ctx, actor, m); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, memberJSON{Kind: m.Kind, Name: m.Name, Role: m.Role}, nil
}

func (x *API) deleteMember(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, x.auth.DeleteMember(ctx, actor, r.PathValue("project"), r.PathValue("kind"), r.PathValue("member"))
}

// Robots: under a project, or system robots under /robots (project "").

func (x *API) listRobots(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	rs, err := x.auth.ListRobots(ctx, actor, r.PathValue("project"))
	out := make([]robotJSON, 0, len(rs))
	for _, rb := range rs {
		out = append(out, robotOut(rb))
	}
	return http.StatusOK, out, err
}

func (x *API) createRobot(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Name        string                 `json:"name"`
		Description string                 `json:"description"`
		Permissions []meta.RobotPermission `json:"permissions"`
		ExpiresAt   *time.Time             `json:"expires_at"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	spec := auth.RobotSpec{Project: r.PathValue("project"), Name: in.Name, Description: in.Description, Permissions: in.Permissions}
	if in.ExpiresAt != nil {
		spec.ExpiresAt = *in.ExpiresAt
	}
	rb, secret, err := x.auth.CreateRobot(ctx, actor, spec)
	out := robotOut(rb)
	out.Secret = secret
	return http.StatusCreated, out, err
}

func (x *API) updateRobot(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in struct {
		Disabled *bool `json:"disabled"`
	}
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	if in.Disabled == nil {
		return 0, nil, invalidf("nothing to change: send {\"disabled\": true|false}")
	}
	if err := x.auth.SetRobotDisabled(ctx, actor, r.PathValue("project"), r.PathValue("robot"), *in.Disabled); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (x *API) deleteRobot(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, x.auth.DeleteRobot(ctx, actor, r.PathValue("project"), r.PathValue("robot"))
}

type auditJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor,omitempty"`
	ActorKind string    `json:"actor_kind,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	Action    string    `json:"action"`
	Repo      string    `json:"repository,omitempty"`
	Digest    string    `json:"digest,omitempty"`
	Tag       string    `json:"tag,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// auditPageMax bounds one page of the audit log.
const auditPageMax = 1000

// listAudit pages through the audit log, newest first: ?actor= &action=
// &repository= &since= &until= (RFC 3339) &limit= (default 100) &before=
// (the id after which the page starts: the previous page's "next").
func (x *API) listAudit(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	q := r.URL.Query()
	f := meta.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Repo: q.Get("repository"), Limit: 100}
	for _, t := range []struct {
		name string
		into *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			ts, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return 0, nil, invalidf("%s=%q: want an RFC 3339 time like 2026-01-02T15:04:05Z", t.name, v)
			}
			*t.into = ts
		}
	}
	for _, n := range []struct {
		name string
		into any
	}{{"limit", &f.Limit}, {"before", &f.BeforeID}} {
		if v := q.Get(n.name); v != "" {
			var err error
			switch p := n.into.(type) {
			case *int:
				*p, err = strconv.Atoi(v)
				if err == nil && (*p <= 0 || *p > auditPageMax) {
					err = fmt.Errorf("out of range")
				}
			case *int64:
				*p, err = strconv.ParseInt(v, 10, 64)
			}
			if err != nil {
				return 0, nil, invalidf("%s=%q: want a number (limit 1 to %d)", n.name, v, auditPageMax)
			}
		}
	}
	evs, err := x.auth.ListAudit(ctx, actor, f)
	if err != nil {
		return 0, nil, err
	}
	out := struct {
		Events []auditJSON `json:"events"`
		Next   string      `json:"next,omitempty"` // pass as ?before= for the next page
	}{Events: make([]auditJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, ActorKind: e.ActorKind, Addr: e.Addr,
			Action: e.Action, Repo: e.Repo, Digest: e.Digest, Tag: e.Tag, Detail: e.Detail})
	}
	if len(evs) == f.Limit {
		out.Next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	return http.StatusOK, out, nil
}
