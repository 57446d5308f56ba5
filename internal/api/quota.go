package api

import (
	"context"
	"net/http"

	"github.com/berth-registry/berth/internal/auth"
)

// quotaOperations are the quota endpoints. A project's quota can also be
// set with PATCH /projects/{project} (quota_bytes), and every project
// answer carries quota_bytes and used_bytes.
var quotaOperations = []operation{
	{"GET", "/quotas", (*API).listQuotas, "List the storage quota and usage of the projects the caller may see", "anyone", nil, []quotaJSON{}, 200},
	{"GET", "/projects/{project}/quota", (*API).getQuota, "Read a project's storage quota and usage", "who may see it", nil, quotaJSON{}, 200},
	{"PUT", "/projects/{project}/quota", (*API).setQuota, "Set a project's storage quota in bytes (0 = unlimited)", "system admins", quotaRequest{}, quotaJSON{}, 200},
}

type quotaRequest struct {
	QuotaBytes *int64 `json:"quota_bytes"`
}

// quotaJSON is a project's quota (0 = unlimited) and the bytes its
// manifests and the blobs they reference hold, each digest counted once.
type quotaJSON struct {
	Project    string `json:"project"`
	QuotaBytes int64  `json:"quota_bytes"`
	UsedBytes  int64  `json:"used_bytes"`
}

func quotaOut(q auth.ProjectQuota) quotaJSON {
	return quotaJSON{Project: q.Project, QuotaBytes: q.Quota, UsedBytes: q.Used}
}

func (x *API) listQuotas(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	qs, err := x.auth.ProjectQuotas(ctx, actor)
	out := make([]quotaJSON, 0, len(qs))
	for _, q := range qs {
		out = append(out, quotaOut(q))
	}
	return http.StatusOK, out, err
}

func (x *API) getQuota(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	q, err := x.auth.ProjectQuotaOf(ctx, actor, r.PathValue("project"))
	return http.StatusOK, quotaOut(q), err
}

func (x *API) setQuota(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in quotaRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	if in.QuotaBytes == nil {
		return 0, nil, invalidf("quota_bytes is required (0 = unlimited)")
	}
	q, err := x.auth.SetProjectQuota(ctx, actor, r.PathValue("project"), *in.QuotaBytes)
	return http.StatusOK, quotaOut(q), err
}

// withUsage fills in used_bytes of project answers (one read).
func (x *API) withUsage(ctx context.Context, ps []auth.ProjectInfo, out []projectJSON) error {
	used, err := x.auth.UsageOf(ctx, ps)
	for i := range out {
		out[i].UsedBytes = used[out[i].Name]
	}
	return err
}
