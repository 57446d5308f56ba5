package retention

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Input is what the plan of one project weighs.
type Input struct {
	Project string
	Now     time.Time
	Rules   []meta.RetentionRule
	// Repos are every repository of the project: those no rule matches
	// still count for which blobs stay referenced.
	Repos []Repo
	// BlobSizes are the sizes of the blobs of the repositories rules
	// match.
	BlobSizes map[digest.Digest]int64
}

// Repo is what the plan knows of one repository.
type Repo struct {
	Name      string
	Tags      []meta.TagDetail
	Manifests []meta.ManifestSummary
	Pulls     []meta.PullCount
	// Immutable maps each immutable version tag to the rule that makes
	// it so.
	Immutable map[string]string
}

// Plan is what a run removes (or, dry, would remove) from one project.
type Plan struct {
	Project  string
	Removals []Removal
	Skipped  []Skip
	// BytesFreed is what leaves the project: the removed manifests and
	// the blobs that only they referenced among the project's manifests.
	// Garbage collection frees it on disk (a blob another project still
	// references stays); referrers and index children it takes along
	// are not counted.
	BytesFreed int64
}

// Removal is one manifest of a repository that loses tags, or goes.
type Removal struct {
	Repository string
	Digest     digest.Digest
	Tags       []string // the tags that go, sorted
	Manifest   bool     // the manifest goes too
	Size       int64    // the manifest and its config and layers
	Reason     string
}

// Skip is a tag (or manifest) a rule would remove but that stays.
type Skip struct {
	Repository string
	Digest     digest.Digest
	Tag        string // "" for a whole manifest
	Reason     string
}

// compiled is a rule with its patterns.
type compiled struct {
	meta.RetentionRule
	repos, tags pattern.Pattern
}

// Describe names a rule the way the CLI writes it.
func Describe(r meta.RetentionRule) string {
	switch r.Kind {
	case meta.RetainLast:
		return fmt.Sprintf("keep-last %d", r.Count)
	case meta.RetainPulledWithin, meta.RemoveUntaggedAfter:
		return r.Kind + " " + FormatAge(r.Age)
	}
	return r.Kind
}

func compile(rules []meta.RetentionRule) ([]compiled, error) {
	out := make([]compiled, 0, len(rules))
	for _, r := range rules {
		rp, err := pattern.Compile(r.Repositories)
		if err != nil {
			return nil, fmt.Errorf("rule %d: repositories %q: %w", r.ID, r.Repositories, err)
		}
		tp, err := pattern.Compile(r.Tags)
		if err != nil {
			return nil, fmt.Errorf("rule %d: tags %q: %w", r.ID, r.Tags, err)
		}
		out = append(out, compiled{RetentionRule: r, repos: rp, tags: tp})
	}
	return out, nil
}

// Evaluate plans a run over one project. A repository that a keep-* rule
// matches keeps the version tags one of its matching keep-* rules keeps
// and loses the others, except immutable ones (skipped); a manifest that
// loses its last tag goes too unless an index of the repository lists
// it. In a repository an untagged-after rule matches, untagged manifests
// older than its age and not pulled within it go, except index children
// and referrers whose subject is in the repository (they go with their
// index or subject).
func Evaluate(in Input) (Plan, error) {
	plan := Plan{Project: in.Project}
	rules, err := compile(in.Rules)
	if err != nil {
		return plan, err
	}
	for _, repo := range in.Repos {
		var keep, untagged []compiled
		for _, r := range rules {
			if !r.repos.Match(repo.Name) {
				continue
			}
			if r.Kind == meta.RemoveUntaggedAfter {
				untagged = append(untagged, r)
			} else {
				keep = append(keep, r)
			}
		}
		if len(keep) == 0 && len(untagged) == 0 {
			continue
		}
		st := newRepoState(repo)
		if len(keep) > 0 {
			st.planTags(keep, in.Now, &plan)
		}
		if len(untagged) > 0 {
			st.planUntagged(untagged, in.Now, &plan)
		}
		for i := range plan.Removals {
			if r := &plan.Removals[i]; r.Repository == repo.Name && r.Size == 0 {
				r.Size = st.size(r.Digest, in.BlobSizes)
			}
		}
	}
	plan.BytesFreed = BytesFreed(in, plan.Removals)
	return plan, nil
}

// repoState indexes one repository for the plan.
type repoState struct {
	Repo
	manifests map[digest.Digest]meta.ManifestSummary
	children  map[digest.Digest]bool            // listed by an index of the repository
	tagsOf    map[digest.Digest][]string        // every tag, referrer tags too
	lastPull  map[digest.Digest]time.Time       // by any tag or by digest
	going     map[digest.Digest]map[string]bool // tags the plan removes
}

