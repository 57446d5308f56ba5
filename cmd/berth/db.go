package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/app"
)

func (c *cli) dbCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Work with the metadata database",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("db: a subcommand is required")}
		},
	}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the metadata database's schema to this berth's version, then exit",
		Long: "Open the metadata store the configuration names (SQLite or PostgreSQL), apply every\n" +
			"schema migration it lacks, and exit. berth serve does the same at start; run this\n" +
			"before rolling out a new version to many nodes.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := buildConfig(cmd.Flags(), c.env)
			if err != nil {
				return err
			}
			md, err := app.OpenMeta(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("metadata store (%s): %w", cfg.Metadata.Driver, err)
			}
			defer md.Close()
			version := "?"
			if v, ok := md.(interface {
				SchemaVersion(context.Context) (int, error)
			}); ok {
				n, err := v.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				version = fmt.Sprint(n)
			}
			fmt.Fprintf(c.stdout, "metadata schema is at version %s (%s)\n", version, cfg.Metadata.Driver)
			return nil
		},
	}
	addServeFlags(migrate.Flags())
	cmd.AddCommand(migrate)
	return cmd
}
