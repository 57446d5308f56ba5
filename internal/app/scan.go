package app

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/httpapi"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/secretbox"
)

// scannerCredentialTTL is how long the pull credential of an external
// scan lives (it is deleted when the scan ends).
const scannerCredentialTTL = time.Hour

// newScanService makes the vulnerability scanner over the stores; its
// SBOM referrers are pushed through the registry service; external
// scanners get pull credentials from access (nil: auth.mode none).
func newScanService(cfg config.Config, md meta.Store, blobs blob.Store, svc *registry.Service, rec *audit.Recorder,
	box *secretbox.Box, access func() *auth.Service, log *slog.Logger) *scan.Service {
	o := scan.Options{Store: md, Blobs: blobs, Pusher: svc, Audit: rec, Log: log, Workers: cfg.Scan.Workers,
		Poll: cfg.Scan.PollInterval, OnPush: cfg.Scan.OnPush, Secrets: box, RegistryURL: scanRegistryURL(cfg)}
	o.Credential = func(ctx context.Context, repo string) (string, string, func() error, error) {
		a := access()
		if a == nil {
			return "", "", func() error { return nil }, nil // no authentication: nothing to hand over
		}
		return a.ScannerCredential(ctx, repo, scannerCredentialTTL)
	}
	if cfg.Scan.SBOMFormat != "none" {
		o.SBOMFormat = cfg.Scan.SBOMFormat
	}
	o.Events = eventsAppended(md)
	return scan.New(o)
}

// scanRegistryURL is where external scanners reach this registry.
func scanRegistryURL(cfg config.Config) string {
	switch {
	case cfg.Scan.RegistryURL != "":
		return strings.TrimSuffix(cfg.Scan.RegistryURL, "/")
	case cfg.HTTP.ExternalURL != "":
		return strings.TrimSuffix(cfg.HTTP.ExternalURL, "/")
	}
	scheme := "http"
	if cfg.HTTP.TLS.Certificate != "" {
		scheme = "https"
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		port = "5000"
	}
	return scheme + "://127.0.0.1:" + port
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
