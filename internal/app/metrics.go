package app

import (
	"context"
	"net/http"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/metrics"
	"github.com/berth-registry/berth/internal/registry"
)

// mountMetrics serves /metrics when metrics.enabled: to system admins
// through mgmt, or to anyone with auth.mode none (mgmt nil).
func (a *App) mountMetrics(mux *http.ServeMux, mgmt *api.API) {
	if !a.cfg.Metrics.Enabled {
		return
	}
	a.metrics = metrics.New()
	a.metrics.WatchUsage(a.projectUsage, a.log)
	h := a.metrics.Handler()
	if mgmt != nil {
		h = mgmt.AdminOnly(h)
	}
	mux.Handle("GET /metrics", h)
}

// projectUsage reads every project's usage and quota for a scrape: the
// projects holding manifests, and those with a quota but nothing yet.
func (a *App) projectUsage(ctx context.Context) ([]metrics.ProjectUsage, error) {
	var out []metrics.ProjectUsage
	err := a.meta.View(ctx, func(r meta.Reader) error {
		us, err := r.ListProjectUsage()
		if err != nil {
			return err
		}
		ps, err := r.ListProjects("", 0)
		if err != nil {
			return err
		}
		quota := make(map[string]int64, len(ps))
		for _, p := range ps {
			if p.Quota > 0 {
				quota[p.Name] = p.Quota
			}
		}
		for _, u := range us {
			out = append(out, metrics.ProjectUsage{Project: u.Project, Used: u.Bytes, Quota: quota[u.Project]})
			delete(quota, u.Project)
		}
		for name, q := range quota {
			out = append(out, metrics.ProjectUsage{Project: name, Quota: q})
		}
		return nil
	})
	return out, err
}

// observeGC reports a finished, real (not dry) run to the metrics.
func (a *App) observeGC(o registry.GCOptions, rep registry.GCReport, err error) {
	if a.metrics == nil || o.DryRun {
		return
	}
	a.metrics.ObserveGC(metrics.GCRun{Duration: rep.Duration, Manifests: rep.Manifests, Links: rep.Links, Blobs: rep.Blobs, Bytes: rep.Bytes}, err)
}
