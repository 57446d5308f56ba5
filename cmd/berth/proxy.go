package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// proxyJSON is what the API answers about a proxy project.
type proxyJSON struct {
	Project    string `json:"project"`
	URL        string `json:"url"`
	Username   string `json:"username"`
	Insecure   bool   `json:"insecure"`
	CACert     string `json:"ca_cert"`
	TTLSeconds int64  `json:"ttl_seconds"`
}

func (c *cli) proxyCmd() *cobra.Command {
	var (
		server, username, caFile string
		passwordStdin, insecure  bool
		public                   bool
		ttl                      time.Duration
	)
	add := &cobra.Command{
		Use:   "add PROJECT URL",
		Short: "Make a project a pull-through cache of an upstream registry (creating the project)",
		Long: "Make PROJECT a pull-through cache of the registry at URL (scheme://host[:port], e.g.\n" +
			"https://registry-1.docker.io): PROJECT/library/nginx is then library/nginx of the upstream,\n" +
			"fetched on first pull and served from berth afterwards. The project is created when it\n" +
			"does not exist (--public lets anyone pull through it). Running it again changes the\n" +
			"upstream. The password (--password-stdin) is kept encrypted when secrets.key is set.\n" +
			"System admins only.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			project, upstream := args[0], args[1]
			if u, err := url.Parse(upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return usageError{fmt.Errorf("proxy add: %q is not an upstream URL: want http(s)://host[:port], e.g. https://registry-1.docker.io", upstream)}
			}
			body := map[string]any{"url": upstream, "username": username, "insecure": insecure,
				"ttl_seconds": int64(ttl / time.Second)}
			if passwordStdin {
				pw, err := c.readSecret("password")
				if err != nil {
					return fmt.Errorf("proxy add: %w", err)
				}
				body["password"] = pw
			}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("proxy add: %w", err)
				}
				body["ca_cert"] = string(pem)
			}
			api, err := c.adminClient(cmd, server)
			if err != nil {
				return fmt.Errorf("proxy add: %w", err)
			}
			ctx := cmd.Context()
			if err := api.call(ctx, "GET", "/projects/"+url.PathEscape(project), nil, nil); err != nil {
				if !strings.HasPrefix(err.Error(), "not_found") {
					return fmt.Errorf("proxy add: %w", err)
				}
				if err := api.call(ctx, "POST", "/projects", map[string]any{"name": project, "public": public}, nil); err != nil {
					return fmt.Errorf("proxy add: creating project %s: %w", project, err)
				}
				fmt.Fprintf(c.stdout, "Created project %s\n", project)
			}
			var out proxyJSON
			if err := api.call(ctx, "PUT", "/projects/"+url.PathEscape(project)+"/proxy", body, &out); err != nil {
				return fmt.Errorf("proxy add: %w", err)
			}
			fmt.Fprintf(c.stdout, "Project %s is a pull-through cache of %s\n", out.Project, out.URL)
			return nil
		},
	}
	add.Flags().StringVar(&username, "username", "", "user name at the upstream")
	add.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the upstream password from standard input")
	add.Flags().BoolVar(&insecure, "insecure", false, "skip TLS certificate verification of the upstream")
	add.Flags().StringVar(&caFile, "ca-file", "", "PEM file of the CA the upstream's certificate must chain to")
	add.Flags().DurationVar(&ttl, "ttl", 0, "how long a cached tag is served before it is revalidated (0 = proxy.ttl)")
	add.Flags().BoolVar(&public, "public", false, "when the project is created: let anyone pull through it")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the proxy projects and their upstreams",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []proxyJSON
			if err := c.apiCall(cmd, server, "GET", "/proxies", nil, &ps); err != nil {
				return fmt.Errorf("proxy list: %w", err)
			}
			var rows [][]string
			for _, p := range ps {
				ttl := "default"
				if p.TTLSeconds > 0 {
					ttl = (time.Duration(p.TTLSeconds) * time.Second).String()
				}
				user := p.Username
				if user == "" {
					user = "-"
				}
				rows = append(rows, []string{p.Project, p.URL, user, strconv.FormatBool(p.Insecure), ttl})
			}
			c.table("PROJECT\tUPSTREAM\tUSER\tINSECURE\tTTL", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm PROJECT",
		Short: "Make a proxy project a plain project again (what it cached stays)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/projects/"+url.PathEscape(args[0])+"/proxy", nil, nil); err != nil {
				return fmt.Errorf("proxy rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Project %s is no longer a pull-through cache\n", args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{add, list, rm} {
		serverFlag(s, &server)
	}
	return group("proxy", "Manage pull-through cache projects", add, list, rm)
}
