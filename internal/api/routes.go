package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// operation is one endpoint: its route, handler and what the OpenAPI
// document says of it (request and response are zero values of the wire
// types; nil for none).
type operation struct {
	method, path string
	h            func(*API, context.Context, auth.Identity, *http.Request) (int, any, error)
	summary      string
	who          string
	request      any
	response     any
	status       int
}

// operations is every endpoint of the management API, in one table that
// both the router and the OpenAPI document are made from.
var operations = slices.Concat(coreOperations, quotaOperations, retentionOperations, webhookOperations,
	proxyOperations, replicationOperations, signatureOperations, scanOperations)

var coreOperations = []operation{
	{"GET", "/me", (*API).me, "The caller's identity", "any logged-in caller", nil, identityJSON{}, 200},
	{"GET", "/users", (*API).listUsers, "List users", "system admins", nil, []userJSON{}, 200},
	{"POST", "/users", (*API).createUser, "Create a user", "system admins", createUserRequest{}, userJSON{}, 201},
	{"GET", "/users/{name}", (*API).getUser, "Read a user", "system admins; users themselves", nil, userJSON{}, 200},
	{"PATCH", "/users/{name}", (*API).updateUser, "Change a user's password, admin flag or disabled flag", "system admins; users their own password", updateUserRequest{}, userJSON{}, 200},
	{"DELETE", "/users/{name}", (*API).deleteUser, "Delete a user and its memberships", "system admins", nil, nil, 204},
	{"GET", "/projects", (*API).listProjects, "List the projects the caller may see", "anyone", nil, []projectJSON{}, 200},
	{"POST", "/projects", (*API).createProject, "Create a project", "system admins (any user with projects.auto_create)", createProjectRequest{}, projectJSON{}, 201},
	{"GET", "/projects/{project}", (*API).getProject, "Read a project", "who may see it", nil, projectJSON{}, 200},
	{"PATCH", "/projects/{project}", (*API).updateProject, "Make a project public or private (its admins), set its storage quota in bytes, 0 = unlimited (system admins)", "its admins; system admins for quota_bytes", updateProjectRequest{}, projectJSON{}, 200},
	{"DELETE", "/projects/{project}", (*API).deleteProject, "Delete an empty project", "system admins", nil, nil, 204},
	{"GET", "/projects/{project}/members", (*API).listMembers, "List a project's members", "who may see it", nil, []memberJSON{}, 200},
	{"PUT", "/projects/{project}/members/{kind}/{member}", (*API).putMember, "Give a user or group (kind) a role", "its admins", putMemberRequest{}, memberJSON{}, 200},
	{"DELETE", "/projects/{project}/members/{kind}/{member}", (*API).deleteMember, "Remove a membership", "its admins", nil, nil, 204},
	{"GET", "/projects/{project}/robots", (*API).listRobots, "List a project's robots", "its admins", nil, []robotJSON{}, 200},
	{"POST", "/projects/{project}/robots", (*API).createRobot, "Create a project robot; the secret is in this answer only", "its admins", createRobotRequest{}, robotJSON{}, 201},
	{"PATCH", "/projects/{project}/robots/{robot}", (*API).updateRobot, "Disable or enable a robot", "its admins", updateRobotRequest{}, nil, 204},
	{"DELETE", "/projects/{project}/robots/{robot}", (*API).deleteRobot, "Delete a robot", "its admins", nil, nil, 204},
	{"GET", "/projects/{project}/immutable-rules", (*API).listImmutableRules, "List a project's immutable tag rules", "who may see it", nil, []immutableRuleJSON{}, 200},
	{"POST", "/projects/{project}/immutable-rules", (*API).addImmutableRule, "Make matching tags immutable", "its admins", immutableRuleRequest{}, immutableRuleJSON{}, 201},
	{"DELETE", "/projects/{project}/immutable-rules/{id}", (*API).deleteImmutableRule, "Remove an immutable tag rule", "its admins", nil, nil, 204},
	{"GET", "/robots", (*API).listRobots, "List system robots", "system admins", nil, []robotJSON{}, 200},
	{"POST", "/robots", (*API).createRobot, "Create a system robot; the secret is in this answer only", "system admins", createRobotRequest{}, robotJSON{}, 201},
	{"PATCH", "/robots/{robot}", (*API).updateRobot, "Disable or enable a system robot", "system admins", updateRobotRequest{}, nil, 204},
	{"DELETE", "/robots/{robot}", (*API).deleteRobot, "Delete a system robot", "system admins", nil, nil, 204},
	{"GET", "/repositories", (*API).listRepositories, "List the repositories the caller may see (?project=, ?n=, ?last=)", "anyone", nil, repositoryPage{}, 200},
	{"DELETE", "/repositories/{name...}", (*API).deleteRepository, "Delete a repository", "who may delete in it", nil, nil, 204},
	{"GET", "/artifacts", (*API).listArtifacts, "List a repository's manifests (?repository=)", "who may pull from it", nil, []artifactJSON{}, 200},
	{"POST", "/system/signing-keys/rotate", (*API).rotateKey, "Make a new token signing key; tokens signed by the old ones stay valid until they expire", "system admins", nil, nil, 204},
	{"POST", "/system/gc", (*API).runGC, "Collect garbage now (gc.grace applies); 409 while another run holds the cluster-wide lease", "system admins", gcRequest{}, gcJSON{}, 200},
	{"POST", "/system/verify", (*API).verify, "Re-hash every stored blob now, quarantine the corrupt ones, list missing and orphaned blobs", "system admins", verifyRequest{}, verifyJSON{}, 200},
	{"GET", "/system/quarantine", (*API).listQuarantine, "List the quarantined blobs", "system admins", nil, []quarantinedJSON{}, 200},
	{"GET", "/audit", (*API).listAudit, "Page through the audit log (?actor= ?action= ?repository= ?since= ?until= ?limit= ?before=)", "system admins", nil, auditPage{}, 200},
}

