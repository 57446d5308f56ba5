package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// importJSON is the API's answer to an import of advisories.
type importJSON struct {
	Records    int      `json:"records"`
	Changed    int      `json:"changed"`
	Skipped    int      `json:"skipped"`
	Generation int64    `json:"generation"`
	Errors     []string `json:"errors"`
}

// vulnDBJSON is the vulnerability database's state.
type vulnDBJSON struct {
	Generation int64     `json:"generation"`
	ImportedAt time.Time `json:"imported_at"`
	Records    int64     `json:"records"`
	Source     string    `json:"source"`
}

// scanStatusJSON is a scan as the API shows it (the JSON output keeps
// every field the server sent: see scanAnswer).
type scanStatusJSON struct {
	Repository   string `json:"repository"`
	Digest       string `json:"digest"`
	State        string `json:"state"`
	Queued       *bool  `json:"queued"`
	Error        string `json:"error"`
	DBGeneration int64  `json:"db_generation"`
	Summary      struct {
		Critical, High, Medium, Low, Unknown, Packages int
	} `json:"summary"`
	Report *struct {
		Artifact string `json:"artifact"`
		Findings []struct {
			ID           string `json:"id"`
			Severity     string `json:"severity"`
			Package      string `json:"package"`
			Version      string `json:"version"`
			FixedVersion string `json:"fixed_version"`
		} `json:"findings"`
		Warnings []string `json:"warnings"`
	} `json:"report"`
}

// scanAnswer is a scan with the server's JSON as it came.
type scanAnswer struct {
	scanStatusJSON
	raw json.RawMessage
}

func (s *scanAnswer) UnmarshalJSON(b []byte) error {
	s.raw = append(s.raw[:0], b...)
	return json.Unmarshal(b, &s.scanStatusJSON)
}

