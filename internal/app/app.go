package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/berth-registry/berth/internal/config"
)

// App is a running berth: drivers, services and the HTTP handler, built from
// one Config.
type App struct {
	cfg config.Config
	log *slog.Logger
}

// New builds the application (opens stores, runs migrations).
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	return nil, errors.New("app: not implemented yet")
}

// Handler returns the root HTTP handler.
func (a *App) Handler() http.Handler { return http.NotFoundHandler() }

// Serve listens on cfg.HTTP.Addr until ctx is cancelled, then stops
// accepting, drains in-flight requests (bounded by http.shutdown_timeout)
// and returns.
func (a *App) Serve(ctx context.Context) error { return errors.New("app: not implemented yet") }

// Close releases the stores.
func (a *App) Close() error { return nil }
