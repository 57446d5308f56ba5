package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/config"
)

func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("config: a subcommand is required")}
		},
	}
	cmd.AddCommand(c.configCheckCmd())
	return cmd
}

func (c *cli) configCheckCmd() *cobra.Command {
	var withEnv bool
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file and list every problem in it",
		Long: "Check FILE as `berth serve --config FILE` would read it, together with the BERTH_*\n" +
			"environment variables (unless --env=false), and list every problem at once.\n" +
			"Exits with status 0 when the configuration is valid, 1 otherwise.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			var env []string
			if withEnv {
				env = c.env
			}
			cfg, err := config.Load(file, env)
			errs := flatten(errors.Join(err, cfg.Validate()))
			if len(errs) == 0 {
				fmt.Fprintf(c.stdout, "%s: ok\n", file)
				return nil
			}
			lines := make([]string, len(errs))
			for i, e := range errs {
				lines[i] = e.Error()
			}
			noun := "problems"
			if len(errs) == 1 {
				noun = "problem"
			}
			return fmt.Errorf("%s: %d %s:\n%s", file, len(errs), noun, strings.Join(lines, "\n"))
		},
	}
	cmd.Flags().BoolVar(&withEnv, "env", true, "also apply BERTH_* environment variables, as serve does")
	return cmd
}

// flatten lists the leaves of a tree of joined errors.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
