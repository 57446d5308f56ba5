package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// Registry is what the API needs of the registry service.
type Registry interface {
	Catalog(ctx context.Context, last string, n int, keep func(repo string) (bool, error)) (registry.Page, error)
	Artifacts(ctx context.Context, repo string) ([]registry.Artifact, error)
	GetManifest(ctx context.Context, repo string, ref registry.Reference) (meta.Manifest, error)
	DeleteRepository(ctx context.Context, repo string) error
	Verify(ctx context.Context, o registry.VerifyOptions) (registry.VerifyReport, error)
	Quarantine(ctx context.Context) ([]meta.QuarantinedBlob, error)
}

type verifyRequest struct {
	DryRun bool  `json:"dry_run"`
	Rate   int64 `json:"rate"` // bytes a second, 0: no limit
}

type missingBlobJSON struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

type verifyJSON struct {
	Blobs   int               `json:"blobs"`
	Bytes   int64             `json:"bytes"`
	Corrupt []string          `json:"corrupt"`
	Missing []missingBlobJSON `json:"missing"`
	Orphans []string          `json:"orphans"`
	Seconds float64           `json:"seconds"`
	DryRun  bool              `json:"dry_run"`
}

type quarantinedJSON struct {
	Digest string    `json:"digest"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// verify re-hashes every stored blob now (system admins).
func (x *API) verify(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	if err := x.auth.RequireAdmin(actor); err != nil {
		return 0, nil, err
	}
	var in verifyRequest
	if r.ContentLength != 0 {
		if err := decode(nil, r, &in); err != nil {
			return 0, nil, err
		}
	}
	rep, err := x.reg.Verify(ctx, registry.VerifyOptions{Rate: in.Rate, DryRun: in.DryRun})
	if err != nil {
		return 0, nil, err
	}
	out := verifyJSON{Blobs: rep.Blobs, Bytes: rep.Bytes, Corrupt: []string{}, Missing: []missingBlobJSON{}, Orphans: []string{},
		Seconds: rep.Duration.Seconds(), DryRun: in.DryRun}
	for _, d := range rep.Corrupt {
		out.Corrupt = append(out.Corrupt, d.String())
	}
	for _, m := range rep.Missing {
		out.Missing = append(out.Missing, missingBlobJSON{Repository: m.Repo, Digest: m.Digest.String()})
	}
	for _, d := range rep.Orphans {
		out.Orphans = append(out.Orphans, d.String())
	}
	sort.Strings(out.Orphans)
	return http.StatusOK, out, nil
}

// listQuarantine lists the quarantined blobs (system admins).
func (x *API) listQuarantine(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	if err := x.auth.RequireAdmin(actor); err != nil {
		return 0, nil, err
	}
	qs, err := x.reg.Quarantine(ctx)
	out := make([]quarantinedJSON, 0, len(qs))
	for _, q := range qs {
		out = append(out, quarantinedJSON{Digest: q.Digest, Reason: q.Reason, At: q.At})
	}
	return http.StatusOK, out, err
}

type repositoryJSON struct {
	Name    string `json:"name"`
	Project string `json:"project"`
}

// repositoryPage is one page of repositories.
type repositoryPage struct {
	Repositories []repositoryJSON `json:"repositories"`
	Next         string           `json:"next,omitempty"` // pass as ?last= for the next page
}

// listRepositories lists the repositories the caller may see:
// ?project= narrows to one project, ?n= and ?last= page.
func (x *API) listRepositories(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	q := r.URL.Query()
	n := 100
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 || n > 1000 {
			return 0, nil, invalidf("n=%q: want a number from 1 to 1000", v)
		}
	}
	project := q.Get("project")
	visible := x.auth.Visible(ctx, actor)
	keep := func(repo string) (bool, error) {
		if project != "" && meta.ProjectOf(repo) != project {
			return false, nil
		}
		return visible(repo)
	}
	last := q.Get("last")
	if project != "" && last < project {
		last = project // names of the project sort after it
	}
	page, err := x.reg.Catalog(ctx, last, n, keep)
	if err != nil {
		return 0, nil, err
	}
	out := repositoryPage{Repositories: make([]repositoryJSON, 0, len(page.Items))}
	for _, name := range page.Items {
		out.Repositories = append(out.Repositories, repositoryJSON{Name: name, Project: meta.ProjectOf(name)})
	}
	if page.More && len(page.Items) > 0 {
		out.Next = page.Items[len(page.Items)-1]
	}
	return http.StatusOK, out, nil
}

type artifactJSON struct {
	Digest       string              `json:"digest"`
	MediaType    string              `json:"media_type"`
	ArtifactType string              `json:"artifact_type,omitempty"`
	Size         int64               `json:"size"`
	Tags         []string            `json:"tags"`
	Platforms    []registry.Platform `json:"platforms,omitempty"`
	Subject      string              `json:"subject,omitempty"`
	PushedAt     time.Time           `json:"pushed_at"`
	Pusher       string              `json:"pusher,omitempty"`
	Pulls        int                 `json:"pulls"`
	LastPull     *time.Time          `json:"last_pull,omitempty"`
	TagPulls     []tagPullsJSON      `json:"tag_pulls,omitempty"`
}

// tagPullsJSON is the pulls of an artifact through one of its tags (or a
// tag it had).
type tagPullsJSON struct {
	Tag      string    `json:"tag"`
	Pulls    int64     `json:"pulls"`
	LastPull time.Time `json:"last_pull"`
}

// listArtifacts lists the manifests of ?repository= with their tags, size,
// platforms, push time and pusher, and pull count.
func (x *API) listArtifacts(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	repo := r.URL.Query().Get("repository")
	if repo == "" {
		return 0, nil, invalidf("repository= is required")
	}
	if err := x.auth.Allowed(ctx, actor, repo, auth.ActionPull); err != nil {
		return 0, nil, err
	}
	as, err := x.reg.Artifacts(ctx, repo)
	if err != nil {
		return 0, nil, err
	}
	out := make([]artifactJSON, 0, len(as))
	for _, a := range as {
		j := artifactJSON{Digest: a.Digest.String(), MediaType: a.MediaType, ArtifactType: a.ArtifactType, Size: a.Size,
			Tags: a.Tags, Platforms: a.Platforms, Subject: a.Subject.String(), PushedAt: a.PushedAt, Pusher: a.Pusher,
			Pulls: a.Pulls, LastPull: optTime(a.LastPull)}
		if j.Tags == nil {
			j.Tags = []string{}
		}
		for _, p := range a.TagPulls {
			j.TagPulls = append(j.TagPulls, tagPullsJSON{Tag: p.Tag, Pulls: p.Pulls, LastPull: p.LastPull})
		}
		out = append(out, j)
	}
	return http.StatusOK, out, nil
}

// deleteRepository deletes a repository (those who may delete in it).
func (x *API) deleteRepository(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	repo := strings.Trim(r.PathValue("name"), "/")
	if err := x.auth.Allowed(ctx, actor, repo, auth.ActionDelete); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, x.reg.DeleteRepository(ctx, repo)
}

// WithGC lets system admins run garbage collection (run takes the
// cluster-wide lease; jobs.ErrBusy when another run holds it).
func (x *API) WithGC(run func(context.Context, registry.GCOptions) (registry.GCReport, error), grace time.Duration) *API {
	x.gc, x.gcGrace = run, grace
	return x
}

type gcRequest struct {
	DryRun bool `json:"dry_run"`
}

type gcJSON struct {
	Tags      int     `json:"tags"` // referrers-schema tags whose subject was gone
	Manifests int     `json:"manifests"`
	Links     int     `json:"links"`
	Blobs     int     `json:"blobs"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	DryRun    bool    `json:"dry_run"`
}

// runGC collects garbage now (system admins).
func (x *API) runGC(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	if err := x.auth.RequireAdmin(actor); err != nil {
		return 0, nil, err
	}
	if x.gc == nil {
		return 0, nil, invalidf("garbage collection is not available here")
	}
	var in gcRequest
	if r.ContentLength != 0 {
		if err := decode(nil, r, &in); err != nil {
			return 0, nil, err
		}
	}
	rep, err := x.gc(ctx, registry.GCOptions{Grace: x.gcGrace, DryRun: in.DryRun})
	if errors.Is(err, jobs.ErrBusy) {
		return 0, nil, errBusy
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gcJSON{Tags: rep.Tags, Manifests: rep.Manifests, Links: rep.Links, Blobs: rep.Blobs, Bytes: rep.Bytes,
		Seconds: rep.Duration.Seconds(), DryRun: in.DryRun}, nil
}
