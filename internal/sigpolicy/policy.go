package sigpolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/sigverify"
)

// ErrInvalid is wrapped by the errors of a policy that cannot be stored.
var ErrInvalid = errors.New("invalid signature policy")

// Blobs reads stored blobs (the blob store).
type Blobs interface {
	Open(ctx context.Context, d digest.Digest) (blob.Reader, error)
}

// Recorder takes audit events off the request path (audit.Recorder).
type Recorder interface {
	Record(e meta.AuditEvent)
}

// Options configure a Service.
type Options struct {
	Store meta.Store
	Blobs Blobs
	Audit Recorder // nil: verdicts are only logged
	Log   *slog.Logger
	// Refresh is how often the policies are read again (5s): how soon a
	// change made on another node applies here.
	Refresh time.Duration
	// CacheSize bounds the cached verdicts (10,000).
	CacheSize int
	Now       func() time.Time
}

// Service evaluates and manages signature policies.
type Service struct {
	o     Options
	snap  meta.Snapshot[*snapshot]
	cache *verdictCache
}

// New returns a Service.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o, cache: newVerdictCache(o.CacheSize)}
	s.snap = meta.Snapshot[*snapshot]{TTL: o.Refresh, Now: o.Now, Load: s.load, OnStale: func(err error) {
		o.Log.Warn("signature policies: cannot read them again; using the last ones", "err", err)
	}}
	return s
}

// compiled is a stored policy ready to decide.
type compiled struct {
	p     meta.SignaturePolicy
	match pattern.Pattern // zero: every repository of the project
	v     *sigverify.Verifier
	err   error // the trust material does not load: every pull is refused
}

type snapshot struct {
	byProject map[string][]*compiled
}

func compile(p meta.SignaturePolicy) *compiled {
	c := &compiled{p: p}
	if p.Repositories != "" {
		c.match, c.err = pattern.Compile(p.Repositories)
	}
	if c.err == nil {
		var t sigverify.Trust
		t, c.err = trustOf(p)
		if c.err == nil {
			c.v, c.err = sigverify.New(t)
		}
	}
	return c
}

// trustOf parses a policy's trust material.
func trustOf(p meta.SignaturePolicy) (sigverify.Trust, error) {
	var t sigverify.Trust
	var err error
	if strings.TrimSpace(p.Keys) != "" {
		if t.Keys, err = sigverify.ParsePublicKeys([]byte(p.Keys)); err != nil {
			return t, fmt.Errorf("keys: %w", err)
		}
	}
	if strings.TrimSpace(p.Certificates) != "" {
		if t.Roots, err = sigverify.ParseCertificates([]byte(p.Certificates)); err != nil {
			return t, fmt.Errorf("certificates: %w", err)
		}
	}
	t.Identities = p.Identities
	return t, nil
}

// policies returns the policies as last read (again every Refresh).
func (s *Service) policies(ctx context.Context) (*snapshot, error) { return s.snap.Get(ctx) }

// load reads and compiles every policy.
func (s *Service) load(ctx context.Context) (*snapshot, error) {
	var ps []meta.SignaturePolicy
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		ps, err = r.SignaturePolicies("")
		return err
	}); err != nil {
		return nil, fmt.Errorf("signature policies: %w", err)
	}
	next := &snapshot{byProject: map[string][]*compiled{}}
	for _, p := range ps {
		c := compile(p)
		if c.err != nil {
			s.o.Log.Error("signature policy does not load: pulls it governs are refused", "policy", p.ID, "project", p.Project, "err", c.err)
		}
		next.byProject[p.Project] = append(next.byProject[p.Project], c)
	}
	return next, nil
}

// invalidate makes the next decision read the policies again.
func (s *Service) invalidate() { s.snap.Invalidate() }

// governing returns the policy that governs repo: of its project's, the
// one with the longest matching pattern (none: nil).
func (snap *snapshot) governing(repo string) *compiled {
	var best *compiled
	for _, c := range snap.byProject[meta.ProjectOf(repo)] {
		if c.p.Repositories != "" && !c.match.Match(repo) {
			continue // (a pattern that does not compile matches nothing; Validate refuses it)
		}
		if best == nil || len(c.p.Repositories) > len(best.p.Repositories) {
			best = c
		}
	}
	return best
}

// Patch changes a policy: nil fields stay.
type Patch struct {
	Repositories *string
	DryRun       *bool
	Keys         *string
	Certificates *string
	Identities   *[]string
}

