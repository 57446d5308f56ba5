package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/replicate"
)

// replicationOperations are the replication endpoints (system admins).
var replicationOperations = []operation{
	{"GET", "/replication/policies", (*API).listReplicationPolicies, "List the replication policies (passwords are never shown)", "system admins", nil, []replicationPolicyJSON{}, 200},
	{"POST", "/replication/policies", (*API).addReplicationPolicy, "Add a replication policy: direction push (from here) or pull (into here), the remote registry, filters (repositories glob, tags glob, label key=value), triggers (manual always; schedule, a cron expression; on_event, push policies) and limits", "system admins", replicationPolicyRequest{}, replicationPolicyJSON{}, 201},
	{"GET", "/replication/policies/{id}", (*API).getReplicationPolicy, "Read a replication policy", "system admins", nil, replicationPolicyJSON{}, 200},
	{"PATCH", "/replication/policies/{id}", (*API).updateReplicationPolicy, "Change a replication policy (enable or disable it, or any setting; a field left out stays)", "system admins", replicationPolicyPatch{}, replicationPolicyJSON{}, 200},
	{"DELETE", "/replication/policies/{id}", (*API).deleteReplicationPolicy, "Remove a replication policy with its history", "system admins", nil, nil, 204},
	{"POST", "/replication/policies/{id}/run", (*API).runReplicationPolicy, "Run an enabled policy now over everything it covers; answers the run, whose jobs are queued", "system admins", nil, replicationRunJSON{}, 202},
	{"GET", "/replication/runs", (*API).listReplicationRuns, "Replication runs, newest first (?policy= ?limit= ?before=)", "system admins", nil, []replicationRunJSON{}, 200},
	{"GET", "/replication/runs/{id}", (*API).getReplicationRun, "A replication run with its jobs: what was copied or deleted, bytes, attempts, errors", "system admins", nil, replicationRunJSON{}, 200},
}

// replicationServices holds the replication service of each API (see
// WithReplication).
// WithReplication serves the replication endpoints with svc; without it
// they answer that replication is not available.
func (x *API) WithReplication(svc *replicate.Service) *API {
	x.replicate = svc
	return x
}

// replication checks that the caller is a system admin and returns the
// service.
func (x *API) replication(actor auth.Identity) (*replicate.Service, error) {
	return adminService(x, actor, x.replicate, "replication")
}

