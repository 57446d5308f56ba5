package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/vuln/severity"
)

// loadPolicies reads every project's pull policy.
func (s *Service) loadPolicies(ctx context.Context) (map[string]meta.ScanPolicy, error) {
	var ps []meta.ScanPolicy
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		ps, err = r.ScanPolicies()
		return err
	}); err != nil {
		return nil, fmt.Errorf("scan policies: %w", err)
	}
	by := make(map[string]meta.ScanPolicy, len(ps))
	for _, p := range ps {
		by[p.Project] = p
	}
	return by, nil
}

// AdmitPull decides a GET of manifest m from repo under its project's
// vulnerability policy: nil lets it through, DENIED refuses it naming the
// findings. Indexes and artifacts (signatures, SBOMs…) are not held to it
// (an index's platform manifests are, each on its own). exempt is asked
// before a refusal: true (the caller may push to repo) lets it through.
func (s *Service) AdmitPull(ctx context.Context, repo string, m meta.Manifest, exempt func() bool) error {
	policies, err := s.policies.Get(ctx)
	if err != nil {
		return err
	}
	p, ok := policies[meta.ProjectOf(repo)]
	if !ok || (p.Block == "" && !p.RequireScan) {
		return nil
	}
	var sc meta.Scan
	err = s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		sc, err = r.Scan(repo, m.Digest)
		return err
	})
	if err != nil && !isNotFound(err) {
		return err
	}
	found := err == nil
	reason := s.refusal(p, m, sc, found)
	if reason == "" {
		return nil
	}
	if exempt != nil && exempt() {
		return nil
	}
	if !found {
		// Never scanned: queue it, so that a later pull may pass.
		_, _ = s.Queue(context.WithoutCancel(ctx), repo, m.Digest, "pull")
	}
	s.o.Log.Info("vulnerability policy: pull refused", "repository", repo, "digest", m.Digest, "reason", reason)
	if s.o.Audit != nil {
		a := actor.From(ctx)
		s.o.Audit.Record(meta.AuditEvent{At: s.o.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr,
			Action: "vulnerability.denied", Repo: repo, Digest: m.Digest.String(), Detail: reason})
	}
	return errcode.Denied.Errorf("%s@%s: %s (vulnerability policy of project %s)", repo, m.Digest, reason, p.Project)
}

// refusal is why p refuses m ("" = it does not).
func (s *Service) refusal(p meta.ScanPolicy, m meta.Manifest, sc meta.Scan, found bool) string {
	// A report is there once a scan finished (kept while the next runs).
	if !found || len(sc.Report) == 0 {
		if !p.RequireScan || !isImage(m) {
			return ""
		}
		if found && sc.State == meta.ScanFailed {
			return "its vulnerability scan failed (" + sc.Error + ")"
		}
		return "it has no completed vulnerability scan yet"
	}
	if p.Block == "" {
		return ""
	}
	block, err := severity.ParseLevel(p.Block)
	if err != nil {
		return ""
	}
	key := fmt.Sprintf("%s/%d/%d/%s/%s", sc.Digest, sc.FinishedAt.UnixNano(), sc.DBGeneration, p.Block, strings.Join(p.Allow, ","))
	if v, ok := s.verdicts.Load(key); ok {
		return v.(string)
	}
	var rep Report
	_ = json.Unmarshal(sc.Report, &rep)
	var hits []string
	for _, f := range rep.Findings {
		lvl, err := severity.ParseLevel(f.Severity)
		if err != nil || lvl < block || allowed(p.Allow, f) {
			continue
		}
		hits = append(hits, fmt.Sprintf("%s (%s, %s %s)", f.ID, f.Severity, f.Package, f.Version))
	}
	reason := ""
	if len(hits) > 0 {
		more := ""
		if len(hits) > 3 {
			more = fmt.Sprintf(" and %d more", len(hits)-3)
			hits = hits[:3]
		}
		reason = fmt.Sprintf("it has vulnerabilities of severity %s or worse: %s%s", block, strings.Join(hits, ", "), more)
	}
	s.verdicts.Store(key, reason)
	return reason
}

// allowed reports whether the allow-list names f or one of its aliases.
func allowed(allow []string, f Finding) bool {
	for _, a := range allow {
		if strings.EqualFold(a, f.ID) || slices.ContainsFunc(f.Aliases, func(x string) bool { return strings.EqualFold(a, x) }) {
			return true
		}
	}
	return false
}

