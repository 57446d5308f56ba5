package scan

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan/harbor"
)

// BuiltinScanner is the name a project's policy uses for berth's own
// scanner when an external one is the default.
const BuiltinScanner = "berth"

// Authentications an external scanner accepts.
var scannerAuths = []string{"", "basic", "bearer", "apikey"}

// ScannerSpec registers an external scanner (an adapter of Harbor's
// Pluggable Scanner API).
type ScannerSpec struct {
	Name       string
	URL        string
	Auth       string // "", "basic" (Credential "user:password"), "bearer", "apikey"
	Credential string // sealed before it is stored, when a key is configured
	Insecure   bool
	Default    bool
}

// PutScanner registers (or changes) an external scanner.
func (s *Service) PutScanner(ctx context.Context, spec ScannerSpec) (meta.Scanner, error) {
	if spec.Name == "" || spec.Name == BuiltinScanner || strings.ContainsAny(spec.Name, " /\t\n") || len(spec.Name) > 64 {
		return meta.Scanner{}, fmt.Errorf("%w: scanner name %q: want 1 to 64 characters without spaces or slashes, not %q", ErrInvalid, spec.Name, BuiltinScanner)
	}
	if !slicesContains(scannerAuths, spec.Auth) {
		return meta.Scanner{}, fmt.Errorf("%w: auth %q: want basic, bearer, apikey or none", ErrInvalid, spec.Auth)
	}
	if (spec.Auth == "") != (spec.Credential == "") {
		return meta.Scanner{}, fmt.Errorf("%w: an auth kind and a credential go together", ErrInvalid)
	}
	if _, err := harbor.New(spec.URL, spec.Auth, spec.Credential, nil); err != nil {
		return meta.Scanner{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	cred := []byte(spec.Credential)
	if s.o.Secrets != nil && len(cred) > 0 {
		var err error
		if cred, err = s.o.Secrets.Seal(cred); err != nil {
			return meta.Scanner{}, err
		}
	}
	sc := meta.Scanner{Name: spec.Name, URL: spec.URL, Auth: spec.Auth, Credential: cred, Insecure: spec.Insecure,
		Default: spec.Default, CreatedAt: s.o.Now().UTC()}
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		if old, err := tx.ScannerByName(spec.Name); err == nil {
			sc.CreatedAt = old.CreatedAt
		}
		if err := tx.PutScanner(sc); err != nil {
			return err
		}
		return s.auditIn(ctx, tx, "scanner.put", "", fmt.Sprintf("scanner %s url=%s auth=%s insecure=%t default=%t", sc.Name, sc.URL, sc.Auth, sc.Insecure, sc.Default))
	})
	sc.Credential = nil
	return sc, err
}

// Scanners returns the registered external scanners (without credentials).
func (s *Service) Scanners(ctx context.Context) ([]meta.Scanner, error) {
	var out []meta.Scanner
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.Scanners()
		return err
	})
	for i := range out {
		out[i].Credential = nil
	}
	return out, err
}

// DeleteScanner removes an external scanner; refused while a project's
// scan policy names it.
func (s *Service) DeleteScanner(ctx context.Context, name string) error {
	return s.o.Store.Update(ctx, func(tx meta.Tx) error {
		ps, err := tx.ScanPolicies()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Scanner == name {
				return fmt.Errorf("%w: the scan policy of project %s names scanner %s: change it first (berth scan-policy set %s --scanner …)",
					ErrInvalid, p.Project, name, p.Project)
			}
		}
		if err := tx.DeleteScanner(name); err != nil {
			return err
		}
		return s.auditIn(ctx, tx, "scanner.delete", "", "scanner "+name)
	})
}

// ScannerMetadata asks a registered scanner what it is and can do (a
// health check).
func (s *Service) ScannerMetadata(ctx context.Context, name string) (harbor.Metadata, error) {
	var sc meta.Scanner
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		sc, err = r.ScannerByName(name)
		return err
	}); err != nil {
		return harbor.Metadata{}, err
	}
	c, err := s.adapter(sc)
	if err != nil {
		return harbor.Metadata{}, err
	}
	return c.Metadata(ctx)
}

// adapter returns a client of sc.
func (s *Service) adapter(sc meta.Scanner) (*harbor.Client, error) {
	cred := sc.Credential
	if s.o.Secrets != nil && len(cred) > 0 {
		var err error
		if cred, err = s.o.Secrets.Open(cred); err != nil {
			return nil, fmt.Errorf("%w: the credential of scanner %s cannot be opened (secrets.key changed?): %v", errPermanent, sc.Name, err)
		}
	}
	hc := &http.Client{Timeout: time.Minute}
	if sc.Insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator asked for it
		hc.Transport = tr
	}
	return harbor.New(sc.URL, sc.Auth, string(cred), hc)
}