type replicationPolicyRequest struct {
	Name         string `json:"name"`
	Enabled      *bool  `json:"enabled,omitempty"` // default true
	Direction    string `json:"direction"`
	URL          string `json:"url"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	Insecure     bool   `json:"insecure,omitempty"`
	Repositories string `json:"repositories"`
	Tags         string `json:"tags,omitempty"`
	Label        string `json:"label,omitempty"`
	Prefix       string `json:"prefix,omitempty"`
	Schedule     string `json:"schedule,omitempty"`
	OnEvent      bool   `json:"on_event,omitempty"`
	Deletes      bool   `json:"deletes,omitempty"`
	Bandwidth    int64  `json:"bandwidth,omitempty"`
	Concurrency  int    `json:"concurrency,omitempty"`
}

type replicationPolicyPatch struct {
	Name         *string `json:"name,omitempty"`
	Enabled      *bool   `json:"enabled,omitempty"`
	Direction    *string `json:"direction,omitempty"`
	URL          *string `json:"url,omitempty"`
	Username     *string `json:"username,omitempty"`
	Password     *string `json:"password,omitempty"`
	Insecure     *bool   `json:"insecure,omitempty"`
	Repositories *string `json:"repositories,omitempty"`
	Tags         *string `json:"tags,omitempty"`
	Label        *string `json:"label,omitempty"`
	Prefix       *string `json:"prefix,omitempty"`
	Schedule     *string `json:"schedule,omitempty"`
	OnEvent      *bool   `json:"on_event,omitempty"`
	Deletes      *bool   `json:"deletes,omitempty"`
	Bandwidth    *int64  `json:"bandwidth,omitempty"`
	Concurrency  *int    `json:"concurrency,omitempty"`
}

type replicationPolicyJSON struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Enabled      bool      `json:"enabled"`
	Direction    string    `json:"direction"`
	URL          string    `json:"url"`
	Username     string    `json:"username,omitempty"`
	HasPassword  bool      `json:"has_password"`
	Insecure     bool      `json:"insecure"`
	Repositories string    `json:"repositories"`
	Tags         string    `json:"tags,omitempty"`
	Label        string    `json:"label,omitempty"`
	Prefix       string    `json:"prefix,omitempty"`
	Schedule     string    `json:"schedule,omitempty"`
	OnEvent      bool      `json:"on_event"`
	Deletes      bool      `json:"deletes"`
	Bandwidth    int64     `json:"bandwidth"`
	Concurrency  int       `json:"concurrency"`
	CreatedAt    time.Time `json:"created_at"`
	// Cursor is the last outbox event the event trigger looked at.
	Cursor int64 `json:"cursor"`
}

type replicationRunJSON struct {
	ID         int64                `json:"id"`
	Policy     int64                `json:"policy"`
	Trigger    string               `json:"trigger"`
	State      string               `json:"state"`
	StartedAt  time.Time            `json:"started_at"`
	FinishedAt *time.Time           `json:"finished_at,omitempty"`
	Seconds    float64              `json:"seconds,omitempty"`
	Jobs       int                  `json:"jobs"`
	Pending    int                  `json:"pending"`
	Failed     int                  `json:"failed"`
	Images     int                  `json:"images"`
	Bytes      int64                `json:"bytes"`
	JobList    []replicationJobJSON `json:"job_list,omitempty"`
}

type replicationJobJSON struct {
	ID            int64      `json:"id"`
	Action        string     `json:"action"`
	Repository    string     `json:"repository,omitempty"`
	Reference     string     `json:"reference,omitempty"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	EventAt       *time.Time `json:"event_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	// LagSeconds is from the change (event trigger) to the end of the copy.
	LagSeconds float64 `json:"lag_seconds,omitempty"`
	Images     int     `json:"images"`
	Bytes      int64   `json:"bytes"`
	Result     string  `json:"result,omitempty"`
	Error      string  `json:"error,omitempty"`
}

func replicationPolicyOut(p meta.ReplicationPolicy) replicationPolicyJSON {
	return replicationPolicyJSON{ID: p.ID, Name: p.Name, Enabled: p.Enabled, Direction: p.Direction, URL: p.RemoteURL,
		Username: p.Username, HasPassword: len(p.Password) > 0, Insecure: p.Insecure, Repositories: p.Repositories,
		Tags: p.Tags, Label: p.Label, Prefix: p.Prefix, Schedule: p.Schedule, OnEvent: p.OnEvent, Deletes: p.Deletes,
		Bandwidth: p.Bandwidth, Concurrency: p.Concurrency, CreatedAt: p.CreatedAt, Cursor: p.Cursor}
}

func replicationRunOut(r meta.ReplicationRun) replicationRunJSON {
	out := replicationRunJSON{ID: r.ID, Policy: r.Policy, Trigger: r.Trigger, State: r.State, StartedAt: r.StartedAt,
		FinishedAt: optTime(r.FinishedAt), Jobs: r.Jobs, Pending: r.Pending, Failed: r.Failed, Images: r.Images, Bytes: r.Bytes}
	if !r.FinishedAt.IsZero() {
		out.Seconds = r.FinishedAt.Sub(r.StartedAt).Seconds()
	}
	return out
}

func replicationJobOut(j meta.ReplicationJob) replicationJobJSON {
	out := replicationJobJSON{ID: j.ID, Action: j.Action, Repository: j.Repository, Reference: j.Reference, State: j.State,
		Attempts: j.Attempts, EventAt: optTime(j.EventAt), CreatedAt: j.CreatedAt, StartedAt: optTime(j.StartedAt),
		FinishedAt: optTime(j.FinishedAt), Images: j.Images, Bytes: j.Bytes, Result: j.Result, Error: j.Error}
	if j.State == meta.JobQueued {
		out.NextAttemptAt = optTime(j.NextAttemptAt)
	}
	if !j.EventAt.IsZero() && !j.FinishedAt.IsZero() {
		out.LagSeconds = j.FinishedAt.Sub(j.EventAt).Seconds()
	}
	return out
}

// replicationErr maps the service's refusals to the API's.
func replicationErr(err error) error {
	if errors.Is(err, replicate.ErrInvalid) {
		return invalidf("%v", err)
	}
	return err
}

func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, invalidf("%s id %q is not a number", what, r.PathValue("id"))
	}
	return id, nil
}

func (x *API) listReplicationPolicies(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	ps, err := svc.Policies(ctx)
	out := make([]replicationPolicyJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, replicationPolicyOut(p))
	}
	return http.StatusOK, out, err
}

func (x *API) addReplicationPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	var in replicationPolicyRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	p := meta.ReplicationPolicy{Name: in.Name, Enabled: in.Enabled == nil || *in.Enabled, Direction: in.Direction,
		RemoteURL: in.URL, Username: in.Username, Insecure: in.Insecure, Repositories: in.Repositories, Tags: in.Tags,
		Label: in.Label, Prefix: in.Prefix, Schedule: in.Schedule, OnEvent: in.OnEvent, Deletes: in.Deletes,
		Bandwidth: in.Bandwidth, Concurrency: in.Concurrency}
	p, err = svc.AddPolicy(ctx, p, in.Password)
	return http.StatusCreated, replicationPolicyOut(p), replicationErr(err)
}

func (x *API) getReplicationPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "policy")
	if err != nil {
		return 0, nil, err
	}
	p, err := svc.Policy(ctx, id)
	return http.StatusOK, replicationPolicyOut(p), err
}

func (x *API) updateReplicationPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "policy")
	if err != nil {
		return 0, nil, err
	}
	var in replicationPolicyPatch
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	p, err := svc.UpdatePolicy(ctx, id, replicate.Patch{Name: in.Name, Enabled: in.Enabled, Direction: in.Direction,
		RemoteURL: in.URL, Username: in.Username, Password: in.Password, Insecure: in.Insecure, Repositories: in.Repositories,
		Tags: in.Tags, Label: in.Label, Prefix: in.Prefix, Schedule: in.Schedule, OnEvent: in.OnEvent, Deletes: in.Deletes,
		Bandwidth: in.Bandwidth, Concurrency: in.Concurrency})
	return http.StatusOK, replicationPolicyOut(p), replicationErr(err)
}

func (x *API) deleteReplicationPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "policy")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, svc.DeletePolicy(ctx, id)
}

func (x *API) runReplicationPolicy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "policy")
	if err != nil {
		return 0, nil, err
	}
	run, err := svc.Trigger(ctx, id, meta.TriggerManual)
	return http.StatusAccepted, replicationRunOut(run), replicationErr(err)
}

func (x *API) listReplicationRuns(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	var policy, before int64
	limit := 50
	for _, p := range []struct {
		key string
		to  *int64
	}{{"policy", &policy}, {"before", &before}} {
		if v := q.Get(p.key); v != "" {
			if *p.to, err = strconv.ParseInt(v, 10, 64); err != nil {
				return 0, nil, invalidf("%s %q is not a number", p.key, v)
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return 0, nil, invalidf("limit %q: want 1 to 1000", v)
		}
	}
	runs, err := svc.Runs(ctx, policy, before, limit)
	out := make([]replicationRunJSON, 0, len(runs))
	for _, run := range runs {
		out = append(out, replicationRunOut(run))
	}
	return http.StatusOK, out, err
}

func (x *API) getReplicationRun(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	svc, err := x.replication(actor)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "run")
	if err != nil {
		return 0, nil, err
	}
	run, jobs, err := svc.GetRun(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	out := replicationRunOut(run)
	out.JobList = make([]replicationJobJSON, 0, len(jobs))
	for _, j := range jobs {
		out.JobList = append(out.JobList, replicationJobOut(j))
	}
	return http.StatusOK, out, nil
}
