package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// Actor is who retention's deletions are recorded under in the audit log.
var Actor = actor.Actor{Name: "retention", Kind: "system"}

// Registry is what a run needs of the registry service: deletions that
// re-check what the plan saw.
type Registry interface {
	DeleteTagIf(ctx context.Context, repo, tag string, d digest.Digest) (bool, error)
	DeleteUntaggedManifest(ctx context.Context, repo string, d digest.Digest) (bool, error)
}

var _ Registry = (*registry.Service)(nil)

// Engine runs the retention rules.
type Engine struct {
	meta meta.Store
	reg  Registry
	tags registry.TagPolicy
	now  func() time.Time
	log  *slog.Logger
}

// New returns an engine that reads md, deletes through reg and asks tags
// (nil: none is immutable) which tags are immutable.
func New(md meta.Store, reg Registry, tags registry.TagPolicy, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.Default()
	}
	return &Engine{meta: md, reg: reg, tags: tags, now: time.Now, log: log}
}

// WithClock replaces the clock (tests).
func (e *Engine) WithClock(now func() time.Time) *Engine {
	e.now = now
	return e
}

// Options choose what a run covers.
type Options struct {
	// Project limits the run to one project ("" = every project that
	// has rules).
	Project string
	// DryRun plans without removing anything.
	DryRun bool
}

// Report is what a run removed (or, dry, would remove), per project.
type Report struct {
	Plans      []Plan
	Tags       int   // tags removed
	Manifests  int   // manifests removed
	BytesFreed int64 // the sum of the plans' BytesFreed
	Duration   time.Duration
	DryRun     bool
}

// Run plans each project and, unless dry, applies the plan. A real run
// is recorded in the audit log as one retention.run event besides the
// deletions themselves.
func (e *Engine) Run(ctx context.Context, o Options) (Report, error) {
	start := time.Now()
	rep := Report{DryRun: o.DryRun}
	var byProject [][]meta.RetentionRule
	err := e.meta.View(ctx, func(r meta.Reader) error {
		var (
			rules []meta.RetentionRule
			err   error
		)
		if o.Project != "" {
			rules, err = r.RetentionRules(o.Project)
		} else {
			rules, err = r.ListRetentionRules()
		}
		for i, rule := range rules {
			if i == 0 || rule.Project != rules[i-1].Project {
				byProject = append(byProject, nil)
			}
			byProject[len(byProject)-1] = append(byProject[len(byProject)-1], rule)
		}
		return err
	})
	if err != nil {
		return rep, err
	}
	if o.Project != "" && len(byProject) == 0 {
		rep.Plans = []Plan{{Project: o.Project}}
	}
	for _, rules := range byProject {
		plan, err := e.runProject(ctx, rules, o.DryRun)
		rep.Plans = append(rep.Plans, plan)
		for _, r := range plan.Removals {
			rep.Tags += len(r.Tags)
			if r.Manifest {
				rep.Manifests++
			}
		}
		rep.BytesFreed += plan.BytesFreed
		if err != nil {
			rep.Duration = time.Since(start)
			return rep, fmt.Errorf("retention of project %s: %w", rules[0].Project, err)
		}
	}
	rep.Duration = time.Since(start)
	if o.DryRun {
		return rep, nil
	}
	if rep.Tags > 0 || rep.Manifests > 0 {
		e.log.Info("retention", "tags", rep.Tags, "manifests", rep.Manifests, "bytes_freed", rep.BytesFreed, "took", rep.Duration)
	}
	return rep, e.meta.Update(ctx, func(tx meta.Tx) error {
		detail := fmt.Sprintf("removed %d tags and %d manifests (%d bytes leave their projects) in %d projects in %s",
			rep.Tags, rep.Manifests, rep.BytesFreed, len(rep.Plans), rep.Duration.Round(time.Millisecond))
		if by := actor.From(ctx); by.Name != "" {
			detail += "; asked by " + by.Name
		}
		return tx.AppendAudit(meta.AuditEvent{At: e.now(), Actor: Actor.Name, ActorKind: Actor.Kind, Action: "retention.run",
			Repo: o.Project, Detail: detail})
	})
}