// scannerFor picks the scanner of repo's project: the one its policy
// names, else the default external one, else berth's own (nil).
func scannerFor(r meta.Reader, repo string) (*meta.Scanner, error) {
	name := ""
	if p, err := r.ScanPolicy(meta.ProjectOf(repo)); err == nil {
		name = p.Scanner
	} else if !errors.Is(err, meta.ErrNotFound) {
		return nil, err
	}
	if name == BuiltinScanner {
		return nil, nil
	}
	if name != "" {
		sc, err := r.ScannerByName(name)
		if err != nil {
			return nil, fmt.Errorf("the scan policy names scanner %s: %w", name, err)
		}
		return &sc, nil
	}
	all, err := r.Scanners()
	if err != nil {
		return nil, err
	}
	for _, sc := range all {
		if sc.Default {
			return &sc, nil
		}
	}
	return nil, nil
}

// externalTimeout bounds one external scan (the adapter's work included).
const externalTimeout = 30 * time.Minute

// scanExternal has sc scan m and converts its report.
func (s *Service) scanExternal(ctx context.Context, sc meta.Scanner, repo string, m meta.Manifest, rep Report) (Report, error) {
	c, err := s.adapter(sc)
	if err != nil {
		return Report{}, err
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("scanner %s: %w", sc.Name, err)
	}
	reportType, ok := md.CanScan(m.MediaType)
	if !ok {
		return Report{}, fmt.Errorf("%w: scanner %s (%s %s) cannot scan %s", errPermanent, sc.Name, md.Scanner.Name, md.Scanner.Version, m.MediaType)
	}
	authz := ""
	if s.o.Credential != nil {
		user, secret, release, err := s.o.Credential(ctx, repo)
		if err != nil {
			return Report{}, fmt.Errorf("a pull credential for scanner %s: %w", sc.Name, err)
		}
		defer func() {
			if err := release(); err != nil {
				s.o.Log.Warn("scan: cannot delete the scanner's pull credential (it expires anyway)", "user", user, "err", err)
			}
		}()
		authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	}
	id, err := c.Scan(ctx, harbor.ScanRequest{RegistryURL: s.o.RegistryURL, Authorization: authz, Repository: repo,
		Digest: m.Digest, MimeType: m.MediaType})
	if err != nil {
		return Report{}, fmt.Errorf("scanner %s: %w", sc.Name, err)
	}
	hr, err := c.Report(ctx, id, reportType, externalTimeout)
	if errors.Is(err, harbor.ErrScanFailed) || errors.Is(err, harbor.ErrUnsupported) {
		return Report{}, fmt.Errorf("%w: scanner %s: %v", errPermanent, sc.Name, err) // the adapter's word: no retry
	}
	if err != nil {
		return Report{}, fmt.Errorf("scanner %s: %w", sc.Name, err)
	}
	rep.Scanner = sc.Name
	rep.Engine = strings.TrimSpace(md.Scanner.Name + " " + md.Scanner.Version)
	seen := map[string]bool{}
	for _, v := range hr.Vulnerabilities {
		key := v.ID + "\x00" + v.Package + "\x00" + v.Version
		if v.ID == "" || seen[key] {
			continue
		}
		seen[key] = true
		summary, _, _ := strings.Cut(strings.TrimSpace(v.Description), "\n")
		if len(summary) > 300 {
			summary = summary[:300] + "…"
		}
		rep.Findings = append(rep.Findings, Finding{ID: v.ID, Summary: summary, Severity: harbor.Level(v.Severity),
			Score: v.CVSSv3Score, Package: v.Package, Version: v.Version, FixedVersion: v.FixVersion})
		if !seen["pkg\x00"+v.Package+"\x00"+v.Version] {
			seen["pkg\x00"+v.Package+"\x00"+v.Version] = true
			rep.Packages = append(rep.Packages, Package{Name: v.Package, Version: v.Version})
		}
	}
	sortFindings(rep.Findings)
	return rep, nil
}

func slicesContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// auditIn records a change made through the service.
func (s *Service) auditIn(ctx context.Context, tx meta.Tx, action, project, detail string) error {
	a := actorOf(ctx)
	return tx.AppendAudit(meta.AuditEvent{At: s.o.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr, Action: action, Repo: project, Detail: detail})
}

func actorOf(ctx context.Context) actor.Actor { return actor.From(ctx) }