// scanPolicyJSON is a project's vulnerability pull policy.
type scanPolicyJSON struct {
	Project     string    `json:"project"`
	Block       string    `json:"block"`
	Allow       []string  `json:"allow"`
	RequireScan bool      `json:"require_scan"`
	ScanOnPush  bool      `json:"scan_on_push"`
	Scanner     string    `json:"scanner"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Scan states the CLI waits for.
const (
	scanDone   = "done"
	scanFailed = "failed"
)

func (c *cli) vulndbCmd() *cobra.Command {
	var server, source string
	imp := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV advisories: record files, OSV's per-ecosystem zips, or directories of records",
		Long: "Import vulnerability advisories in the OSV format. Each PATH is a .json record (or a JSON\n" +
			"array of records), a .zip of records as OSV publishes them per ecosystem\n" +
			"(https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip, e.g. Debian,\n" +
			"Alpine, Go, npm, PyPI), or a directory, whose *.json files are uploaded as one zip.\n" +
			"Advisories new or newer than the stored ones replace them; stored scans are matched\n" +
			"again. System admins only.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.adminClient(cmd, server)
			if err != nil {
				return err
			}
			// An upload may take longer than a JSON call may.
			up := &apiClient{server: api.server, hc: &http.Client{Transport: api.hc.Transport}, bearer: api.bearer}
			for _, p := range args {
				if err := c.importPath(cmd.Context(), up, p, source); err != nil {
					return fmt.Errorf("vulndb import %s: %w", p, err)
				}
			}
			return nil
		},
	}
	imp.Flags().StringVar(&source, "source", "", "name of the import in the database's state (default: the file or directory name)")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the vulnerability database's generation, last import and size",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st vulnDBJSON
			if err := c.apiCall(cmd, server, "GET", "/vulndb", nil, &st); err != nil {
				return fmt.Errorf("vulndb status: %w", err)
			}
			if st.Generation == 0 {
				fmt.Fprintln(c.stdout, "Database generation 0: no advisories imported yet (berth vulndb import PATH)")
				return nil
			}
			fmt.Fprintf(c.stdout, "Database generation %d: %d advisories; last import %s from %s\n", st.Generation, st.Records,
				st.ImportedAt.Local().Format(time.DateTime), orNone(st.Source))
			return nil
		},
	}
	for _, s := range []*cobra.Command{imp, status} {
		serverFlag(s, &server)
	}
	return group("vulndb", "Import and inspect the vulnerability database (OSV advisories)", imp, status)
}

func orNone(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

// importPath uploads one file, or a directory's *.json files zipped.
func (c *cli) importPath(ctx context.Context, api *apiClient, path, source string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if source == "" {
		source = filepath.Base(filepath.Clean(path))
	}
	upload, contentType := path, "application/json"
	switch {
	case fi.IsDir():
		tmp, n, err := zipRecords(path)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		if n == 0 {
			return fmt.Errorf("no *.json file under %s", path)
		}
		upload, contentType = tmp, "application/zip"
	case strings.EqualFold(filepath.Ext(path), ".zip"):
		contentType = "application/zip"
	}
	f, err := os.Open(upload)
	if err != nil {
		return err
	}
	defer f.Close()
	var res importJSON
	if err := api.do(ctx, "POST", "/vulndb?source="+url.QueryEscape(source), contentType, f, &res); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Imported %d advisories from %s (%d new or changed, %d skipped); database generation %d\n",
		res.Records, path, res.Changed, res.Skipped, res.Generation)
	for _, e := range res.Errors {
		fmt.Fprintf(c.stdout, "  skipped %s\n", e)
	}
	if res.Records > 0 && res.Skipped == res.Records {
		return errors.New("no advisory in it could be read (want OSV records)")
	}
	return nil
}

// zipRecords zips every *.json file under dir into a temporary file and
// returns its name and how many files it holds.
func zipRecords(dir string) (string, int, error) {
	f, err := os.CreateTemp("", "berth-vulndb-*.zip")
	if err != nil {
		return "", 0, err
	}
	n := 0
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".json") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		n++
		_, err = io.Copy(w, src)
		return err
	})
	err = errors.Join(err, zw.Close(), f.Close())
	if err != nil {
		os.Remove(f.Name())
		return "", 0, err
	}
	return f.Name(), n, nil
}

func (c *cli) scanCmd() *cobra.Command {
	var (
		server string
		wait   time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "scan REPOSITORY:TAG|REPOSITORY@DIGEST",
		Short: "Scan an image for known vulnerabilities",
		Long: "Queue a vulnerability scan of an image (who may push to its repository may). With --wait,\n" +
			"wait for it to finish and show what it found: the count of findings by severity and\n" +
			"a table of them; the exit status is 1 when the scan failed. `berth scan report` shows the\n" +
			"last finished scan without queueing one.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ref, ok := splitRef(args[0])
			if !ok {
				return usageError{fmt.Errorf("scan: %q: want REPOSITORY:TAG or REPOSITORY@DIGEST", args[0])}
			}
			api, err := c.adminClient(cmd, server)
			if err != nil {
				return err
			}
			var st scanAnswer
			if err := api.call(cmd.Context(), "POST", "/scans", map[string]string{"repository": repo, "reference": ref}, &st); err != nil {
				return fmt.Errorf("scan %s: %w", args[0], err)
			}
			if wait <= 0 {
				if asJSON {
					return c.printRaw(st.raw)
				}
				if st.Queued != nil && !*st.Queued {
					fmt.Fprintf(c.stdout, "A scan of %s@%s is already %s\n", st.Repository, st.Digest, st.State)
				} else {
					fmt.Fprintf(c.stdout, "Queued a scan of %s@%s\n", st.Repository, st.Digest)
				}
				return nil
			}
			q := "/scans?" + url.Values{"repository": {st.Repository}, "reference": {st.Digest}}.Encode()
			deadline := time.Now().Add(wait)
			for st.State != scanDone && st.State != scanFailed {
				if time.Now().After(deadline) {
					return fmt.Errorf("scan %s: still %s after %s", args[0], st.State, wait)
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(time.Second):
				}
				st = scanAnswer{}
				if err := api.call(cmd.Context(), "GET", q, nil, &st); err != nil {
					return fmt.Errorf("scan %s: %w", args[0], err)
				}
			}
			return c.showScan("scan "+args[0], st, asJSON)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait this long for the scan to finish, e.g. 2m (0: queue it and return)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the scan as JSON")
	report := &cobra.Command{
		Use:   "report REPOSITORY:TAG|REPOSITORY@DIGEST",
		Short: "Show the last finished vulnerability scan of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ref, ok := splitRef(args[0])
			if !ok {
				return usageError{fmt.Errorf("scan report: %q: want REPOSITORY:TAG or REPOSITORY@DIGEST", args[0])}
			}
			var st scanAnswer
			q := "/scans?" + url.Values{"repository": {repo}, "reference": {ref}}.Encode()
			if err := c.apiCall(cmd, server, "GET", q, nil, &st); err != nil {
				return fmt.Errorf("scan report %s: %w", args[0], err)
			}
			if st.Report == nil && st.State != scanFailed && !asJSON {
				return fmt.Errorf("scan report %s: %s@%s: the scan is %s; no scan of it finished yet (berth scan --wait 2m %s)",
					args[0], st.Repository, st.Digest, st.State, args[0])
			}
			return c.showScan("scan report "+args[0], st, asJSON)
		},
	}
	report.Flags().BoolVar(&asJSON, "json", false, "print the scan as JSON")
	for _, s := range []*cobra.Command{cmd, report} {
		serverFlag(s, &server)
	}
	cmd.AddCommand(report)
	return cmd
}

// printRaw prints the server's JSON, indented.
func (c *cli) printRaw(raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", b)
	return err
}

// showScan prints a scan: its summary and findings, or its JSON; an error
// when it failed.
func (c *cli) showScan(what string, st scanAnswer, asJSON bool) error {
	failed := st.State == scanFailed
	switch {
	case asJSON:
		if err := c.printRaw(st.raw); err != nil {
			return err
		}
	case failed && st.Report == nil:
	default:
		s := st.Summary
		fmt.Fprintf(c.stdout, "%s@%s: %d packages; %d critical, %d high, %d medium, %d low, %d unknown (database generation %d)\n",
			st.Repository, st.Digest, s.Packages, s.Critical, s.High, s.Medium, s.Low, s.Unknown, st.DBGeneration)
		if st.State != scanDone && !failed {
			fmt.Fprintf(c.stdout, "(the last finished scan; a new one is %s)\n", st.State)
		}
		switch st.Report.Artifact {
		case "index":
			fmt.Fprintln(c.stdout, "(an index: its platform manifests are scanned on their own)")
		case "artifact":
			fmt.Fprintln(c.stdout, "(not an image: nothing to catalogue)")
		}
		for _, w := range st.Report.Warnings {
			fmt.Fprintf(c.stdout, "warning: %s\n", w)
		}
		if len(st.Report.Findings) > 0 {
			var rows [][]string
			for _, f := range st.Report.Findings {
				rows = append(rows, []string{f.Severity, f.ID, f.Package, f.Version, orDash(f.FixedVersion)})
			}
			c.table("SEVERITY\tID\tPACKAGE\tVERSION\tFIXED-IN", rows)
		}
	}
	if failed {
		return fmt.Errorf("%s: the scan of %s@%s failed: %s", what, st.Repository, st.Digest, st.Error)
	}
	return nil
}

func (c *cli) scanPolicyCmd() *cobra.Command {
	var (
		server, block, scanner  string
		allow                   []string
		requireScan, scanOnPush bool
	)
	set := &cobra.Command{
		Use:   "set PROJECT",
		Short: "Set a project's vulnerability pull policy (replacing the one it has)",
		Long: "Refuse pulls from PROJECT of images with a finding of severity --block (critical, high,\n" +
			"medium or low) or worse, except the vulnerabilities --allow names (CVE or GHSA IDs, or\n" +
			"their aliases); with --require-scan, also of images without a finished scan (a pull of\n" +
			"one queues its scan). --scan-on-push scans every image pushed to PROJECT. Who may push\n" +
			"to a repository may still pull from it. The project's admins may.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"block": block, "allow": allow, "require_scan": requireScan, "scan_on_push": scanOnPush, "scanner": scanner}
			var p scanPolicyJSON
			if err := c.apiCall(cmd, server, "PUT", "/projects/"+url.PathEscape(args[0])+"/scan-policy", body, &p); err != nil {
				return fmt.Errorf("scan-policy set %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Set the scan policy of project %s\n", p.Project)
			c.showScanPolicy(p)
			return nil
		},
	}
	set.Flags().StringVar(&block, "block", "", "refuse pulls of images with findings of this severity or worse: critical, high, medium or low")
	set.Flags().StringArrayVar(&allow, "allow", nil, "a vulnerability ID that never blocks (CVE-…, GHSA-…); repeat for several")
	set.Flags().BoolVar(&requireScan, "require-scan", false, "refuse pulls of images without a finished scan")
	set.Flags().BoolVar(&scanOnPush, "scan-on-push", false, "scan every image pushed to the project")
	set.Flags().StringVar(&scanner, "scanner", "", "the external scanner of the project (see berth scanner; \"berth\" = berth's own; empty = the default one)")
	show := &cobra.Command{
		Use:   "show PROJECT",
		Short: "Show a project's vulnerability pull policy",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p scanPolicyJSON
			if err := c.apiCall(cmd, server, "GET", "/projects/"+url.PathEscape(args[0])+"/scan-policy", nil, &p); err != nil {
				return fmt.Errorf("scan-policy show %s: %w", args[0], err)
			}
			c.showScanPolicy(p)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm PROJECT",
		Short: "Remove a project's vulnerability pull policy",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/projects/"+url.PathEscape(args[0])+"/scan-policy", nil, nil); err != nil {
				return fmt.Errorf("scan-policy rm %s: %w", args[0], err)
			}
			fmt.Fprintf(c.stdout, "Removed the scan policy of project %s\n", args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{set, show, rm} {
		serverFlag(s, &server)
	}
	return group("scan-policy", "Refuse pulls of vulnerable or unscanned images, per project", set, show, rm)
}

func (c *cli) showScanPolicy(p scanPolicyJSON) {
	block := "nothing (no severity blocks)"
	if p.Block != "" {
		block = p.Block + " or worse"
	}
	allow := orDash(strings.Join(p.Allow, ", "))
	c.table("PROJECT\tBLOCKS\tALLOWED\tREQUIRE-SCAN\tSCAN-ON-PUSH\tSCANNER",
		[][]string{{p.Project, block, allow, yesNo(p.RequireScan), yesNo(p.ScanOnPush), orDash(p.Scanner)}})
}