// Validate checks a policy before it is stored.
func Validate(p meta.SignaturePolicy) error {
	if p.Project == "" {
		return fmt.Errorf("%w: a project is required", ErrInvalid)
	}
	if p.Repositories != "" {
		if _, err := pattern.Compile(p.Repositories); err != nil {
			return fmt.Errorf("%w: repositories: %w", ErrInvalid, err)
		}
		if !strings.HasPrefix(p.Repositories, p.Project+"/") && p.Repositories != p.Project {
			return fmt.Errorf("%w: repositories %q is outside project %s (patterns match whole repository names, e.g. %s/**)",
				ErrInvalid, p.Repositories, p.Project, p.Project)
		}
	}
	if strings.TrimSpace(p.Keys) == "" && strings.TrimSpace(p.Certificates) == "" {
		return fmt.Errorf("%w: give cosign public keys, notation certificates, or both", ErrInvalid)
	}
	for _, id := range p.Identities {
		if id != "*" && !strings.HasPrefix(id, "x509.subject:") {
			return fmt.Errorf("%w: identity %q: want \"x509.subject: C=…, ST=…, O=…[, CN=…]\" (notation needs C, ST and O) or \"*\"", ErrInvalid, id)
		}
		if strings.ContainsAny(id, "\n\r") {
			return fmt.Errorf("%w: identity %q spans lines", ErrInvalid, id)
		}
	}
	if len(p.Identities) > 0 && strings.TrimSpace(p.Certificates) == "" {
		return fmt.Errorf("%w: identities apply to notation certificates; give certificates too", ErrInvalid)
	}
	t, err := trustOf(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := sigverify.New(t); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (p Patch) apply(pol *meta.SignaturePolicy) {
	if p.Repositories != nil {
		pol.Repositories = *p.Repositories
	}
	if p.DryRun != nil {
		pol.DryRun = *p.DryRun
	}
	if p.Keys != nil {
		pol.Keys = *p.Keys
	}
	if p.Certificates != nil {
		pol.Certificates = *p.Certificates
	}
	if p.Identities != nil {
		pol.Identities = *p.Identities
	}
}

// Add stores a new policy.
func (s *Service) Add(ctx context.Context, p meta.SignaturePolicy) (meta.SignaturePolicy, error) {
	if err := Validate(p); err != nil {
		return meta.SignaturePolicy{}, err
	}
	p.CreatedAt = s.o.Now().UTC()
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		id, err := tx.AddSignaturePolicy(p)
		if err != nil {
			return err
		}
		if p, err = tx.SignaturePolicy(id); err != nil {
			return err
		}
		return auditIn(ctx, tx, "signature_policy.create", p, describe(p))
	})
	s.invalidate()
	return p, err
}

// Update changes a policy (its Version grows, so cached verdicts lapse).
func (s *Service) Update(ctx context.Context, id int64, patch Patch) (meta.SignaturePolicy, error) {
	var p meta.SignaturePolicy
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		var err error
		if p, err = tx.SignaturePolicy(id); err != nil {
			return err
		}
		patch.apply(&p)
		if err := Validate(p); err != nil {
			return err
		}
		p.UpdatedAt = s.o.Now().UTC()
		if err := tx.UpdateSignaturePolicy(p); err != nil {
			return err
		}
		if p, err = tx.SignaturePolicy(id); err != nil {
			return err
		}
		return auditIn(ctx, tx, "signature_policy.update", p, describe(p))
	})
	s.invalidate()
	return p, err
}

// Delete removes a policy.
func (s *Service) Delete(ctx context.Context, id int64) error {
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		p, err := tx.SignaturePolicy(id)
		if err != nil {
			return err
		}
		if err := tx.DeleteSignaturePolicy(id); err != nil {
			return err
		}
		return auditIn(ctx, tx, "signature_policy.delete", p, "")
	})
	s.invalidate()
	return err
}

// Get returns one policy.
func (s *Service) Get(ctx context.Context, id int64) (meta.SignaturePolicy, error) {
	var p meta.SignaturePolicy
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		p, err = r.SignaturePolicy(id)
		return err
	})
	return p, err
}

// List returns the policies of project ("" = all).
func (s *Service) List(ctx context.Context, project string) ([]meta.SignaturePolicy, error) {
	var ps []meta.SignaturePolicy
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		ps, err = r.SignaturePolicies(project)
		return err
	})
	return ps, err
}

func describe(p meta.SignaturePolicy) string {
	mode := "enforce"
	if p.DryRun {
		mode = "dry-run"
	}
	repos := p.Repositories
	if repos == "" {
		repos = p.Project + " (all)"
	}
	return fmt.Sprintf("id=%d repositories=%s mode=%s keys=%d certificates=%d identities=%d version=%d", p.ID, repos, mode,
		strings.Count(p.Keys, "-----BEGIN"), strings.Count(p.Certificates, "-----BEGIN"), len(p.Identities), p.Version)
}

func auditIn(ctx context.Context, tx meta.Tx, action string, p meta.SignaturePolicy, detail string) error {
	a := actor.From(ctx)
	return tx.AppendAudit(meta.AuditEvent{At: time.Now(), Actor: a.Name, ActorKind: a.Kind, Addr: a.Addr,
		Action: action, Repo: p.Project, Detail: strings.TrimSpace(fmt.Sprintf("policy %d %s", p.ID, detail))})
}
