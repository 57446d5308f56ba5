package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/retention"
)

// retentionOperations are the retention endpoints.
var retentionOperations = []operation{
	{"GET", "/projects/{project}/retention-rules", (*API).listRetentionRules, "List a project's retention rules", "who may see it", nil, []retentionRuleJSON{}, 200},
	{"POST", "/projects/{project}/retention-rules", (*API).addRetentionRule, "Add a retention rule: kind keep-last (count), keep-pulled-within (age), keep-tags, or untagged-after (age); ages like 30d, 2w or 720h", "its admins", retentionRuleRequest{}, retentionRuleJSON{}, 201},
	{"DELETE", "/projects/{project}/retention-rules/{id}", (*API).deleteRetentionRule, "Remove a retention rule", "its admins", nil, nil, 204},
	{"POST", "/projects/{project}/retention/run", (*API).runProjectRetention, "Apply the project's retention rules now, or list what they would remove (dry_run); 409 while another run holds the cluster-wide lease", "its admins", retentionRequest{}, retentionJSON{}, 200},
	{"POST", "/system/retention", (*API).runSystemRetention, "Apply every project's retention rules now, or list what they would remove (dry_run); 409 while another run holds the cluster-wide lease", "system admins", retentionRequest{}, retentionJSON{}, 200},
}

// retentionRunner runs retention (taking the cluster-wide lease;
// jobs.ErrBusy when another run holds it).
type retentionRunner func(context.Context, retention.Options) (retention.Report, error)

// WithRetention lets project and system admins run retention rules.
func (x *API) WithRetention(run func(context.Context, retention.Options) (retention.Report, error)) *API {
	x.retention = run
	return x
}

// retentionBusy answers 409 as errBusy does, with its own message.
type retentionBusy struct{}

func (retentionBusy) Error() string {
	return "a retention run is already in progress (on this or another node)"
}
func (retentionBusy) Is(target error) bool { return target == errBusy }

type retentionRuleRequest struct {
	Repositories string `json:"repositories"`
	Tags         string `json:"tags"`
	Kind         string `json:"kind"`
	Count        int    `json:"count,omitempty"`
	Age          string `json:"age,omitempty"`
}

type retentionRuleJSON struct {
	ID           int64     `json:"id"`
	Repositories string    `json:"repositories"`
	Tags         string    `json:"tags"`
	Kind         string    `json:"kind"`
	Count        int       `json:"count,omitempty"`
	Age          string    `json:"age,omitempty"`
	Description  string    `json:"description"`
	CreatedAt    time.Time `json:"created_at"`
}

func retentionRuleOut(r meta.RetentionRule) retentionRuleJSON {
	j := retentionRuleJSON{ID: r.ID, Repositories: r.Repositories, Tags: r.Tags, Kind: r.Kind, Count: r.Count,
		Description: retention.Describe(r), CreatedAt: r.CreatedAt}
	if r.Age > 0 {
		j.Age = retention.FormatAge(r.Age)
	}
	return j
}

func (x *API) listRetentionRules(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	rs, err := x.auth.ListRetentionRules(ctx, actor, r.PathValue("project"))
	out := make([]retentionRuleJSON, 0, len(rs))
	for _, rule := range rs {
		out = append(out, retentionRuleOut(rule))
	}
	return http.StatusOK, out, err
}

func (x *API) addRetentionRule(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in retentionRuleRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	rule := meta.RetentionRule{Project: r.PathValue("project"), Repositories: in.Repositories, Tags: in.Tags, Kind: in.Kind, Count: in.Count}
	if in.Age != "" {
		age, err := retention.ParseAge(in.Age)
		if err != nil {
			return 0, nil, invalidf("%v", err)
		}
		rule.Age = age
	}
	rule, err := x.auth.AddRetentionRule(ctx, actor, rule)
	return http.StatusCreated, retentionRuleOut(rule), err
}

func (x *API) deleteRetentionRule(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, nil, invalidf("rule id %q is not a number", r.PathValue("id"))
	}
	return http.StatusNoContent, nil, x.auth.DeleteRetentionRule(ctx, actor, r.PathValue("project"), id)
}

type retentionRequest struct {
	DryRun bool `json:"dry_run"`
}

type retentionJSON struct {
	DryRun     bool                   `json:"dry_run"`
	Tags       int                    `json:"tags"`
	Manifests  int                    `json:"manifests"`
	BytesFreed int64                  `json:"bytes_freed"`
	Seconds    float64                `json:"seconds"`
	Projects   []retentionProjectJSON `json:"projects"`
}

type retentionProjectJSON struct {
	Project    string                 `json:"project"`
	BytesFreed int64                  `json:"bytes_freed"`
	Removals   []retentionRemovalJSON `json:"removals"`
	Skipped    []retentionSkipJSON    `json:"skipped"`
}

type retentionRemovalJSON struct {
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"`
	Tags       []string `json:"tags"`
	Manifest   bool     `json:"manifest"`
	Size       int64    `json:"size"`
	Reason     string   `json:"reason"`
}

type retentionSkipJSON struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Tag        string `json:"tag,omitempty"`
	Reason     string `json:"reason"`
}

func retentionOut(rep retention.Report) retentionJSON {
	out := retentionJSON{DryRun: rep.DryRun, Tags: rep.Tags, Manifests: rep.Manifests, BytesFreed: rep.BytesFreed,
		Seconds: rep.Duration.Seconds(), Projects: []retentionProjectJSON{}}
	for _, p := range rep.Plans {
		pj := retentionProjectJSON{Project: p.Project, BytesFreed: p.BytesFreed, Removals: []retentionRemovalJSON{}, Skipped: []retentionSkipJSON{}}
		for _, r := range p.Removals {
			tags := r.Tags
			if tags == nil {
				tags = []string{}
			}
			pj.Removals = append(pj.Removals, retentionRemovalJSON{Repository: r.Repository, Digest: r.Digest.String(), Tags: tags,
				Manifest: r.Manifest, Size: r.Size, Reason: r.Reason})
		}
		for _, s := range p.Skipped {
			pj.Skipped = append(pj.Skipped, retentionSkipJSON{Repository: s.Repository, Digest: s.Digest.String(), Tag: s.Tag, Reason: s.Reason})
		}
		out.Projects = append(out.Projects, pj)
	}
	return out
}

// runRetention runs o after the caller's permission was checked.
func (x *API) runRetention(ctx context.Context, r *http.Request, o retention.Options) (int, any, error) {
	if x.retention == nil {
		return 0, nil, invalidf("retention is not available here")
	}
	var in retentionRequest
	if r.ContentLength != 0 {
		if err := decode(nil, r, &in); err != nil {
			return 0, nil, err
		}
	}
	o.DryRun = in.DryRun
	rep, err := x.retention(ctx, o)
	if errors.Is(err, jobs.ErrBusy) {
		return 0, nil, retentionBusy{}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, retentionOut(rep), nil
}

// runProjectRetention applies one project's rules (its admins).
func (x *API) runProjectRetention(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	project := r.PathValue("project")
	if err := x.auth.RequireProjectAdmin(ctx, actor, project); err != nil {
		return 0, nil, err
	}
	return x.runRetention(ctx, r, retention.Options{Project: project})
}

// runSystemRetention applies every project's rules (system admins).
func (x *API) runSystemRetention(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	if err := x.auth.RequireAdmin(actor); err != nil {
		return 0, nil, err
	}
	return x.runRetention(ctx, r, retention.Options{})
}