func (x *API) routes() {
	for _, op := range operations {
		x.handle(op.method+" "+Prefix+op.path, func(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
			return op.h(x, ctx, actor, r)
		})
	}
	x.mux.HandleFunc("GET "+Prefix+"/openapi.json", x.openAPI)
}

// Wire shapes.

type createUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Admin    bool   `json:"admin"`
}

type updateUserRequest struct {
	Password *string `json:"password"`
	Admin    *bool   `json:"admin"`
	Disabled *bool   `json:"disabled"`
}

type createProjectRequest struct {
	Name   string `json:"name"`
	Public bool   `json:"public"`
}

type updateProjectRequest struct {
	Public     *bool  `json:"public"`
	QuotaBytes *int64 `json:"quota_bytes"`
}

type putMemberRequest struct {
	Role string `json:"role"`
}

type createRobotRequest struct {
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Permissions []meta.RobotPermission `json:"permissions"`
	ExpiresAt   *time.Time             `json:"expires_at"`
}

type updateRobotRequest struct {
	Disabled *bool `json:"disabled"`
}

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
	Name       string    `json:"name"`
	Public     bool      `json:"public"`
	QuotaBytes int64     `json:"quota_bytes"` // 0 = unlimited
	UsedBytes  int64     `json:"used_bytes"`
	CreatedAt  time.Time `json:"created_at"`
	Role       string    `json:"role,omitempty"` // the caller's role
}

// projectOut shapes a project; UsedBytes is filled in by withUsage.
func projectOut(p auth.ProjectInfo) projectJSON {
	return projectJSON{Name: p.Name, Public: p.Public, QuotaBytes: p.Quota, CreatedAt: p.CreatedAt, Role: p.Role}
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
	var in createUserRequest
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
	var in updateUserRequest
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
	if err != nil {
		return 0, nil, err
	}
	out := make([]projectJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, projectOut(p))
	}
	if err := x.withUsage(ctx, ps, out); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

func (x *API) createProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in createProjectRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	p, err := x.auth.CreateProject(ctx, actor, in.Name, in.Public)
	return http.StatusCreated, projectOut(auth.ProjectInfo{Project: p, Role: auth.RoleAdmin}), err
}

func (x *API) getProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	return x.projectAnswer(ctx, actor, r.PathValue("project"))
}

// projectAnswer reads a project the caller may see, with its usage.
func (x *API) projectAnswer(ctx context.Context, actor auth.Identity, name string) (int, any, error) {
	p, err := x.auth.GetProject(ctx, actor, name)
	if err != nil {
		return 0, nil, err
	}
	out := []projectJSON{projectOut(p)}
	if err := x.withUsage(ctx, []auth.ProjectInfo{p}, out); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out[0], nil
}

func (x *API) updateProject(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in updateProjectRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	name := r.PathValue("project")
	if in.QuotaBytes != nil {
		if _, err := x.auth.SetProjectQuota(ctx, actor, name, *in.QuotaBytes); err != nil {
			return 0, nil, err
		}
	}
	if in.Public != nil {
		if err := x.auth.SetProjectPublic(ctx, actor, name, *in.Public); err != nil {
			return 0, nil, err
		}
	}
	return x.projectAnswer(ctx, actor, name)
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
	var in putMemberRequest
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
	var in createRobotRequest
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
	var in updateRobotRequest
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

// auditPage is one page of the audit log.
type auditPage struct {
	Events []auditJSON `json:"events"`
	Next   string      `json:"next,omitempty"` // pass as ?before= for the next page
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
	out := auditPage{Events: make([]auditJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, ActorKind: e.ActorKind, Addr: e.Addr,
			Action: e.Action, Repo: e.Repo, Digest: e.Digest, Tag: e.Tag, Detail: e.Detail})
	}
	if len(evs) == f.Limit {
		out.Next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	return http.StatusOK, out, nil
}

func (x *API) rotateKey(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, x.auth.RotateSigningKey(ctx, actor)
}

type immutableRuleRequest struct {
	Repositories string `json:"repositories"`
	Tags         string `json:"tags"`
}

type immutableRuleJSON struct {
	ID           int64     `json:"id"`
	Repositories string    `json:"repositories"`
	Tags         string    `json:"tags"`
	CreatedAt    time.Time `json:"created_at"`
}

func ruleOut(r meta.ImmutableRule) immutableRuleJSON {
	return immutableRuleJSON{ID: r.ID, Repositories: r.Repositories, Tags: r.Tags, CreatedAt: r.CreatedAt}
}

func (x *API) listImmutableRules(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	rs, err := x.auth.ListImmutableRules(ctx, actor, r.PathValue("project"))
	out := make([]immutableRuleJSON, 0, len(rs))
	for _, rule := range rs {
		out = append(out, ruleOut(rule))
	}
	return http.StatusOK, out, err
}

func (x *API) addImmutableRule(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in immutableRuleRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	rule, err := x.auth.AddImmutableRule(ctx, actor, r.PathValue("project"), in.Repositories, in.Tags)
	return http.StatusCreated, ruleOut(rule), err
}

func (x *API) deleteImmutableRule(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, nil, invalidf("rule id %q is not a number", r.PathValue("id"))
	}
	return http.StatusNoContent, nil, x.auth.DeleteImmutableRule(ctx, actor, r.PathValue("project"), id)
}
