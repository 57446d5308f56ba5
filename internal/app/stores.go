package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/blob/s3"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/pg"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/relocate"
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
		var opts []fs.Option
		if !cfg.Storage.DirectIO {
			opts = append(opts, fs.WithoutDirectIO())
		}
		return fs.New(cfg.Storage.Path, opts...)
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

// Relocate copies the registry the configuration from describes into the
// stores of to (see package relocate), opening and closing both.
func Relocate(ctx context.Context, from, to config.Config, log *slog.Logger) (relocate.Report, error) {
	if sameStores(from, to) {
		return relocate.Report{}, fmt.Errorf("the destination is the source (%s + %s)", from.Storage.Driver, from.Metadata.Driver)
	}
	var src, dst relocate.Stores
	var err error
	if src, err = openStores(ctx, from); err != nil {
		return relocate.Report{}, fmt.Errorf("source: %w", err)
	}
	defer src.Meta.Close()
	if dst, err = openStores(ctx, to); err != nil {
		return relocate.Report{}, fmt.Errorf("destination: %w", err)
	}
	defer dst.Meta.Close()
	return relocate.Run(ctx, src, dst, log)
}

func openStores(ctx context.Context, cfg config.Config) (relocate.Stores, error) {
	b, err := openBlobs(ctx, cfg)
	if err != nil {
		return relocate.Stores{}, fmt.Errorf("blob store (%s): %w", cfg.Storage.Driver, err)
	}
	m, err := OpenMeta(ctx, cfg)
	if err != nil {
		return relocate.Stores{}, fmt.Errorf("metadata store (%s): %w", cfg.Metadata.Driver, err)
	}
	return relocate.Stores{Blobs: b, Meta: m}, nil
}

// sameStores reports whether two configurations name the same blob store or
// the same metadata store.
func sameStores(a, b config.Config) bool {
	blobKey := func(c config.Config) string {
		if c.Storage.Driver == "s3" {
			return "s3:" + c.Storage.S3.Endpoint + "/" + c.Storage.S3.Bucket + "/" + c.Storage.S3.Prefix
		}
		p, _ := filepath.Abs(c.Storage.Path)
		return "fs:" + p
	}
	metaKey := func(c config.Config) string {
		if c.Metadata.Driver == "postgres" {
			return "pg:" + c.Metadata.Postgres.DSN
		}
		p := c.Metadata.SQLitePath
		if p == "" {
			p = filepath.Join(c.Storage.Path, "berth.db")
		}
		p, _ = filepath.Abs(p)
		return "sqlite:" + p
	}
	return blobKey(a) == blobKey(b) || metaKey(a) == metaKey(b)
}
