package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// readSecret reads a password from the first line of stdin.
func (c *cli) readSecret(what string) (string, error) {
	if c.stdin == nil {
		return "", fmt.Errorf("%s: nothing on standard input", what)
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil {
			return "", fmt.Errorf("%s: nothing on standard input", what)
		}
		return "", fmt.Errorf("%s: empty", what)
	}
	return line, nil
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s: a subcommand is required", use)}
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

func (c *cli) loginCmd() *cobra.Command {
	var user string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "login SERVER",
		Short: "Log in to a running berth for the administrative commands",
		Long: "Log in to a berth server (host:port, or an http:// or https:// URL; host:port means\n" +
			"plain HTTP on loopback and HTTPS elsewhere). The password comes from BERTH_PASSWORD or\n" +
			"standard input (--password-stdin). berth keeps the server and a refresh token, never\n" +
			"the password, in ~/.config/berth/login.json; the user, project and robot commands\n" +
			"then talk to that server.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server, err := serverURL(args[0])
			if err != nil {
				return usageError{err}
			}
			password := c.getenv("BERTH_PASSWORD")
			if stdin || password == "" {
				if password, err = c.readSecret("password"); err != nil {
					return fmt.Errorf("%w (pipe it in with --password-stdin, or set BERTH_PASSWORD)", err)
				}
			}
			t, err := postToken(cmd.Context(), httpClient(), server, url.Values{
				"grant_type": {"password"}, "username": {user}, "password": {password},
				"access_type": {"offline"}, "client_id": {"berth-cli"}, "service": {"berth"},
			})
			if err != nil {
				return fmt.Errorf("login failed: %w", err)
			}
			if t.RefreshToken == "" {
				return fmt.Errorf("login failed: %s returned no refresh token", server)
			}
			p, err := c.saveLogin(login{Server: server, User: user, RefreshToken: t.RefreshToken})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Logged in to %s as %s (kept in %s)\n", server, user, p)
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "admin", "user name")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

// apiCall makes one management API call for an administrative command
// (offline or through the server, see adminClient).
func (c *cli) apiCall(cmd *cobra.Command, server, method, path string, in, out any) error {
	api, err := c.adminClient(cmd, server)
	if err != nil {
		return err
	}
	return api.call(cmd.Context(), method, path, in, out)
}

// serverFlag adds --server, and --data and --config for working offline,
// to an administrative command.
func serverFlag(cmd *cobra.Command, server *string) *cobra.Command {
	cmd.Flags().StringVar(server, "server", "", "berth server (default: the one of the last `berth login`)")
	cmd.Flags().String("data", "", "work offline on this data directory, as a system admin (refused while a server holds it)")
	cmd.Flags().String("config", "", "work offline on the stores of this configuration file, as a system admin")
	return cmd
}

func (c *cli) table(header string, rows [][]string) {
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	_ = w.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *cli) userCmd() *cobra.Command {
	var server string
	var admin, stdin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user (the password is read from standard input, or generated and shown once)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, generated := "", false
			if stdin {
				var err error
				if password, err = c.readSecret("password"); err != nil {
					return err
				}
			} else {
				password, generated = newPassword(), true
			}
			if err := c.apiCall(cmd, server, "POST", "/users", map[string]any{"name": args[0], "password": password, "admin": admin}, nil); err != nil {
				return fmt.Errorf("user add %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Created user %s\n", args[0])
			if generated {
				fmt.Fprintf(c.stdout, "Password (shown once): %s\n", password)
			}
			return nil
		},
	}
	add.Flags().BoolVar(&admin, "admin", false, "make the user a system admin")
	add.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var us []struct {
				Name            string
				Admin, Disabled bool
				CreatedAt       time.Time `json:"created_at"`
			}
			if err := c.apiCall(cmd, server, "GET", "/users", nil, &us); err != nil {
				return fmt.Errorf("user list: %w", err)
			}
			var rows [][]string
			for _, u := range us {
				rows = append(rows, []string{u.Name, yesNo(u.Admin), yesNo(u.Disabled), u.CreatedAt.Format(time.DateTime)})
			}
			c.table("NAME\tADMIN\tDISABLED\tCREATED", rows)
			return nil
		},
	}
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (read from standard input)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, err := c.readSecret("password")
			if err != nil {
				return err
			}
			if err := c.apiCall(cmd, server, "PATCH", "/users/"+url.PathEscape(args[0]), map[string]any{"password": password}, nil); err != nil {
				return fmt.Errorf("user passwd %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Changed the password of %s\n", args[0])
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a user",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/users/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("user rm %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Deleted user %s\n", args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{add, list, passwd, rm} {
		serverFlag(s, &server)
	}
	return group("user", "Manage users on a running berth", add, list, passwd, rm)
}

