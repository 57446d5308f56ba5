package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/registry"
)

// quotaJSON is what the API answers about a project's quota.
type quotaJSON struct {
	Project    string `json:"project"`
	QuotaBytes int64  `json:"quota_bytes"`
	UsedBytes  int64  `json:"used_bytes"`
}

// parseQuota reads a quota: bytes or an integer with a unit (500MiB, 10GiB,
// 1TB), or none / unlimited / 0 for no quota.
func parseQuota(s string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "unlimited":
		return 0, nil
	}
	n, err := config.ParseSize(s)
	if err != nil {
		return 0, usageError{fmt.Errorf("quota set: %w, or none", err)}
	}
	if n < 0 {
		return 0, usageError{fmt.Errorf("quota set: %q is negative", s)}
	}
	return n, nil
}

// quotaCells renders a quota and a usage for a table: used, quota, percent.
func quotaCells(q quotaJSON) []string {
	if q.QuotaBytes <= 0 {
		return []string{registry.FormatBytes(q.UsedBytes), "none", "-"}
	}
	pct := float64(q.UsedBytes) * 100 / float64(q.QuotaBytes)
	return []string{registry.FormatBytes(q.UsedBytes), registry.FormatBytes(q.QuotaBytes), fmt.Sprintf("%.1f%%", pct)}
}

func (c *cli) quotaCmd() *cobra.Command {
	var server string
	set := &cobra.Command{
		Use:   "set PROJECT SIZE|none",
		Short: "Set a project's storage quota (500MiB, 10GiB, 1TB, bytes; none to lift it)",
		Long: "Set a project's storage quota. A blob counts once per project however many of its\n" +
			"repositories use it; manifests and referrers count too. Pushes that would take the\n" +
			"project over the quota are refused; what is stored already stays. System admins only.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseQuota(args[1])
			if err != nil {
				return err
			}
			var out quotaJSON
			if err := c.apiCall(cmd, server, "PUT", "/projects/"+url.PathEscape(args[0])+"/quota",
				map[string]any{"quota_bytes": n}, &out); err != nil {
				return fmt.Errorf("quota set: %w", err)
			}
			if out.QuotaBytes == 0 {
				fmt.Fprintf(c.stdout, "Project %s has no quota (uses %s)\n", out.Project, registry.FormatBytes(out.UsedBytes))
				return nil
			}
			cells := quotaCells(out)
			fmt.Fprintf(c.stdout, "Project %s: quota %s (%d bytes), uses %s (%s)\n", out.Project, cells[1], out.QuotaBytes, cells[0], cells[2])
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the projects' storage usage and quotas",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var qs []quotaJSON
			if err := c.apiCall(cmd, server, "GET", "/quotas", nil, &qs); err != nil {
				return fmt.Errorf("quota list: %w", err)
			}
			var rows [][]string
			for _, q := range qs {
				rows = append(rows, append([]string{q.Project}, quotaCells(q)...))
			}
			c.table("PROJECT\tUSED\tQUOTA\tPERCENT", rows)
			return nil
		},
	}
	for _, s := range []*cobra.Command{set, list} {
		serverFlag(s, &server)
	}
	return group("quota", "Manage project storage quotas", set, list)
}
