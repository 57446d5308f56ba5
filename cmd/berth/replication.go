package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type replicationPolicyOut struct {
	ID                                          int64
	Name, Direction, URL, Username              string
	Repositories, Tags, Label, Prefix, Schedule string
	Enabled, Insecure                           bool
	OnEvent                                     bool `json:"on_event"`
	Deletes                                     bool
	Bandwidth                                   int64
	Concurrency                                 int
}

type replicationRunOut struct {
	ID, Policy            int64
	Trigger, State        string
	StartedAt             time.Time  `json:"started_at"`
	FinishedAt            *time.Time `json:"finished_at"`
	Seconds               float64
	Jobs, Pending, Failed int
	Images                int
	Bytes                 int64
	JobList               []struct {
		ID                        int64
		Action, Repository, State string
		Reference, Result, Error  string
		Attempts                  int
		Bytes                     int64
		LagSeconds                float64    `json:"lag_seconds"`
		NextAttemptAt             *time.Time `json:"next_attempt_at"`
	} `json:"job_list"`
}

// policyID resolves a policy named by its ID or its name.
func (c *cli) policyID(cmd *cobra.Command, server, arg string) (string, error) {
	if _, err := strconv.ParseInt(arg, 10, 64); err == nil {
		return arg, nil
	}
	var ps []replicationPolicyOut
	if err := c.apiCall(cmd, server, "GET", "/replication/policies", nil, &ps); err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Name == arg {
			return fmt.Sprint(p.ID), nil
		}
	}
	return "", fmt.Errorf("no replication policy named %q", arg)
}

