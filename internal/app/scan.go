package app

import (
	"context"
	"log/slog"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/httpapi"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
)

// newScanService makes the vulnerability scanner over the stores; its
// SBOM referrers are pushed through the registry service.
func newScanService(cfg config.Config, md meta.Store, blobs blob.Store, svc *registry.Service, rec *audit.Recorder, log *slog.Logger) *scan.Service {
	o := scan.Options{Store: md, Blobs: blobs, Pusher: svc, Audit: rec, Log: log, Workers: cfg.Scan.Workers,
		Poll: cfg.Scan.PollInterval, OnPush: cfg.Scan.OnPush}
	if cfg.Scan.SBOMFormat != "none" {
		o.SBOMFormat = cfg.Scan.SBOMFormat
	}
	o.Events = eventsAppended(md)
	return scan.New(o)
}

// scanLoop runs the scanner's workers, push reader and rematcher until ctx
// ends (with scan.enabled).
func (a *App) scanLoop(ctx context.Context) {
	if !a.cfg.Scan.Enabled {
		return
	}
	a.scans.Run(ctx)
}

// pullGates admits a pull when every gate does (the signature policy, then
// the vulnerability policy).
type pullGates []httpapi.PullGate

func (g pullGates) AdmitPull(ctx context.Context, repo string, m meta.Manifest, exempt func() bool) error {
	for _, gate := range g {
		if err := gate.AdmitPull(ctx, repo, m, exempt); err != nil {
			return err
		}
	}
	return nil
}
