package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

func (c *cli) relocateCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "relocate --to FILE",
		Short: "Copy this registry's data into the stores another configuration names",
		Long: "Copy every repository — blobs (verified against their digests), manifests and tags —\n" +
			"from the stores this configuration names (--config, BERTH_* and --data, as for serve)\n" +
			"into the stores of the configuration file --to, typically from the embedded default\n" +
			"into PostgreSQL + S3. Stop berth first. Running it again copies only what is missing.\n" +
			"Upload sessions in progress and the event history are not copied.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usageError{fmt.Errorf("relocate: --to FILE is required")}
			}
			from, err := buildConfig(cmd.Flags(), c.env)
			if err != nil {
				return err
			}
			dst, err := config.Load(to, nil)
			if err == nil {
				err = dst.Validate()
			}
			if err != nil {
				return fmt.Errorf("--to %s:\n%w", to, err)
			}
			logger, err := newLogger(from.Log, c.stderr)
			if err != nil {
				return err
			}
			locks := []config.Config{from}
			if dst.Storage.Path != from.Storage.Path {
				locks = append(locks, dst) // the same one is refused by Relocate below
			}
			for _, cfg := range locks {
				release, err := app.LockData(cfg)
				if err != nil {
					return fmt.Errorf("relocate: %w", err)
				}
				defer release()
			}
			rep, err := app.Relocate(cmd.Context(), from, dst, logger)
			if err != nil {
				return fmt.Errorf("relocate: %w", err)
			}
			fmt.Fprintf(c.stdout, "relocated %d users, %d projects, %d robots and %d repositories: %d manifests, %d tags, %d blob links (%d blobs, %d bytes copied)\n",
				rep.Users, rep.Projects, rep.Robots, rep.Repositories, rep.Manifests, rep.Tags, rep.Blobs, rep.BlobsCopied, rep.BlobBytes)
			return nil
		},
	}
	addServeFlags(cmd.Flags())
	cmd.Flags().StringVar(&to, "to", "", "configuration file of the destination (YAML)")
	return cmd
}
