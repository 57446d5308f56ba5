package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/httpapi"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/metrics"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/proxy"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/retention"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/secretbox"
	"github.com/berth-registry/berth/internal/sigpolicy"
	"github.com/berth-registry/berth/internal/tlscert"
)

// App is a running berth: drivers, services and the HTTP handler, built from
// one Config.
type App struct {
	cfg       config.Config
	log       *slog.Logger
	blobs     blob.Store
	meta      meta.Store
	svc       *registry.Service
	handler   http.Handler
	tls       *tlscert.Reloader // nil: plain HTTP
	access    *auth.Service     // nil with auth.mode none
	audit     *audit.Recorder
	metrics   *metrics.Metrics // nil: metrics.enabled off
	health    *health
	upstreams *proxy.Upstreams
	box       *secretbox.Box // opens the secrets sealed in the store; nil without secrets.key
	scans     *scan.Service
	// replicationQueued wakes this node's replication workers when a run
	// starts (by the API, a schedule or a push).
	replicationQueued meta.Signal
	// accessLog writes a line per request; nil with log.access off.
	accessLog *httpapi.AccessLog
}

// New builds the application: opens the stores (running metadata
// migrations) and wires the service and HTTP API.
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	log = slog.New(httpapi.LogHandler(log.Handler())) // request_id on *Context records
	ctx := context.Background()
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("blob store (%s): %w", cfg.Storage.Driver, err)
	}
	md, err := OpenMeta(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata store (%s): %w", cfg.Metadata.Driver, err)
	}
	cacheSize := cfg.Registry.CacheSize
	if cfg.Metadata.Driver == "postgres" {
		// Other nodes write too: a process-local cache would serve stale tags.
		cacheSize = 0
	}
	box, err := secretBox(cfg)
	if err != nil {
		_ = md.Close()
		return nil, err
	}
	upstreams := newUpstreams(cfg, md, box, log)
	svc := registry.New(blobs, md, registry.Options{
		MaxBlobSize:     cfg.Storage.MaxBlobSize,
		ManifestMaxSize: cfg.Registry.ManifestMaxSize,
		ListMaxEntries:  cfg.Registry.ListMaxEntries,
		CacheSize:       cacheSize,
		RedirectTTL:     redirectTTL(cfg),
		Tags:            policy.Immutability{},
		LinkRefresh:     cfg.GC.Grace / 2,
		Upstream:        upstreams,
		UpstreamTimeout: cfg.Proxy.Timeout,
		SpoolDir:        spoolDir(cfg),
		UploadMaxAge:    cfg.Storage.UploadMaxAge,
	}, log)
	mux := http.NewServeMux()
	rec := audit.New(md, log, 10000)
	sigs := sigpolicy.New(sigpolicy.Options{Store: md, Blobs: blobs, Audit: rec, Log: log})
	var (
		access *auth.Service
		mgmt   *api.API
	)
	scans := newScanService(cfg, md, blobs, svc, rec, box, func() *auth.Service { return access }, log)
	v2 := httpapi.New(svc, log).WithAudit(rec).WithVerifyOnRead(cfg.Storage.VerifyOnRead).WithPullGate(pullGates{sigs, scans})
	switch cfg.Auth.Mode {
	case "none":
		log.Warn("auth.mode is none: anyone who can reach berth may push, pull and delete; use it for local experiments only")
	default:
		access, err = openAccess(ctx, cfg, md, box, log)
		if err != nil {
			rec.Close()
			_ = md.Close()
			return nil, err
		}
		v2.WithAccess(access, cfg.HTTP.ExternalURL, cfg.Auth.Token.Realm)
		mux.HandleFunc("/token", v2.ServeToken)
		mgmt = api.New(access, svc, log, func(r *http.Request) string { return httpapi.ClientAddr(r).String() })
		mux.Handle(api.Prefix+"/", mgmt)
	}
	mux.Handle("/v2/", v2)
	mux.Handle("/v2", v2)
	edge, err := edgeOptions(cfg)
	if err != nil {
		rec.Close()
		_ = md.Close()
		return nil, err
	}
	if cfg.Log.Access {
		edge.AccessLog = httpapi.NewAccessLog(log, accessLogQueue)
	}
	a := &App{cfg: cfg, log: log, blobs: blobs, meta: md, svc: svc, handler: httpapi.Edge(mux, edge, log), access: access, audit: rec}
	a.accessLog, a.health = edge.AccessLog, newHealth(cfg.Health, blobs, md, log)
	a.upstreams, a.box, a.scans = upstreams, box, scans
	if mgmt != nil {
		mgmt.WithGC(a.RunGC, cfg.GC.Grace)
		mgmt.WithRetention(a.RunRetention)
		mgmt.WithReplication(a.ReplicationService())
		mgmt.WithSignatures(sigs)
		mgmt.WithScans(scans)
	}
	if cfg.HTTP.TLS.Certificate != "" {
		if a.tls, err = tlscert.New(cfg.HTTP.TLS.Certificate, cfg.HTTP.TLS.Key, log); err != nil {
			a.accessLog.Close()
			rec.Close()
			_ = md.Close()
			return nil, err
		}
	}
	a.mountMetrics(mux, mgmt, v2)
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	// ns= moves a pull into the proxy project of the registry it names.
	a.handler = httpapi.Mirror(a.handler, "", upstreams, log)
	return a, nil
}

