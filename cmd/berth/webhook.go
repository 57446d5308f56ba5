package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// webhookPath is the API path of the endpoints of project ("" = global).
func webhookPath(project string) string {
	if project == "" {
		return "/webhooks"
	}
	return "/projects/" + url.PathEscape(project) + "/webhooks"
}

func (c *cli) webhookCmd() *cobra.Command {
	var server, project, hookURL, events, format, secretFile string
	add := &cobra.Command{
		Use:   "add --url URL --events push,delete --secret-file FILE [--project P] [--format registry|cloudevents]",
		Short: "Add a webhook endpoint: a project's (--project) or a global one",
		Long: "Add a webhook endpoint. It receives the events committed from now on, in order, each request\n" +
			"signed with X-Berth-Signature: sha256=<HMAC-SHA256 of the body keyed with the secret>.\n" +
			"Event types: push, pull, delete, tag_create, tag_delete, quota_warning, or all. Formats: registry (the registry:2\n" +
			"notification envelope, the default) or cloudevents (CloudEvents 1.0 JSON).\n" +
			"The secret is read from --secret-file (- for stdin) and never shown again.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hookURL == "" || events == "" || secretFile == "" {
				return usageError{errors.New("webhook add: --url, --events and --secret-file are required")}
			}
			var (
				secret []byte
				err    error
			)
			if secretFile == "-" {
				secret, err = io.ReadAll(io.LimitReader(c.stdin, 64<<10))
			} else {
				secret, err = os.ReadFile(secretFile)
			}
			if err != nil {
				return fmt.Errorf("webhook add: secret: %w", err)
			}
			in := map[string]any{"url": hookURL, "secret": strings.TrimRight(string(secret), "\r\n"),
				"events": strings.Split(events, ","), "format": format}
			var out struct{ ID int64 }
			if err := c.apiCall(cmd, server, "POST", webhookPath(project), in, &out); err != nil {
				return fmt.Errorf("webhook add: %w", err)
			}
			fmt.Fprintf(c.stdout, "Webhook %d: %s gets %s (%s)\n", out.ID, hookURL, events, format)
			return nil
		},
	}
	add.Flags().StringVar(&hookURL, "url", "", "where to POST the events")
	add.Flags().StringVar(&events, "events", "", "event types, comma-separated: push, pull, delete, tag_create, tag_delete, quota_warning, all")
	add.Flags().StringVar(&format, "format", "registry", "payload format: registry or cloudevents")
	add.Flags().StringVar(&secretFile, "secret-file", "", "file holding the signing secret (- for stdin)")
	list := &cobra.Command{
		Use:   "list [--project P]",
		Short: "List the global webhook endpoints, or a project's",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ws []struct {
				ID          int64
				URL, Format string
				Events      []string
				Enabled     bool
				Cursor      int64
			}
			if err := c.apiCall(cmd, server, "GET", webhookPath(project), nil, &ws); err != nil {
				return fmt.Errorf("webhook list: %w", err)
			}
			var rows [][]string
			for _, w := range ws {
				rows = append(rows, []string{fmt.Sprint(w.ID), w.URL, strings.Join(w.Events, ","), w.Format, yesNo(w.Enabled), fmt.Sprint(w.Cursor)})
			}
			c.table("ID\tURL\tEVENTS\tFORMAT\tENABLED\tCURSOR", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm ID [--project P]",
		Short: "Remove a webhook endpoint and its delivery log",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", webhookPath(project)+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("webhook rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed webhook %s\n", args[0])
			return nil
		},
	}
	toggle := func(use, short string, enabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ID [--project P]",
			Short: short,
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := c.apiCall(cmd, server, "PATCH", webhookPath(project)+"/"+url.PathEscape(args[0]), map[string]any{"enabled": enabled}, nil); err != nil {
					return fmt.Errorf("webhook %s: %w", use, err)
				}
				fmt.Fprintf(c.stdout, "Webhook %s %sd\n", args[0], use)
				return nil
			},
		}
	}
	enable := toggle("enable", "Enable a webhook endpoint: it delivers what it missed while disabled", true)
	disable := toggle("disable", "Disable a webhook endpoint (it keeps its place in the event log)", false)
	var limit int
	deliveries := &cobra.Command{
		Use:   "deliveries ID [--project P]",
		Short: "Show a webhook endpoint's delivery attempts, newest first",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ds []struct {
				FirstEvent int64 `json:"first_event"`
				LastEvent  int64 `json:"last_event"`
				Events     int
				Attempt    int
				At         time.Time
				Status     int
				Error      string
				Seconds    float64
			}
			path := fmt.Sprintf("%s/%s/deliveries?limit=%d", webhookPath(project), url.PathEscape(args[0]), limit)
			if err := c.apiCall(cmd, server, "GET", path, nil, &ds); err != nil {
				return fmt.Errorf("webhook deliveries: %w", err)
			}
			var rows [][]string
			for _, d := range ds {
				result := "ok"
				if d.Error != "" {
					result = d.Error
				}
				rows = append(rows, []string{d.At.Local().Format(time.DateTime), fmt.Sprintf("%d-%d", d.FirstEvent, d.LastEvent),
					fmt.Sprint(d.Events), fmt.Sprint(d.Attempt), fmt.Sprint(d.Status), fmt.Sprintf("%.3fs", d.Seconds), result})
			}
			c.table("AT\tEVENT IDS\tEVENTS\tATTEMPT\tSTATUS\tTOOK\tRESULT", rows)
			return nil
		},
	}
	deliveries.Flags().IntVar(&limit, "limit", 50, "how many attempts to show (at most 1000)")
	subs := []*cobra.Command{add, list, rm, enable, disable, deliveries}
	for _, s := range subs {
		serverFlag(s, &server)
		s.Flags().StringVar(&project, "project", "", "the project's endpoints (default: the global ones, system admins)")
	}
	return group("webhook", "Manage webhook endpoints (event notifications)", subs...)
}
