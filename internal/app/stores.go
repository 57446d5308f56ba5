package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/blob/s3"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/pg"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// openBlobs opens the blob store storage.driver names.
func openBlobs(ctx context.Context, cfg config.Config) (blob.Store, error) {
	switch cfg.Storage.Driver {
	case "s3":
		c := cfg.Storage.S3
		endpoint := c.Endpoint
		if endpoint == "" {
			endpoint = "s3.amazonaws.com"
		}
		return s3.New(ctx, s3.Config{
			Endpoint: endpoint, Region: c.Region, Bucket: c.Bucket, Prefix: c.Prefix,
			AccessKey: c.AccessKey, SecretKey: c.SecretKey, UsePathStyle: c.PathStyle,
			Insecure: c.Insecure, MaxConcurrency: c.MaxConcurrency, PartSize: c.PartSize,
		})
	default:
		if err := os.MkdirAll(cfg.Storage.Path, 0o755); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		return fs.New(cfg.Storage.Path)
	}
}

// OpenMeta opens the metadata store metadata.driver names and brings its
// schema to the latest version (berth db migrate uses it alone).
func OpenMeta(ctx context.Context, cfg config.Config) (meta.Store, error) {
	switch cfg.Metadata.Driver {
	case "postgres":
		p := cfg.Metadata.Postgres
		return pg.Open(ctx, p.DSN, pg.Options{MaxOpenConns: p.MaxConns, ConnMaxLifetime: p.ConnMaxLifetime})
	default:
		path := cfg.Metadata.SQLitePath
		if path == "" {
			if err := os.MkdirAll(cfg.Storage.Path, 0o755); err != nil {
				return nil, fmt.Errorf("data directory: %w", err)
			}
			path = filepath.Join(cfg.Storage.Path, "berth.db")
		}
		return sqlite.Open(path)
	}
}
