package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/httpapi"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/proxy"
	"github.com/berth-registry/berth/internal/secretbox"
)

// secretBox opens secrets.key (nil without one).
func secretBox(cfg config.Config) (*secretbox.Box, error) {
	key, err := cfg.SecretsKey()
	if err != nil {
		return nil, fmt.Errorf("secrets.key: %w", err)
	}
	if key == nil {
		return nil, nil
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, fmt.Errorf("secrets.key: %w", err)
	}
	return box, nil
}

// spoolDir is where blobs being fetched by the pull-through cache are
// spooled while clients read them: under the data directory, which has
// the room for blobs that a small /tmp may lack.
func spoolDir(cfg config.Config) string {
	dir := filepath.Join(cfg.Storage.Path, "spool")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "" // the system's temporary directory
	}
	return dir
}

// newUpstreams connects the proxy projects to their upstreams.
func newUpstreams(cfg config.Config, md meta.Store, box *secretbox.Box, log *slog.Logger) *proxy.Upstreams {
	return proxy.New(proxy.Options{Store: md, Secrets: box, TTL: cfg.Proxy.TTL, UserAgent: "berth", Log: log})
}

// MirrorHandler is the registry mirror's handler: the main one with every
// repository moved into proxy.mirror.project.
func (a *App) MirrorHandler() http.Handler {
	return httpapi.Mirror(a.handler, a.cfg.Proxy.Mirror.Project, a.upstreams, a.log)
}

// serveMirror serves the registry mirror listener (proxy.mirror.addr)
// until ctx ends: the main handler with every repository moved into the
// mirror's proxy project.
func (a *App) serveMirror(ctx context.Context) {
	m := a.cfg.Proxy.Mirror
	if m.Addr == "" {
		return
	}
	if err := a.meta.View(ctx, func(r meta.Reader) error {
		_, err := r.Proxy(m.Project)
		return err
	}); errors.Is(err, meta.ErrNotFound) {
		a.log.Warn("proxy.mirror.project is not a proxy project (yet): the mirror serves what it holds, fetching nothing", "project", m.Project)
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		a.log.Error("registry mirror not started", "addr", m.Addr, "err", err)
		return
	}
	if a.tls != nil {
		ln = tls.NewListener(ln, a.tls.Config())
	}
	quiet := newQuietConns()
	srv := &http.Server{
		Handler:           a.MirrorHandler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnState:         quiet.track,
	}
	go func() {
		<-ctx.Done()
		_ = quiet.shutdown(srv, a.cfg.HTTP.ShutdownTimeout)
	}()
	a.log.Info("registry mirror listening", "addr", ln.Addr().String(), "project", m.Project, "tls", a.tls != nil)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("registry mirror stopped", "err", err)
	}
}