// runProject plans one project and, unless dry, applies the plan.
func (e *Engine) runProject(ctx context.Context, rules []meta.RetentionRule, dry bool) (Plan, error) {
	project := rules[0].Project
	var in Input
	err := e.meta.View(ctx, func(r meta.Reader) error {
		var err error
		in, err = e.load(r, project, rules)
		return err
	})
	if err != nil {
		return Plan{Project: project}, err
	}
	plan, err := Evaluate(in)
	if err != nil || dry {
		return plan, err
	}
	return e.apply(ctx, in, plan)
}

// load reads what the plan of project weighs, in one transaction.
func (e *Engine) load(r meta.Reader, project string, rules []meta.RetentionRule) (Input, error) {
	in := Input{Project: project, Now: e.now(), Rules: rules, BlobSizes: map[digest.Digest]int64{}}
	cs, err := compile(rules)
	if err != nil {
		return in, err
	}
	names, err := r.ProjectRepositories(project)
	if err != nil {
		return in, err
	}
	for _, name := range names {
		repo := Repo{Name: name}
		if repo.Manifests, err = r.ManifestSummaries(name); err != nil {
			return in, err
		}
		matched, keep := false, false
		for _, c := range cs {
			if c.repos.Match(name) {
				matched = true
				keep = keep || c.Kind != meta.RemoveUntaggedAfter
			}
		}
		if matched {
			if err := e.loadMatched(r, &repo, keep, in.BlobSizes); err != nil {
				return in, err
			}
		}
		in.Repos = append(in.Repos, repo)
	}
	return in, nil
}

// loadMatched reads the tags, pulls, blob sizes and (for keep rules) the
// immutable tags of a repository a rule matches.
func (e *Engine) loadMatched(r meta.Reader, repo *Repo, keep bool, sizes map[digest.Digest]int64) error {
	var err error
	if repo.Tags, err = r.TagDetails(repo.Name); err != nil {
		return err
	}
	if repo.Pulls, err = r.PullStats(repo.Name); err != nil {
		return err
	}
	links, err := r.ListBlobLinks(repo.Name, "", 0)
	if err != nil {
		return err
	}
	for _, l := range links {
		sizes[l.Digest] = l.Size
	}
	if !keep || e.tags == nil {
		return nil
	}
	for _, t := range repo.Tags {
		if oci.IsReferrerTag(t.Name) {
			continue
		}
		rule, err := e.tags.ImmutableRule(r, repo.Name, t.Name)
		if err != nil {
			return err
		}
		if rule != "" {
			if repo.Immutable == nil {
				repo.Immutable = map[string]string{}
			}
			repo.Immutable[t.Name] = rule
		}
	}
	return nil
}

// apply carries out a plan, each deletion re-checking what the plan saw:
// a tag moved since, or a manifest tagged again, stays (and is reported
// as skipped). It returns what was done.
func (e *Engine) apply(ctx context.Context, in Input, plan Plan) (Plan, error) {
	ctx = actor.With(ctx, Actor)
	done := Plan{Project: plan.Project, Skipped: plan.Skipped}
	finish := func(err error) (Plan, error) {
		done.BytesFreed = BytesFreed(in, done.Removals)
		return done, err
	}
	for _, r := range plan.Removals {
		did := r
		did.Tags, did.Manifest = nil, false
		for _, tag := range r.Tags {
			gone, err := e.reg.DeleteTagIf(ctx, r.Repository, tag, r.Digest)
			var ec *errcode.Error
			switch {
			case errors.As(err, &ec):
				done.Skipped = append(done.Skipped, Skip{Repository: r.Repository, Digest: r.Digest, Tag: tag, Reason: ec.Error()})
			case err != nil:
				return finish(err)
			case !gone:
				done.Skipped = append(done.Skipped, Skip{Repository: r.Repository, Digest: r.Digest, Tag: tag,
					Reason: "moved or deleted since the plan was made"})
			default:
				did.Tags = append(did.Tags, tag)
			}
		}
		if r.Manifest && len(did.Tags) == len(r.Tags) {
			gone, err := e.reg.DeleteUntaggedManifest(ctx, r.Repository, r.Digest)
			if err != nil {
				return finish(err)
			}
			if gone {
				did.Manifest = true
			} else {
				done.Skipped = append(done.Skipped, Skip{Repository: r.Repository, Digest: r.Digest,
					Reason: "tagged again, or listed by an index, since the plan was made"})
			}
		}
		if len(did.Tags) > 0 || did.Manifest {
			done.Removals = append(done.Removals, did)
		}
	}
	return finish(nil)
}