func newRepoState(r Repo) *repoState {
	st := &repoState{Repo: r, manifests: map[digest.Digest]meta.ManifestSummary{}, children: map[digest.Digest]bool{},
		tagsOf: map[digest.Digest][]string{}, lastPull: map[digest.Digest]time.Time{}, going: map[digest.Digest]map[string]bool{}}
	for _, m := range r.Manifests {
		st.manifests[m.Digest] = m
		for _, c := range m.Children {
			st.children[c] = true
		}
	}
	for _, t := range r.Tags {
		st.tagsOf[t.Digest] = append(st.tagsOf[t.Digest], t.Name)
	}
	for _, p := range r.Pulls {
		if p.Last.After(st.lastPull[p.Digest]) {
			st.lastPull[p.Digest] = p.Last
		}
	}
	return st
}

func (st *repoState) size(d digest.Digest, blobs map[digest.Digest]int64) int64 {
	m := st.manifests[d]
	n := m.Size
	for _, b := range m.Blobs {
		n += blobs[b]
	}
	return n
}

func (st *repoState) pulledSince(d digest.Digest, t time.Time) bool {
	last, ok := st.lastPull[d]
	return ok && !last.Before(t)
}

// planTags removes the version tags no keep rule keeps.
func (st *repoState) planTags(keep []compiled, now time.Time, plan *Plan) {
	var versions []meta.TagDetail
	for _, t := range st.Tags {
		if !oci.IsReferrerTag(t.Name) {
			versions = append(versions, t)
		}
	}
	kept := map[string]bool{}
	for _, r := range keep {
		var cands []meta.TagDetail
		for _, t := range versions {
			if r.tags.Match(t.Name) {
				cands = append(cands, t)
			}
		}
		switch r.Kind {
		case meta.RetainLast:
			slices.SortStableFunc(cands, func(a, b meta.TagDetail) int {
				return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), strings.Compare(a.Name, b.Name))
			})
			for _, t := range cands[:min(max(r.Count, 0), len(cands))] {
				kept[t.Name] = true
			}
		case meta.RetainPulledWithin:
			for _, t := range cands {
				if st.pulledSince(t.Digest, now.Add(-r.Age)) {
					kept[t.Name] = true
				}
			}
		case meta.RetainTags:
			for _, t := range cands {
				kept[t.Name] = true
			}
		}
	}
	for _, t := range versions {
		if kept[t.Name] {
			continue
		}
		if rule, ok := st.Immutable[t.Name]; ok {
			plan.Skipped = append(plan.Skipped, Skip{Repository: st.Name, Digest: t.Digest, Tag: t.Name,
				Reason: fmt.Sprintf("immutable (rule %s)", rule)})
			continue
		}
		if st.going[t.Digest] == nil {
			st.going[t.Digest] = map[string]bool{}
		}
		st.going[t.Digest][t.Name] = true
	}
	for _, d := range slices.Sorted(maps.Keys(st.going)) {
		gone := st.going[d]
		r := Removal{Repository: st.Name, Digest: d, Tags: slices.Sorted(maps.Keys(gone)), Reason: "kept by no rule"}
		r.Manifest = len(gone) == len(st.tagsOf[d]) && !st.children[d]
		if len(gone) == len(st.tagsOf[d]) && st.children[d] {
			r.Reason += "; the manifest stays: an index of the repository lists it"
		}
		plan.Removals = append(plan.Removals, r)
	}
}

// planUntagged removes the untagged manifests an untagged-after rule
// lets go.
func (st *repoState) planUntagged(rules []compiled, now time.Time, plan *Plan) {
	for _, m := range st.Manifests {
		if len(st.tagsOf[m.Digest]) > 0 || st.children[m.Digest] {
			continue
		}
		if _, ok := st.manifests[m.Subject]; ok && m.Subject != "" {
			continue
		}
		for _, r := range rules {
			cutoff := now.Add(-r.Age)
			if m.CreatedAt.Before(cutoff) && !st.pulledSince(m.Digest, cutoff) {
				plan.Removals = append(plan.Removals, Removal{Repository: st.Name, Digest: m.Digest, Manifest: true,
					Reason: fmt.Sprintf("untagged for longer than %s (rule %d)", FormatAge(r.Age), r.ID)})
				break
			}
		}
	}
}

// BytesFreed is what leaves the project when removals are done: the
// removed manifests, and the blobs they reference that no manifest of the
// project left afterwards references.
func BytesFreed(in Input, removals []Removal) int64 {
	type key struct {
		repo string
		d    digest.Digest
	}
	gone := map[key]bool{}
	for _, r := range removals {
		if r.Manifest {
			gone[key{r.Repository, r.Digest}] = true
		}
	}
	if len(gone) == 0 {
		return 0
	}
	referenced := map[digest.Digest]bool{}
	for _, repo := range in.Repos {
		for _, m := range repo.Manifests {
			if !gone[key{repo.Name, m.Digest}] {
				for _, b := range m.Blobs {
					referenced[b] = true
				}
			}
		}
	}
	var n int64
	freed := map[digest.Digest]bool{}
	for _, repo := range in.Repos {
		for _, m := range repo.Manifests {
			if !gone[key{repo.Name, m.Digest}] {
				continue
			}
			n += m.Size
			for _, b := range m.Blobs {
				if !referenced[b] && !freed[b] {
					freed[b] = true
					n += in.BlobSizes[b]
				}
			}
		}
	}
	return n
}
