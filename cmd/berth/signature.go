package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// signaturePolicyJSON is what the API answers about a signature policy.
type signaturePolicyJSON struct {
	ID           int64    `json:"id"`
	Project      string   `json:"project"`
	Repositories string   `json:"repositories"`
	Mode         string   `json:"mode"`
	Keys         string   `json:"keys"`
	Certificates string   `json:"certificates"`
	Identities   []string `json:"identities"`
	Version      int64    `json:"version"`
}

// signatureDecisionJSON is the API's answer to an evaluation.
type signatureDecisionJSON struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Policy     int64  `json:"policy"`
	Mode       string `json:"mode"`
	Allowed    bool   `json:"allowed"`
	Exempt     bool   `json:"exempt"`
	Verified   bool   `json:"verified"`
	By         string `json:"by"`
	Reason     string `json:"reason"`
}

// readPEMFiles concatenates the files.
func readPEMFiles(files []string) (string, error) {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

func (c *cli) signaturePolicyCmd() *cobra.Command {
	var (
		server, repositories string
		keys, certs, ids     []string
		dry, enforce         bool
	)
	trust := func(cmd *cobra.Command, body map[string]any) error {
		if cmd.Flags().Changed("key") {
			k, err := readPEMFiles(keys)
			if err != nil {
				return err
			}
			body["keys"] = k
		}
		if cmd.Flags().Changed("cert") {
			pem, err := readPEMFiles(certs)
			if err != nil {
				return err
			}
			body["certificates"] = pem
		}
		if cmd.Flags().Changed("identity") {
			body["identities"] = ids
		}
		if cmd.Flags().Changed("repositories") {
			body["repositories"] = repositories
		}
		return nil
	}
	add := &cobra.Command{
		Use:   "add PROJECT",
		Short: "Require a valid signature to pull from a project",
		Long: "Refuse pulls of images in PROJECT (or in its repositories matching --repositories) that carry\n" +
			"no valid signature by one of the cosign public keys (--key, PEM files as `cosign\n" +
			"generate-key-pair` writes them; ECDSA, Ed25519 or RSA) or by a certificate chaining to the\n" +
			"notation trust store (--cert, PEM), optionally only from the --identity subjects\n" +
			"(\"x509.subject: C=…, ST=…, O=…, CN=…\"). Both cosign schemes (the .sig tag and the OCI 1.1 bundle\n" +
			"referrer) and notation's JWS and COSE signatures count. --dry-run logs and records what\n" +
			"would be refused and refuses nothing. System admins only.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keys) == 0 && len(certs) == 0 {
				return usageError{fmt.Errorf("signature-policy add: give --key (cosign public key) or --cert (notation certificate), or both")}
			}
			body := map[string]any{"project": args[0], "mode": "enforce"}
			if dry {
				body["mode"] = "dry-run"
			}
			if err := trust(cmd, body); err != nil {
				return fmt.Errorf("signature-policy add: %w", err)
			}
			var out signaturePolicyJSON
			if err := c.apiCall(cmd, server, "POST", "/signature-policies", body, &out); err != nil {
				return fmt.Errorf("signature-policy add: %w", err)
			}
			fmt.Fprintf(c.stdout, "Signature policy %d (%s) governs %s\n", out.ID, out.Mode, scopeOf(out))
			return nil
		},
	}
	set := &cobra.Command{
		Use:   "set ID",
		Short: "Change a signature policy: mode, keys, certificates, identities or repositories",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dry && enforce {
				return usageError{fmt.Errorf("signature-policy set: --dry-run and --enforce exclude each other")}
			}
			body := map[string]any{}
			switch {
			case dry:
				body["mode"] = "dry-run"
			case enforce:
				body["mode"] = "enforce"
			}
			if err := trust(cmd, body); err != nil {
				return fmt.Errorf("signature-policy set: %w", err)
			}
			if len(body) == 0 {
				return usageError{fmt.Errorf("signature-policy set: nothing to change")}
			}
			var out signaturePolicyJSON
			if err := c.apiCall(cmd, server, "PATCH", "/signature-policies/"+url.PathEscape(args[0]), body, &out); err != nil {
				return fmt.Errorf("signature-policy set: %w", err)
			}
			fmt.Fprintf(c.stdout, "Signature policy %d (%s, version %d) governs %s\n", out.ID, out.Mode, out.Version, scopeOf(out))
			return nil
		},
	}
	for _, s := range []*cobra.Command{add, set} {
		s.Flags().StringArrayVar(&keys, "key", nil, "cosign public key file (PEM); repeat for several")
		s.Flags().StringArrayVar(&certs, "cert", nil, "notation trust store certificate file (PEM); repeat for several")
		s.Flags().StringArrayVar(&ids, "identity", nil, `notation trusted identity, "x509.subject: C=…, ST=…, O=…[, CN=…]"; repeat for several (none: any)`)
		s.Flags().StringVar(&repositories, "repositories", "", "only the repositories matching this pattern (e.g. prod/web/**)")
		s.Flags().BoolVar(&dry, "dry-run", false, "log and record what would be refused; refuse nothing")
	}
	set.Flags().BoolVar(&enforce, "enforce", false, "refuse unsigned pulls (end a dry run)")

	list := &cobra.Command{
		Use:   "list [PROJECT]",
		Short: "List the signature policies",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/signature-policies"
			if len(args) == 1 {
				path += "?project=" + url.QueryEscape(args[0])
			}
			var ps []signaturePolicyJSON
			if err := c.apiCall(cmd, server, "GET", path, nil, &ps); err != nil {
				return fmt.Errorf("signature-policy list: %w", err)
			}
			var rows [][]string
			for _, p := range ps {
				rows = append(rows, []string{strconv.FormatInt(p.ID, 10), scopeOf(p), p.Mode,
					strconv.Itoa(strings.Count(p.Keys, "BEGIN PUBLIC KEY")), strconv.Itoa(strings.Count(p.Certificates, "BEGIN CERTIFICATE")),
					strconv.Itoa(len(p.Identities)), strconv.FormatInt(p.Version, 10)})
			}
			c.table("ID\tGOVERNS\tMODE\tKEYS\tCERTS\tIDENTITIES\tVERSION", rows)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm ID",
		Short: "Remove a signature policy",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.apiCall(cmd, server, "DELETE", "/signature-policies/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fmt.Errorf("signature-policy rm: %w", err)
			}
			fmt.Fprintf(c.stdout, "Removed signature policy %s\n", args[0])
			return nil
		},
	}
	check := &cobra.Command{
		Use:   "check REPOSITORY:TAG|REPOSITORY@DIGEST",
		Short: "Tell what the signature policy decides for a pull, and why",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, ref, ok := splitRef(args[0])
			if !ok {
				return usageError{fmt.Errorf("signature-policy check: %q: want REPOSITORY:TAG or REPOSITORY@DIGEST", args[0])}
			}
			var d signatureDecisionJSON
			q := url.Values{"repository": {repo}, "reference": {ref}}
			if err := c.apiCall(cmd, server, "GET", "/signature-policies/evaluate?"+q.Encode(), nil, &d); err != nil {
				return fmt.Errorf("signature-policy check: %w", err)
			}
			switch {
			case d.Policy == 0:
				fmt.Fprintf(c.stdout, "%s@%s: no signature policy governs %s; pulls are allowed\n", d.Repository, d.Digest, d.Repository)
			case d.Exempt:
				fmt.Fprintf(c.stdout, "%s@%s: a signature, attestation or SBOM; always pullable (policy %d)\n", d.Repository, d.Digest, d.Policy)
			case d.Verified:
				fmt.Fprintf(c.stdout, "%s@%s: allowed by policy %d: %s\n", d.Repository, d.Digest, d.Policy, d.By)
			case d.Allowed:
				fmt.Fprintf(c.stdout, "%s@%s: policy %d is a dry run; it would refuse: %s\n", d.Repository, d.Digest, d.Policy, d.Reason)
			default:
				fmt.Fprintf(c.stdout, "%s@%s: refused by policy %d: %s\n", d.Repository, d.Digest, d.Policy, d.Reason)
			}
			if !d.Allowed {
				return fmt.Errorf("signature-policy check: a pull of %s would be refused", args[0])
			}
			return nil
		},
	}
	for _, s := range []*cobra.Command{add, set, list, rm, check} {
		serverFlag(s, &server)
	}
	return group("signature-policy", "Require signatures to pull (cosign keys, notation certificates)", add, set, list, rm, check)
}

// scopeOf names what a policy governs.
func scopeOf(p signaturePolicyJSON) string {
	if p.Repositories != "" {
		return p.Repositories
	}
	return p.Project + "/** (the whole project)"
}

// splitRef splits "repo:tag" or "repo@digest".
func splitRef(s string) (repo, ref string, ok bool) {
	if i := strings.Index(s, "@"); i > 0 {
		return s[:i], s[i+1:], i+1 < len(s)
	}
	i := strings.LastIndex(s, ":")
	if i <= 0 || strings.Contains(s[i:], "/") {
		return "", "", false
	}
	return s[:i], s[i+1:], i+1 < len(s)
}
