package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-registry/berth/internal/config"
)

func (c *cli) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry",
		Long: "Run the registry until SIGINT or SIGTERM. With no flags and no configuration it listens\n" +
			"on 0.0.0.0:5000 and keeps its data under ./berth-data. Settings come from defaults, the\n" +
			"--config file, BERTH_* environment variables and flags, each overriding the one before.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := buildConfig(cmd.Flags(), c.env)
			if err != nil {
				return err
			}
			logger, err := newLogger(cfg.Log, c.stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger.Info("berth starting", "version", version, "commit", commit, "addr", cfg.HTTP.Addr, "data", cfg.Storage.Path)
			return c.serve(ctx, cfg, logger)
		},
	}
	addServeFlags(cmd.Flags())
	return cmd
}

// addServeFlags declares the flags buildConfig reads.
func addServeFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "configuration file (YAML)")
	fs.String("addr", "", "listen address host:port (http.addr)")
	fs.String("data", "", "data directory (storage.path)")
}

// buildConfig layers the configuration: defaults < --config file <
// environment < flags, then validates the result. Every problem found is
// reported in the one error.
func buildConfig(fs *pflag.FlagSet, env []string) (config.Config, error) {
	file, err := fs.GetString("config")
	if err != nil {
		return config.Config{}, err
	}
	cfg, loadErr := config.Load(file, env)
	if err := applyFlags(&cfg, fs); err != nil {
		return config.Config{}, err
	}
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		return config.Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// applyFlags sets the keys whose flags were given on the command line.
func applyFlags(cfg *config.Config, fs *pflag.FlagSet) error {
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"addr", &cfg.HTTP.Addr},
		{"data", &cfg.Storage.Path},
	} {
		if !fs.Changed(f.name) {
			continue
		}
		v, err := fs.GetString(f.name)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

// newLogger builds the slog logger log.level and log.format ask for.
func newLogger(lc config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch lc.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: unknown format %q", lc.Format)
}
