package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// retentionCmd manages a project's retention rules and runs them.
func (c *cli) retentionCmd() *cobra.Command {
	var (
		server, repos, tags, pulledWithin, untaggedAfter string
		keepLast                                         int
		keep, dryRun                                     bool
	)
	add := &cobra.Command{
		Use:   "add PROJECT --repositories PATTERN [--tags PATTERN] (--keep-last N | --pulled-within AGE | --keep | --untagged-after AGE)",
		Short: "Add a retention rule: which version tags to keep, or when untagged manifests go",
		Long: "A repository that a keep rule (--keep-last, --pulled-within, --keep) matches keeps the version\n" +
			"tags one of its keep rules keeps, and loses the others (with their manifests, once untagged and\n" +
			"listed by no index). --untagged-after removes untagged manifests pushed, and not pulled, longer\n" +
			"ago than AGE. Tags of signatures, attestations and SBOMs (sha256-..., .sig, .att, .sbom) are no\n" +
			"versions: they are never counted nor removed, and go with their subject. Immutable tags stay.\n" +
			"Patterns follow docs/patterns.md (--tags defaults to **); ages read 30d, 2w or 720h.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if repos == "" {
				return usageError{errors.New("retention add: --repositories is required (a pattern, docs/patterns.md)")}
			}
			body := map[string]any{"repositories": repos, "tags": tags}
			n := 0
			if cmd.Flags().Changed("keep-last") {
				n++
				body["kind"], body["count"] = "keep-last", keepLast
			}
			if pulledWithin != "" {
				n++
				body["kind"], body["age"] = "keep-pulled-within", pulledWithin
			}
			if keep {
				n++
				body["kind"] = "keep-tags"
			}
			if untaggedAfter != "" {
				n++
				body["kind"], body["age"] = "untagged-after", untaggedAfter
			}
			if n != 1 {
				return usageError{errors.New("retention add: give exactly one of --keep-last, --pulled-within, --keep and --untagged-after")}
			}
			var out struct {
				ID           int64
				Description  string
				Repositories string
				Tags         string
			}
			if err := c.apiCall(cmd, server, "POST", "/projects/"+url.PathEscape(args[0])+"/retention-rules", body, &out); err != nil {
				return fmt.Errorf("retention add: %w", err)
			}
			fmt.Fprintf(c.stdout, "Rule %d: %s, tags %s in %s\n", out.ID, out.Description, out.Tags, out.Repositories)
			return nil
		},
	}
	add.Flags().StringVar(&repos, "repositories", "", "repository pattern, like team/** ")
	add.Flags().StringVar(&tags, "tags", "", "tag pattern, like v* (default **)")
	add.Flags().IntVar(&keepLast, "keep-last", 0, "keep the N most recently pushed matching tags")
	add.Flags().StringVar(&pulledWithin, "pulled-within", "", "keep matching tags pulled within AGE")
	add.Flags().BoolVar(&keep, "keep", false, "keep every matching tag")
	add.Flags().StringVar(&untaggedAfter, "untagged-after", "", "remove untagged manifests older than AGE and not pulled within it")
	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's retention rules",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rs []struct {
				ID                              int64
				Repositories, Tags, Description string
			}
			if err := c.apiCall(cmd, server, "GET", "/projects/"+url.PathEscape(args[0])+"/retention-rules", nil, &rs); err != nil {
				return fmt.Errorf("retention list: %w", err)
			}
			var rows [][]string
			for _, r := range rs {
				rows = append(rows, []string{fmt.Sprint(r.ID), r.Repositories, r.Tags, r.Description})
			}
			c.table("ID\tREPOSITORIES\tTAGS\tRULE", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm PROJECT ID",
		Short: "Remove a retention rule",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/projects/"+url.PathEscape(args[0])+"/retention-rules/"+url.PathEscape(args[1]), nil, nil); err != nil {
				return fmt.Errorf("retention rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed rule %s of %s\n", args[1], args[0])
			return nil
		},
	}
	run := &cobra.Command{
		Use:   "run [PROJECT] [--dry-run]",
		Short: "Apply retention rules now (one project's, or every project's), or list what would go",
		Long: "Apply the retention rules of PROJECT (its admins), or of every project (system admins), and\n" +
			"list what went: each manifest with the tags it lost, whether the manifest itself went, and its\n" +
			"size (the manifest, its config and layers). BYTES FREED is what leaves the projects: removed\n" +
			"manifests and the blobs no manifest left in the project references; garbage collection frees\n" +
			"it on disk. --dry-run lists exactly what a run would remove. One run at a time across a cluster.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/system/retention"
			if len(args) == 1 {
				path = "/projects/" + url.PathEscape(args[0]) + "/retention/run"
			}
			var rep retentionReport
			if err := c.apiCall(cmd, server, "POST", path, map[string]any{"dry_run": dryRun}, &rep); err != nil {
				return fmt.Errorf("retention run: %w", err)
			}
			c.printRetention(rep)
			return nil
		},
	}
	run.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed without removing it")
	for _, s := range []*cobra.Command{add, list, rm, run} {
		serverFlag(s, &server)
	}
	return group("retention", "Manage and run a project's retention rules", add, list, rm, run)
}

// retentionReport is the answer of a retention run.
type retentionReport struct {
	DryRun     bool  `json:"dry_run"`
	Tags       int   `json:"tags"`
	Manifests  int   `json:"manifests"`
	BytesFreed int64 `json:"bytes_freed"`
	Projects   []struct {
		Project  string `json:"project"`
		Removals []struct {
			Repository string   `json:"repository"`
			Digest     string   `json:"digest"`
			Tags       []string `json:"tags"`
			Manifest   bool     `json:"manifest"`
			Size       int64    `json:"size"`
		} `json:"removals"`
		Skipped []struct {
			Repository string `json:"repository"`
			Digest     string `json:"digest"`
			Tag        string `json:"tag"`
			Reason     string `json:"reason"`
		} `json:"skipped"`
	} `json:"projects"`
}

func (c *cli) printRetention(rep retentionReport) {
	var rows, skipped [][]string
	for _, p := range rep.Projects {
		for _, r := range p.Removals {
			tags := strings.Join(r.Tags, ",")
			if tags == "" {
				tags = "-"
			}
			rows = append(rows, []string{r.Repository, retentionDigest(r.Digest), tags, yesNo(r.Manifest), fmt.Sprint(r.Size)})
		}
		for _, s := range p.Skipped {
			what := s.Repository + ":" + s.Tag
			if s.Tag == "" {
				what = s.Repository + "@" + retentionDigest(s.Digest)
			}
			skipped = append(skipped, []string{what, s.Reason})
		}
	}
	c.table("REPOSITORY\tDIGEST\tTAGS\tMANIFEST\tSIZE", rows)
	if len(skipped) > 0 {
		fmt.Fprintln(c.stdout)
		c.table("KEPT\tWHY", skipped)
	}
	verb := "Removed"
	if rep.DryRun {
		verb = "Would remove"
	}
	fmt.Fprintf(c.stdout, "\n%s %d tags and %d manifests; bytes freed: %d\n", verb, rep.Tags, rep.Manifests, rep.BytesFreed)
}

// retentionDigest is a digest's algorithm and first 12 hex digits.
func retentionDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