// accessLogQueue is how many access log lines may wait for the writer.
const accessLogQueue = 8192

// redirectTTL is how long presigned blob URLs last, 0 when redirects are off.
func redirectTTL(cfg config.Config) time.Duration {
	if cfg.Storage.Driver == "s3" && cfg.Storage.S3.Redirect {
		return cfg.Storage.S3.RedirectTTL
	}
	return 0
}

// Handler returns the root HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Service returns the registry service (for background jobs and tests).
func (a *App) Service() *registry.Service { return a.svc }

// Serve listens on cfg.HTTP.Addr until ctx is cancelled, then stops
// accepting, drains in-flight requests (bounded by http.shutdown_timeout)
// and returns.
func (a *App) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	return a.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened.
func (a *App) ServeListener(ctx context.Context, ln net.Listener) error {
	quiet := newQuietConns()
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		ConnState:         quiet.track,
	}
	if a.tls != nil {
		ln = tls.NewListener(ln, a.tls.Config())
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go a.purgeLoop(bg)
	go a.throttlePurgeLoop(bg)
	go a.auditPurgeLoop(bg)
	go a.outboxPurgeLoop(bg)
	go a.keyPruneLoop(bg)
	go a.verifyLoop(bg)
	go a.gcLoop(bg)
	go a.retentionLoop(bg)
	go a.webhookLoop(bg)
	go a.replicationLoop(bg)
	go a.scanLoop(bg)
	go a.serveDebug(bg)
	go a.health.loop(bg)
	go a.serveMetrics(bg)
	go a.serveMirror(bg)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("berth listening", "addr", ln.Addr().String(), "tls", a.tls != nil, "data", a.cfg.Storage.Path)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: draining in-flight requests", "timeout", a.cfg.HTTP.ShutdownTimeout)
	if err := quiet.shutdown(srv, a.cfg.HTTP.ShutdownTimeout); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// purgeLoop removes abandoned upload sessions every
// storage.upload_purge_interval, on one node of the cluster at a time.
func (a *App) purgeLoop(ctx context.Context) {
	interval := a.cfg.Storage.UploadPurgeInterval
	if interval <= 0 {
		return
	}
	jobs.New(a.meta, a.log).Every(ctx, "purge-uploads", interval, func(ctx context.Context) error {
		n, err := a.svc.PurgeUploads(ctx, a.cfg.Storage.UploadMaxAge)
		if n > 0 {
			a.log.Info("purged abandoned uploads", "count", n)
		}
		return err
	})
}

// throttlePurgeLoop removes failed-login records that no longer count.
func (a *App) throttlePurgeLoop(ctx context.Context) {
	if a.access == nil || a.cfg.Auth.Throttle.Failures == 0 {
		return
	}
	jobs.New(a.meta, a.log).Every(ctx, "purge-login-throttles", a.cfg.Auth.Throttle.Window, func(ctx context.Context) error {
		_, err := a.access.Authn.PurgeThrottles(ctx, time.Now())
		return err
	})
}

// keyPruneLoop deletes token signing keys retired for longer than any
// token lives, hourly, on one node at a time.
func (a *App) keyPruneLoop(ctx context.Context) {
	if a.access == nil {
		return
	}
	jobs.New(a.meta, a.log).Every(ctx, "prune-signing-keys", time.Hour, func(ctx context.Context) error {
		n, err := a.access.PruneSigningKeys(ctx, time.Now())
		if n > 0 {
			a.log.Info("deleted retired token signing keys", "count", n)
		}
		return err
	})
}

// gcRunLease is held while a garbage collection runs, scheduled or asked
// for, so that one runs at a time across the cluster.
const gcRunLease = "gc-run"

// RunGC collects garbage now unless another run holds the lease
// (jobs.ErrBusy), and records the run in the audit log. Whether untagged
// manifests and orphaned referrers go is the configuration's business
// (gc.delete_untagged, gc.delete_orphan_referrers), whoever asks.
func (a *App) RunGC(ctx context.Context, o registry.GCOptions) (registry.GCReport, error) {
	o.KeepUntagged = !a.cfg.GC.DeleteUntagged
	o.KeepOrphanReferrers = !a.cfg.GC.DeleteOrphanReferrers
	var rep registry.GCReport
	err := jobs.New(a.meta, a.log).Once(ctx, gcRunLease, time.Minute, func(ctx context.Context) error {
		var err error
		rep, err = a.svc.GC(ctx, o)
		a.observeGC(o, rep, err)
		return err
	})
	return rep, err
}

// gcLoop collects garbage every gc.interval.
func (a *App) gcLoop(ctx context.Context) {
	if !a.cfg.GC.Scheduled {
		return
	}
	jobs.New(a.meta, a.log).EveryAfter(ctx, "gc", a.cfg.GC.Interval, func(ctx context.Context) error {
		_, err := a.RunGC(ctx, registry.GCOptions{Grace: a.cfg.GC.Grace})
		if errors.Is(err, jobs.ErrBusy) {
			return nil
		}
		return err
	})
}

// retentionRunLease is held while retention rules are applied, scheduled
// or asked for, so that one run happens at a time across the cluster.
const retentionRunLease = "retention-run"

// RunRetention applies the projects' retention rules now (or, dry, plans
// them) unless another run holds the lease (jobs.ErrBusy). Its deletions
// go through the registry service under the retention actor.
func (a *App) RunRetention(ctx context.Context, o retention.Options) (retention.Report, error) {
	var rep retention.Report
	err := jobs.New(a.meta, a.log).Once(ctx, retentionRunLease, time.Minute, func(ctx context.Context) error {
		var err error
		rep, err = retention.New(a.meta, a.svc, policy.Immutability{}, a.log).Run(ctx, o)
		return err
	})
	return rep, err
}

// retentionLoop applies every project's retention rules every
// retention.interval.
func (a *App) retentionLoop(ctx context.Context) {
	if !a.cfg.Retention.Scheduled || a.cfg.Retention.Interval <= 0 {
		return
	}
	jobs.New(a.meta, a.log).EveryAfter(ctx, "retention", a.cfg.Retention.Interval, func(ctx context.Context) error {
		_, err := a.RunRetention(ctx, retention.Options{})
		if errors.Is(err, jobs.ErrBusy) {
			return nil
		}
		return err
	})
}

// verifyLoop re-hashes the stored blobs every verify.interval, on one node
// at a time, and quarantines the corrupt ones.
func (a *App) verifyLoop(ctx context.Context) {
	if !a.cfg.Verify.Scheduled {
		return
	}
	jobs.New(a.meta, a.log).EveryAfter(ctx, "verify", a.cfg.Verify.Interval, func(ctx context.Context) error {
		rep, err := a.svc.Verify(ctx, registry.VerifyOptions{Rate: a.cfg.Verify.Rate})
		a.log.Info("verified stored blobs", "blobs", rep.Blobs, "bytes", rep.Bytes, "corrupt", len(rep.Corrupt),
			"missing", len(rep.Missing), "orphans", len(rep.Orphans), "took", rep.Duration)
		return err
	})
}

// auditPurgeLoop deletes audit events older than audit.retention, hourly,
// on one node at a time.
func (a *App) auditPurgeLoop(ctx context.Context) {
	jobs.New(a.meta, a.log).Every(ctx, "purge-audit", time.Hour, func(ctx context.Context) error {
		n, err := audit.Purge(ctx, a.meta, a.cfg.Audit.Retention, time.Now())
		if n > 0 {
			a.log.Info("purged old audit events", "count", n)
		}
		return err
	})
}

// Close writes the queued audit events and access log lines and releases
// the stores.
func (a *App) Close() error {
	a.audit.Close()
	a.accessLog.Close()
	return a.meta.Close()
}

// edgeOptions reads the network settings (already validated).
func edgeOptions(cfg config.Config) (httpapi.EdgeOptions, error) {
	o := httpapi.EdgeOptions{RateLimit: float64(cfg.HTTP.RateLimit), RateBurst: cfg.HTTP.RateBurst}
	for _, l := range []struct {
		key  string
		in   []string
		into *[]netip.Prefix
	}{{"http.trusted_proxies", cfg.HTTP.TrustedProxies, &o.TrustedProxies}, {"http.allow", cfg.HTTP.Allow, &o.Allow}, {"http.push_allow", cfg.HTTP.PushAllow, &o.PushAllow}} {
		for _, s := range l.in {
			p, err := config.ParsePrefix(s)
			if err != nil {
				return o, fmt.Errorf("%s: %q: %w", l.key, s, err)
			}
			*l.into = append(*l.into, p)
		}
	}
	return o, nil
}

// LocalAdminToken returns a short-lived token of a system admin named
// berth-cli, for administrative commands working offline on the stores.
func (a *App) LocalAdminToken() (string, error) {
	if a.access == nil {
		return "", errors.New("the management API needs auth.mode local")
	}
	return a.access.Tokens.Issue(auth.Identity{Kind: auth.KindUser, Name: "berth-cli", Admin: true}, nil, time.Now())
}
