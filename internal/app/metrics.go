package app

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/httpapi"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/metrics"
	"github.com/berth-registry/berth/internal/registry"
)

// The metrics implement what the HTTP layer asks of a meter.
var _ httpapi.Meter = (*metrics.Metrics)(nil)

// mountMetrics, when metrics.enabled, measures every request and the
// registry's pushes, pulls, deletes and failed logins (v2), and serves
// /metrics: on metrics.addr without authentication when that is set
// (serveMetrics), otherwise here, to system admins through mgmt or to
// anyone with auth.mode none (mgmt nil).
func (a *App) mountMetrics(mux *http.ServeMux, mgmt *api.API, v2 *httpapi.API) {
	if !a.cfg.Metrics.Enabled {
		return
	}
	a.metrics = metrics.New()
	a.metrics.WatchUsage(a.projectUsage, a.log)
	a.metrics.WatchStorage(a.totalUsage, a.log)
	a.metrics.WatchUploads(a.uploadSessions, a.log)
	if a.cfg.Storage.Driver == "filesystem" {
		a.metrics.WatchDisk(a.cfg.Storage.Path, a.log)
	}
	v2.WithMeter(a.metrics)
	a.handler = httpapi.Instrument(a.handler, a.metrics)
	if a.cfg.Metrics.Addr != "" {
		return
	}
	h := a.metrics.Handler()
	if mgmt != nil {
		h = mgmt.AdminOnly(h)
	}
	mux.Handle("GET /metrics", h)
}

// serveMetrics serves /metrics without authentication on metrics.addr
// (meant for a private interface) until ctx ends.
func (a *App) serveMetrics(ctx context.Context) {
	if a.metrics == nil || a.cfg.Metrics.Addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	ln, err := net.Listen("tcp", a.cfg.Metrics.Addr)
	if err != nil {
		a.log.Error("metrics server not started", "addr", a.cfg.Metrics.Addr, "err", err)
		return
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	a.log.Info("metrics server listening", "addr", ln.Addr().String())
	_ = srv.Serve(ln)
}

// uploadSessions counts the upload sessions open across the cluster (those
// abandoned count until storage.upload_purge_interval purges them).
func (a *App) uploadSessions(ctx context.Context) (int, error) {
	n := 0
	err := a.meta.View(ctx, func(r meta.Reader) error {
		var err error
		n, err = r.CountUploads()
		return err
	})
	return n, err
}

// totalUsage reads the bytes all projects hold, each blob once.
func (a *App) totalUsage(ctx context.Context) (int, error) {
	var n int64
	err := a.meta.View(ctx, func(r meta.Reader) error {
		var err error
		n, err = r.TotalUsage()
		return err
	})
	return int(n), err
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