// isImage reports whether m is an image manifest (not an index, not an
// artifact): the manifests a scan catalogues.
func isImage(m meta.Manifest) bool {
	if m.Subject != "" {
		return false
	}
	var mf struct {
		Config struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(m.Content, &mf) != nil || len(mf.Manifests) > 0 {
		return false
	}
	return imageConfigTypes[mf.Config.MediaType]
}

// Policy returns project's vulnerability pull policy (meta.ErrNotFound
// when it has none).
func (s *Service) Policy(ctx context.Context, project string) (meta.ScanPolicy, error) {
	var p meta.ScanPolicy
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		p, err = r.ScanPolicy(project)
		return err
	})
	return p, err
}

// SetPolicy sets a project's policy.
func (s *Service) SetPolicy(ctx context.Context, p meta.ScanPolicy) (meta.ScanPolicy, error) {
	if p.Scanner != "" && p.Scanner != BuiltinScanner {
		if err := s.o.Store.View(ctx, func(r meta.Reader) error {
			_, err := r.ScannerByName(p.Scanner)
			return err
		}); err != nil {
			return meta.ScanPolicy{}, fmt.Errorf("%w: scanner %s: %v", ErrInvalid, p.Scanner, err)
		}
	}
	if p.Block != "" {
		lvl, err := severity.ParseLevel(p.Block)
		if err != nil || lvl == severity.None {
			return meta.ScanPolicy{}, fmt.Errorf("%w: block %q: want critical, high, medium or low", ErrInvalid, p.Block)
		}
		p.Block = strings.ToLower(lvl.String())
	}
	for _, a := range p.Allow {
		if a == "" || strings.ContainsAny(a, ", \t\n") {
			return meta.ScanPolicy{}, fmt.Errorf("%w: allow %q: want vulnerability IDs (CVE-…, GHSA-…)", ErrInvalid, a)
		}
	}
	p.UpdatedAt = s.o.Now().UTC()
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.PutScanPolicy(p); err != nil {
			return err
		}
		a := actor.From(ctx)
		return tx.AppendAudit(meta.AuditEvent{At: s.o.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr,
			Action: "project.scan_policy", Repo: p.Project,
			Detail: fmt.Sprintf("block=%s allow=%s require_scan=%t scan_on_push=%t scanner=%s", p.Block, strings.Join(p.Allow, ","), p.RequireScan, p.ScanOnPush, p.Scanner)})
	})
	s.policies.Invalidate()
	return p, err
}

// DeletePolicy removes a project's policy.
func (s *Service) DeletePolicy(ctx context.Context, project string) error {
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.DeleteScanPolicy(project); err != nil {
			return err
		}
		a := actor.From(ctx)
		return tx.AppendAudit(meta.AuditEvent{At: s.o.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr,
			Action: "project.scan_policy.delete", Repo: project})
	})
	s.policies.Invalidate()
	return err
}

// DBState returns the vulnerability database's state.
func (s *Service) DBState(ctx context.Context) (meta.VulnDBState, error) {
	var st meta.VulnDBState
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		st, err = r.VulnDBState()
		return err
	})
	return st, err
}

// Status returns the scan of the manifest ref (a tag or digest) names in
// repo; meta.ErrNotFound when there is no such manifest or it was never
// scanned.
func (s *Service) Status(ctx context.Context, repo, ref string) (Status, error) {
	var sc meta.Scan
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var (
			m   meta.Manifest
			err error
		)
		if d, derr := digest.Parse(ref); derr == nil {
			m, err = r.Manifest(repo, d)
		} else {
			m, err = r.ManifestByTag(repo, ref)
		}
		if err != nil {
			return fmt.Errorf("manifest %s of %s: %w", ref, repo, err)
		}
		sc, err = r.Scan(repo, m.Digest)
		if err != nil {
			return fmt.Errorf("%s@%s has not been scanned: %w", repo, m.Digest, err)
		}
		return nil
	})
	if err != nil {
		return Status{}, err
	}
	return statusOf(sc), nil
}

func statusOf(sc meta.Scan) Status {
	st := Status{Repository: sc.Repo, Digest: sc.Digest, State: sc.State, Reason: sc.Reason, QueuedAt: sc.QueuedAt,
		Error: sc.Error, DBGeneration: sc.DBGeneration, SBOM: sc.SBOM,
		Summary: Summary{Critical: sc.Critical, High: sc.High, Medium: sc.Medium, Low: sc.Low, Unknown: sc.Unknown, Packages: sc.Packages}}
	if !sc.StartedAt.IsZero() {
		t := sc.StartedAt
		st.StartedAt = &t
	}
	if !sc.FinishedAt.IsZero() {
		t := sc.FinishedAt
		st.FinishedAt = &t
	}
	if len(sc.Report) > 0 {
		var rep Report
		if json.Unmarshal(sc.Report, &rep) == nil {
			st.Report = &rep
		}
	}
	return st
}