func (c *cli) projectCmd() *cobra.Command {
	var server, role string
	var public, asGroup bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project (private unless --public)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "POST", "/projects", map[string]any{"name": args[0], "public": public}, nil); err != nil {
				return fmt.Errorf("project create %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Created project %s (%s)\n", args[0], map[bool]string{true: "public", false: "private"}[public])
			return nil
		},
	}
	create.Flags().BoolVar(&public, "public", false, "anyone may pull, even without logging in")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the projects you may see",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []struct {
				Name, Role string
				Public     bool
			}
			if err := c.apiCall(cmd, server, "GET", "/projects", nil, &ps); err != nil {
				return fmt.Errorf("project list: %w", err)
			}
			var rows [][]string
			for _, p := range ps {
				rows = append(rows, []string{p.Name, map[bool]string{true: "public", false: "private"}[p.Public], p.Role})
			}
			c.table("NAME\tVISIBILITY\tYOUR ROLE", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete an empty project",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/projects/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("project rm %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Deleted project %s\n", args[0])
			return nil
		},
	}
	kind := func() string {
		if asGroup {
			return "group"
		}
		return "user"
	}
	memberAdd := &cobra.Command{
		Use:   "add PROJECT NAME --role ROLE",
		Short: "Give a user (or --group) a role in a project: admin, maintainer, developer, guest, limited-guest",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return usageError{errors.New("member add: --role is required")}
			}
			path := "/projects/" + url.PathEscape(args[0]) + "/members/" + kind() + "/" + url.PathEscape(args[1])
			if err := c.apiCall(cmd, server, "PUT", path, map[string]any{"role": role}, nil); err != nil {
				return fmt.Errorf("member add: %w", err)
			}
			fmt.Fprintf(c.stdout, "%s %s is %s of %s\n", kind(), args[1], role, args[0])
			return nil
		},
	}
	memberAdd.Flags().StringVar(&role, "role", "", "admin, maintainer, developer, guest or limited-guest")
	memberRm := &cobra.Command{
		Use:   "rm PROJECT NAME",
		Short: "Take a user (or --group) out of a project",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/projects/" + url.PathEscape(args[0]) + "/members/" + kind() + "/" + url.PathEscape(args[1])
			if err := c.apiCall(cmd, server, "DELETE", path, nil, nil); err != nil {
				return fmt.Errorf("member rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed %s %s from %s\n", kind(), args[1], args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{memberAdd, memberRm} {
		s.Flags().BoolVar(&asGroup, "group", false, "NAME is a directory group")
	}
	for _, s := range []*cobra.Command{create, list, rm, memberAdd, memberRm} {
		serverFlag(s, &server)
	}
	return group("project", "Manage projects and their members on a running berth", create, list, rm,
		group("member", "Manage the members of a project", memberAdd, memberRm))
}

// robotPath splits "project/name" (a project robot) or "name" (a system
// robot) into its API path.
func robotPath(arg string) (base, name string) {
	if p, n, ok := strings.Cut(arg, "/"); ok {
		return "/projects/" + url.PathEscape(p) + "/robots", n
	}
	return "/robots", arg
}

func (c *cli) robotCmd() *cobra.Command {
	var server, description string
	var perms []string
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create [PROJECT/]NAME --permission PATTERN:ACTIONS ...",
		Short: "Create a robot account; its secret is shown once",
		Long: "Create a robot account: PROJECT/NAME makes robot$PROJECT+NAME, confined to the\n" +
			"project's repositories; NAME alone a system robot robot$NAME (system admins only).\n" +
			"Each --permission is a repository pattern (docs/patterns.md) and actions, e.g.\n" +
			"--permission 'team/**:pull,push'.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, name := robotPath(args[0])
			var ps []map[string]any
			for _, p := range perms {
				pat, acts, ok := strings.Cut(p, ":")
				if !ok || pat == "" || acts == "" {
					return usageError{fmt.Errorf("robot create: --permission %q: want PATTERN:ACTIONS, like 'team/**:pull,push'", p)}
				}
				ps = append(ps, map[string]any{"repositories": pat, "actions": strings.Split(acts, ",")})
			}
			if len(ps) == 0 {
				return usageError{errors.New("robot create: at least one --permission is required")}
			}
			in := map[string]any{"name": name, "description": description, "permissions": ps}
			if expires > 0 {
				in["expires_at"] = time.Now().Add(expires).UTC().Format(time.RFC3339)
			}
			var out struct{ Name, Secret string }
			if err := c.apiCall(cmd, server, "POST", base, in, &out); err != nil {
				return fmt.Errorf("robot create %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Created robot %s\nSecret (shown once): %s\n", out.Name, out.Secret)
			return nil
		},
	}
	create.Flags().StringArrayVar(&perms, "permission", nil, "PATTERN:ACTIONS, repeatable")
	create.Flags().StringVar(&description, "description", "", "what the robot is for")
	create.Flags().DurationVar(&expires, "expires", 0, "lifetime, like 720h (0 = never expires)")
	list := &cobra.Command{
		Use:   "list [PROJECT]",
		Short: "List the robots of a project, or the system robots",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base := "/robots"
			if len(args) == 1 {
				base = "/projects/" + url.PathEscape(args[0]) + "/robots"
			}
			var rs []struct {
				Name, Description string
				Disabled          bool
				ExpiresAt         *time.Time `json:"expires_at"`
				Permissions       []struct {
					Repositories string
					Actions      []string
				}
			}
			if err := c.apiCall(cmd, server, "GET", base, nil, &rs); err != nil {
				return fmt.Errorf("robot list: %w", err)
			}
			var rows [][]string
			for _, r := range rs {
				var ps []string
				for _, p := range r.Permissions {
					ps = append(ps, p.Repositories+":"+strings.Join(p.Actions, ","))
				}
				exp := "never"
				if r.ExpiresAt != nil {
					exp = r.ExpiresAt.Format(time.DateTime)
				}
				rows = append(rows, []string{r.Name, strings.Join(ps, " "), exp, yesNo(r.Disabled), r.Description})
			}
			c.table("NAME\tPERMISSIONS\tEXPIRES\tDISABLED\tDESCRIPTION", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm [PROJECT/]NAME",
		Short: "Delete a robot account",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, name := robotPath(args[0])
			if err := c.apiCall(cmd, server, "DELETE", base+"/"+url.PathEscape(name), nil, nil); err != nil {
				return fmt.Errorf("robot rm %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Deleted robot %s\n", args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{create, list, rm} {
		serverFlag(s, &server)
	}
	return group("robot", "Manage robot accounts on a running berth", create, list, rm)
}

func (c *cli) repoCmd() *cobra.Command {
	var server string
	list := &cobra.Command{
		Use:   "list [PROJECT]",
		Short: "List the repositories you may see (of one project)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"n": {"1000"}}
			if len(args) == 1 {
				q.Set("project", args[0])
			}
			var rows [][]string
			for {
				var page struct {
					Repositories []struct{ Name, Project string }
					Next         string
				}
				if err := c.apiCall(cmd, server, "GET", "/repositories?"+q.Encode(), nil, &page); err != nil {
					return fmt.Errorf("repo list: %w", err)
				}
				for _, r := range page.Repositories {
					rows = append(rows, []string{r.Name, r.Project})
				}
				if page.Next == "" {
					break
				}
				q.Set("last", page.Next)
			}
			c.table("NAME\tPROJECT", rows)
			return nil
		},
	}
	artifacts := &cobra.Command{
		Use:   "artifacts NAME",
		Short: "List a repository's manifests: tags, size, platforms, pusher, pulls",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var as []struct {
				Digest    string
				Tags      []string
				Size      int64
				Platforms []struct{ OS, Architecture, Variant string }
				PushedAt  time.Time `json:"pushed_at"`
				Pusher    string
				Pulls     int
			}
			if err := c.apiCall(cmd, server, "GET", "/artifacts?"+url.Values{"repository": {args[0]}}.Encode(), nil, &as); err != nil {
				return fmt.Errorf("repo artifacts %s: %w", args[0], err)
			}
			var rows [][]string
			for _, a := range as {
				var ps []string
				for _, p := range a.Platforms {
					ps = append(ps, strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/"))
				}
				short := a.Digest
				if len(short) > 19 {
					short = short[:19]
				}
				rows = append(rows, []string{short, strings.Join(a.Tags, ","), fmt.Sprint(a.Size), strings.Join(ps, ","),
					a.PushedAt.Format(time.DateTime), a.Pusher, fmt.Sprint(a.Pulls)})
			}
			c.table("DIGEST\tTAGS\tSIZE\tPLATFORMS\tPUSHED\tPUSHER\tPULLS", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a repository: its manifests, tags and blob links",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/repositories/"+args[0], nil, nil); err != nil {
				return fmt.Errorf("repo rm %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Deleted repository %s\n", args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{list, artifacts, rm} {
		serverFlag(s, &server)
	}
	return group("repo", "List and delete repositories on a running berth", list, artifacts, rm)
}

func (c *cli) tokenCmd() *cobra.Command {
	var server string
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Make a new token signing key (old tokens stay valid until they expire)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.apiCall(cmd, server, "POST", "/system/signing-keys/rotate", nil, nil); err != nil {
				return fmt.Errorf("token rotate-key: %w", err)
			}
			fmt.Fprintln(c.stdout, "Rotated the token signing key; the previous keys verify until the tokens they signed expire")
			return nil
		},
	}
	serverFlag(rotate, &server)
	return group("token", "Manage berth's token service", rotate)
}

func (c *cli) immutableCmd() *cobra.Command {
	var server, repos, tags string
	add := &cobra.Command{
		Use:   "add PROJECT --repositories PATTERN --tags PATTERN",
		Short: "Make matching tags immutable: they can be set once, never moved or deleted",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repos == "" || tags == "" {
				return usageError{errors.New("immutable add: --repositories and --tags are required (patterns, docs/patterns.md)")}
			}
			var out struct{ ID int64 }
			if err := c.apiCall(cmd, server, "POST", "/projects/"+url.PathEscape(args[0])+"/immutable-rules",
				map[string]any{"repositories": repos, "tags": tags}, &out); err != nil {
				return fmt.Errorf("immutable add: %w", err)
			}
			fmt.Fprintf(c.stdout, "Rule %d: tags %s in %s are immutable\n", out.ID, tags, repos)
			return nil
		},
	}
	add.Flags().StringVar(&repos, "repositories", "", "repository pattern, like team/** ")
	add.Flags().StringVar(&tags, "tags", "", "tag pattern, like v*")
	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's immutable tag rules",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rs []struct {
				ID                 int64
				Repositories, Tags string
			}
			if err := c.apiCall(cmd, server, "GET", "/projects/"+url.PathEscape(args[0])+"/immutable-rules", nil, &rs); err != nil {
				return fmt.Errorf("immutable list: %w", err)
			}
			var rows [][]string
			for _, r := range rs {
				rows = append(rows, []string{fmt.Sprint(r.ID), r.Repositories, r.Tags})
			}
			c.table("ID\tREPOSITORIES\tTAGS", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm PROJECT ID",
		Short: "Remove an immutable tag rule",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/projects/"+url.PathEscape(args[0])+"/immutable-rules/"+url.PathEscape(args[1]), nil, nil); err != nil {
				return fmt.Errorf("immutable rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed rule %s of %s\n", args[1], args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{add, list, rm} {
		serverFlag(s, &server)
	}
	return group("immutable", "Manage a project's immutable tag rules", add, list, rm)
}

func (c *cli) verifyCmd() *cobra.Command {
	var server string
	var dryRun bool
	var rate int64
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every stored blob, quarantine the corrupt ones, list missing and orphaned blobs",
		Long: "Re-hash every stored blob against its digest. A corrupt blob is quarantined: it is no longer\n" +
			"served (nor a manifest that needs it) until it is pushed again, which replaces the bytes.\n" +
			"Blobs linked in the index but missing from storage, and stored blobs linked nowhere (for\n" +
			"garbage collection), are listed. Exit status 1 when anything is corrupt or missing.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep struct {
				Blobs   int
				Bytes   int64
				Corrupt []string
				Missing []struct{ Repository, Digest string }
				Orphans []string
				Seconds float64
			}
			if err := c.apiCall(cmd, server, "POST", "/system/verify", map[string]any{"dry_run": dryRun, "rate": rate}, &rep); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			fmt.Fprintf(c.stdout, "Verified %d blobs (%d bytes) in %.1fs\n", rep.Blobs, rep.Bytes, rep.Seconds)
			verb := "quarantined"
			if dryRun {
				verb = "would be quarantined"
			}
			for _, d := range rep.Corrupt {
				fmt.Fprintf(c.stdout, "corrupt (%s): %s\n", verb, d)
			}
			for _, m := range rep.Missing {
				fmt.Fprintf(c.stdout, "missing from storage: %s in %s\n", m.Digest, m.Repository)
			}
			for _, d := range rep.Orphans {
				fmt.Fprintf(c.stdout, "orphan (linked nowhere): %s\n", d)
			}
			if len(rep.Corrupt) > 0 || len(rep.Missing) > 0 {
				return fmt.Errorf("verify: %d corrupt, %d missing", len(rep.Corrupt), len(rep.Missing))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report without quarantining")
	cmd.Flags().Int64Var(&rate, "rate", 0, "bytes a second to read at most (0 = no limit)")
	return serverFlag(cmd, &server)
}

func (c *cli) gcCmd() *cobra.Command {
	var server string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Collect garbage now, while berth serves: unreferenced manifests, blob links and blobs",
		Long: "Remove signature tags (sha256-<hex>.sig, …) whose subject is gone, untagged manifests that no\n" +
			"kept index lists and no kept subject owns, blob links no manifest references, and stored blobs\n" +
			"linked nowhere, all older than gc.grace. One run at a time across a cluster (409 while another\n" +
			"runs). --dry-run counts the first round only.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep struct {
				Tags, Manifests, Links, Blobs int
				Bytes                         int64
				Seconds                       float64
			}
			if err := c.apiCall(cmd, server, "POST", "/system/gc", map[string]any{"dry_run": dryRun}, &rep); err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			verb := "Removed"
			if dryRun {
				verb = "Would remove"
			}
			fmt.Fprintf(c.stdout, "%s %d orphaned signature tags, %d manifests, %d blob links and %d blobs (%d bytes) in %.1fs\n",
				verb, rep.Tags, rep.Manifests, rep.Links, rep.Blobs, rep.Bytes, rep.Seconds)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count without removing")
	return serverFlag(cmd, &server)
}