func (c *cli) replicationCmd() *cobra.Command {
	var server string
	var (
		in            replicationPolicyOut
		passwordStdin bool
		disabled      bool
	)
	add := &cobra.Command{
		Use:   "add NAME --direction push|pull --url URL --repositories GLOB [flags]",
		Short: "Add a replication policy",
		Long: "Add a replication policy. push copies from here to the remote registry, pull from it into here.\n" +
			"--repositories is a glob of source repositories (production/**), --tags a glob of tags, --label key=value an\n" +
			"image config label or manifest annotation the image must carry. Images land under --prefix at the destination.\n" +
			"Triggers: manual (berth replication run) always; --schedule (cron: minute hour day month weekday, UTC, or six\n" +
			"fields with seconds first); --on-event (push policies: each push here, and with --deletes each delete).\n" +
			"The remote password is read from stdin (--password-stdin) and never shown again.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Direction == "" || in.URL == "" || in.Repositories == "" {
				return usageError{errors.New("replication add: --direction, --url and --repositories are required")}
			}
			body := map[string]any{"name": args[0], "enabled": !disabled, "direction": in.Direction, "url": in.URL,
				"username": in.Username, "insecure": in.Insecure, "repositories": in.Repositories, "tags": in.Tags,
				"label": in.Label, "prefix": in.Prefix, "schedule": in.Schedule, "on_event": in.OnEvent, "deletes": in.Deletes,
				"bandwidth": in.Bandwidth, "concurrency": in.Concurrency}
			if passwordStdin {
				b, err := io.ReadAll(io.LimitReader(c.stdin, 64<<10))
				if err != nil {
					return fmt.Errorf("replication add: password: %w", err)
				}
				body["password"] = strings.TrimRight(string(b), "\r\n")
			}
			var out replicationPolicyOut
			if err := c.apiCall(cmd, server, "POST", "/replication/policies", body, &out); err != nil {
				return fmt.Errorf("replication add: %w", err)
			}
			fmt.Fprintf(c.stdout, "Replication policy %d (%s): %s %s %s\n", out.ID, out.Name, out.Direction, out.Repositories, out.URL)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&in.Direction, "direction", "", "push (from here) or pull (into here)")
	f.StringVar(&in.URL, "url", "", "the remote registry: https://host[:port], http://host[:port] or host[:port]")
	f.StringVar(&in.Username, "username", "", "user name at the remote registry")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the remote password from stdin")
	f.BoolVar(&in.Insecure, "insecure", false, "skip TLS certificate verification of the remote")
	f.StringVar(&in.Repositories, "repositories", "", "glob of source repositories, e.g. production/**")
	f.StringVar(&in.Tags, "tags", "", "glob of tags (default: every tag)")
	f.StringVar(&in.Label, "label", "", "key=value the image config labels or manifest annotations must hold")
	f.StringVar(&in.Prefix, "prefix", "", "path put before the repository names at the destination")
	f.StringVar(&in.Schedule, "schedule", "", `cron schedule, e.g. "0 3 * * *"`)
	f.BoolVar(&in.OnEvent, "on-event", false, "replicate each push here as it happens (push policies)")
	f.BoolVar(&in.Deletes, "deletes", false, "with --on-event, delete at the destination what is deleted here")
	f.Int64Var(&in.Bandwidth, "bandwidth", 0, "bytes per second to or from the remote (0: no limit)")
	f.IntVar(&in.Concurrency, "concurrency", 0, "blobs copied at once (0: the default, 4)")
	f.BoolVar(&disabled, "disabled", false, "add the policy disabled")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the replication policies",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []replicationPolicyOut
			if err := c.apiCall(cmd, server, "GET", "/replication/policies", nil, &ps); err != nil {
				return fmt.Errorf("replication list: %w", err)
			}
			var rows [][]string
			for _, p := range ps {
				var triggers []string
				if p.Schedule != "" {
					triggers = append(triggers, "cron "+p.Schedule)
				}
				if p.OnEvent {
					triggers = append(triggers, "event")
				}
				if p.Deletes {
					triggers = append(triggers, "deletes")
				}
				if len(triggers) == 0 {
					triggers = []string{"manual"}
				}
				rows = append(rows, []string{fmt.Sprint(p.ID), p.Name, p.Direction, p.URL, p.Repositories, orDash(p.Tags),
					orDash(p.Prefix), strings.Join(triggers, ","), yesNo(p.Enabled)})
			}
			c.table("ID\tNAME\tDIRECTION\tREMOTE\tREPOSITORIES\tTAGS\tPREFIX\tTRIGGERS\tENABLED", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm POLICY",
		Short: "Remove a replication policy (ID or name) and its history",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := c.policyID(cmd, server, args[0])
			if err == nil {
				err = c.apiCall(cmd, server, "DELETE", "/replication/policies/"+id, nil, nil)
			}
			if err != nil {
				return fmt.Errorf("replication rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed replication policy %s\n", args[0])
			return nil
		},
	}
	toggle := func(use, short string, enabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " POLICY",
			Short: short,
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := c.policyID(cmd, server, args[0])
				if err == nil {
					err = c.apiCall(cmd, server, "PATCH", "/replication/policies/"+id, map[string]any{"enabled": enabled}, nil)
				}
				if err != nil {
					return fmt.Errorf("replication %s: %w", use, err)
				}
				fmt.Fprintf(c.stdout, "Replication policy %s %sd\n", args[0], use)
				return nil
			},
		}
	}
	enable := toggle("enable", "Enable a replication policy (its schedule and event trigger)", true)
	disable := toggle("disable", "Disable a replication policy: no more runs (queued jobs still finish)", false)
	run := &cobra.Command{
		Use:   "run POLICY",
		Short: "Run a replication policy now over everything it covers",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := c.policyID(cmd, server, args[0])
			var out replicationRunOut
			if err == nil {
				err = c.apiCall(cmd, server, "POST", "/replication/policies/"+id+"/run", nil, &out)
			}
			if err != nil {
				return fmt.Errorf("replication run: %w", err)
			}
			fmt.Fprintf(c.stdout, "Run %d of policy %s queued (see berth replication jobs %d)\n", out.ID, args[0], out.ID)
			return nil
		},
	}
	var (
		policy string
		limit  int
	)
	runs := &cobra.Command{
		Use:   "runs [--policy POLICY]",
		Short: "Show the replication runs, newest first",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := fmt.Sprintf("/replication/runs?limit=%d", limit)
			if policy != "" {
				id, err := c.policyID(cmd, server, policy)
				if err != nil {
					return fmt.Errorf("replication runs: %w", err)
				}
				path += "&policy=" + id
			}
			var rs []replicationRunOut
			if err := c.apiCall(cmd, server, "GET", path, nil, &rs); err != nil {
				return fmt.Errorf("replication runs: %w", err)
			}
			var rows [][]string
			for _, r := range rs {
				took := "-"
				if r.FinishedAt != nil {
					took = fmt.Sprintf("%.1fs", r.Seconds)
				}
				rows = append(rows, []string{fmt.Sprint(r.ID), fmt.Sprint(r.Policy), r.Trigger, r.StartedAt.Local().Format(time.DateTime),
					r.State, fmt.Sprintf("%d/%d", r.Jobs-r.Pending, r.Jobs), fmt.Sprint(r.Failed), fmt.Sprint(r.Images), humanSize(r.Bytes), took})
			}
			c.table("RUN\tPOLICY\tTRIGGER\tSTARTED\tSTATE\tDONE\tFAILED\tIMAGES\tBYTES\tTOOK", rows)
			return nil
		},
	}
	runs.Flags().StringVar(&policy, "policy", "", "only this policy's runs (ID or name)")
	runs.Flags().IntVar(&limit, "limit", 50, "how many runs to show (at most 1000)")
	jobs := &cobra.Command{
		Use:   "jobs RUN",
		Short: "Show the jobs of a replication run: what was copied or deleted, attempts, errors",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return usageError{fmt.Errorf("replication jobs: run %q is not a number", args[0])}
			}
			var r replicationRunOut
			if err := c.apiCall(cmd, server, "GET", "/replication/runs/"+args[0], nil, &r); err != nil {
				return fmt.Errorf("replication jobs: %w", err)
			}
			fmt.Fprintf(c.stdout, "Run %d of policy %d (%s): %s, %d images, %s\n", r.ID, r.Policy, r.Trigger, r.State, r.Images, humanSize(r.Bytes))
			var rows [][]string
			for _, j := range r.JobList {
				what := j.Repository
				if j.Reference != "" {
					what += " " + j.Reference
				}
				result := j.Result
				if j.Error != "" {
					result = j.Error
					if j.NextAttemptAt != nil {
						result += " (next attempt " + j.NextAttemptAt.Local().Format(time.TimeOnly) + ")"
					}
				}
				rows = append(rows, []string{fmt.Sprint(j.ID), j.Action, orDash(strings.TrimSpace(what)), j.State,
					fmt.Sprint(j.Attempts), humanSize(j.Bytes), orDash(result)})
			}
			c.table("JOB\tACTION\tIMAGE\tSTATE\tATTEMPTS\tBYTES\tRESULT", rows)
			return nil
		},
	}
	subs := []*cobra.Command{add, list, rm, enable, disable, run, runs, jobs}
	for _, s := range subs {
		serverFlag(s, &server)
	}
	return group("replication", "Manage replication policies and see their runs and jobs (system admins)", subs...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
