package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// cli holds what the commands read and write, so tests can run them
// in-process without touching the real environment.
type cli struct {
	env    []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// serve runs the application until ctx is cancelled; tests replace it.
	serve func(ctx context.Context, cfg config.Config, log *slog.Logger) error
	// cleanups run when the command is done (stores opened offline).
	cleanups []func()
}

// run executes the command line args and returns the exit status. Errors
// are written to stderr as "berth: ...", with the usage only for mistakes in
// the command line itself.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	c := &cli{env: env, stdin: os.Stdin, stdout: stdout, stderr: stderr, serve: serveApp}
	return c.run(ctx, args)
}

func (c *cli) run(ctx context.Context, args []string) int {
	root := c.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	for _, f := range c.cleanups {
		f()
	}
	c.cleanups = nil
	if err == nil {
		return 0
	}
	fmt.Fprintln(c.stderr, "berth: "+indent(err.Error()))
	var ue usageError
	if errors.As(err, &ue) && cmd != nil {
		fmt.Fprint(c.stderr, "\n"+cmd.UsageString())
	}
	return 1
}

// indent puts every line after the first of a multi-line message (joined
// errors) under the "berth: " prefix.
func indent(msg string) string {
	return strings.ReplaceAll(msg, "\n", "\n  ")
}

// usageError is a mistake in the command line: the usage is printed after it.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "berth is a container image registry",
		Long: "berth is a container image registry (OCI Distribution, Docker Registry HTTP API V2)\n" +
			"in one binary. Run `berth serve` to start it; see docs/configuration.md for settings.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionString(),
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(c.serveCmd(), c.configCmd(), c.dbCmd(), c.relocateCmd(), c.versionCmd(),
		c.loginCmd(), c.userCmd(), c.projectCmd(), c.robotCmd(), c.repoCmd(), c.tokenCmd(), c.immutableCmd(), c.verifyCmd(), c.gcCmd(),
		c.quotaCmd(), c.retentionCmd(), c.webhookCmd(), c.copyCmd(), c.syncCmd(),
		c.proxyCmd(), c.replicationCmd(), c.signaturePolicyCmd(), c.vulndbCmd(), c.scanCmd(), c.scanPolicyCmd(), c.scannerCmd())
	return root
}

// exactArgs is cobra.ExactArgs with the usage printed on a mismatch.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), "berth "), err)}
		}
		return nil
	}
}

// serveApp is the real serve: build the app, serve until ctx is cancelled,
// close it.
func serveApp(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	release, err := app.LockData(cfg)
	if err != nil {
		return err
	}
	defer release()
	a, err := app.New(cfg, log)
	if err != nil {
		return err
	}
	serveErr := a.Serve(ctx)
	if errors.Is(serveErr, context.Canceled) {
		serveErr = nil
	}
	if err := a.Close(); err != nil {
		return errors.Join(serveErr, fmt.Errorf("close: %w", err))
	}
	return serveErr
}
