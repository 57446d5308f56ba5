package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// scannerJSON is what the API answers about an external scanner.
type scannerJSON struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Auth          string `json:"auth"`
	HasCredential bool   `json:"has_credential"`
	Insecure      bool   `json:"insecure"`
	Default       bool   `json:"default"`
}

// scannerMetadataJSON is an adapter's answer about itself.
type scannerMetadataJSON struct {
	Scanner struct {
		Name    string `json:"name"`
		Vendor  string `json:"vendor"`
		Version string `json:"version"`
	} `json:"scanner"`
	Capabilities []struct {
		Type              string   `json:"type"`
		ConsumesMimeTypes []string `json:"consumes_mime_types"`
		ProducesMimeTypes []string `json:"produces_mime_types"`
	} `json:"capabilities"`
}

func (c *cli) scannerCmd() *cobra.Command {
	var (
		server, auth              string
		credStdin, insecure, dflt bool
	)
	add := &cobra.Command{
		Use:   "add NAME URL",
		Short: "Register an external scanner (an adapter of Harbor's Pluggable Scanner API, e.g. Trivy's)",
		Long: "Register the scanner adapter at URL (the base of its /api/v1, e.g. http://trivy-adapter:8080)\n" +
			"under NAME, or change it. --auth basic|bearer|apikey with the credential on standard input\n" +
			"(--credential-stdin; for basic, user:password) is how berth authenticates to it; --default\n" +
			"makes it scan the images of every project whose scan policy names no scanner (else a\n" +
			"project picks it with berth scan-policy set PROJECT --scanner NAME). berth hands it a\n" +
			"pull credential that lives as long as one scan. System admins only.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"url": args[1], "insecure": insecure, "default": dflt}
			if auth != "" && auth != "none" {
				if !credStdin {
					return usageError{fmt.Errorf("scanner add: --auth %s needs the credential on standard input (--credential-stdin)", auth)}
				}
				cred, err := c.readSecret("credential")
				if err != nil {
					return fmt.Errorf("scanner add: %w", err)
				}
				body["auth"], body["credential"] = auth, cred
			}
			var out scannerJSON
			if err := c.apiCall(cmd, server, "PUT", "/scanners/"+url.PathEscape(args[0]), body, &out); err != nil {
				return fmt.Errorf("scanner add: %w", err)
			}
			var md scannerMetadataJSON
			if err := c.apiCall(cmd, server, "GET", "/scanners/"+url.PathEscape(args[0]), nil, &md); err != nil {
				fmt.Fprintf(c.stdout, "Registered scanner %s at %s; it does not answer yet: %v\n", out.Name, out.URL, err)
				return nil
			}
			fmt.Fprintf(c.stdout, "Registered scanner %s at %s: %s %s (%s)\n", out.Name, out.URL, md.Scanner.Name, md.Scanner.Version, md.Scanner.Vendor)
			return nil
		},
	}
	add.Flags().StringVar(&auth, "auth", "", "how berth authenticates to the adapter: basic, bearer, apikey (or none)")
	add.Flags().BoolVar(&credStdin, "credential-stdin", false, "read the credential from standard input")
	add.Flags().BoolVar(&insecure, "insecure", false, "skip TLS verification of the adapter")
	add.Flags().BoolVar(&dflt, "default", false, "scan the images of projects whose policy names no scanner")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the external scanners",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var all []scannerJSON
			if err := c.apiCall(cmd, server, "GET", "/scanners", nil, &all); err != nil {
				return fmt.Errorf("scanner list: %w", err)
			}
			var rows [][]string
			for _, s := range all {
				rows = append(rows, []string{s.Name, s.URL, orDash(s.Auth), yesNo(s.Insecure), yesNo(s.Default)})
			}
			c.table("NAME\tURL\tAUTH\tINSECURE\tDEFAULT", rows)
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Ask an external scanner what it is and can scan",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var md scannerMetadataJSON
			if err := c.apiCall(cmd, server, "GET", "/scanners/"+url.PathEscape(args[0]), nil, &md); err != nil {
				return fmt.Errorf("scanner show: %w", err)
			}
			fmt.Fprintf(c.stdout, "%s: %s %s (%s)\n", args[0], md.Scanner.Name, md.Scanner.Version, md.Scanner.Vendor)
			var rows [][]string
			for _, cp := range md.Capabilities {
				rows = append(rows, []string{orDash(cp.Type), strings.Join(cp.ConsumesMimeTypes, ", "), strings.Join(cp.ProducesMimeTypes, ", ")})
			}
			c.table("CAPABILITY\tSCANS\tREPORTS", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove an external scanner",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/scanners/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("scanner rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed scanner %s\n", args[0])
			return nil
		},
	}
	for _, s := range []*cobra.Command{add, list, show, rm} {
		serverFlag(s, &server)
	}
	return group("scanner", "Manage external scanners (Harbor Pluggable Scanner API adapters)", add, list, show, rm)
}
