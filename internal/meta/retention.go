package meta

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Kinds of retention rule.
const (
	// RetainLast keeps the Count most recently pushed version tags.
	RetainLast = "keep-last"
	// RetainPulledWithin keeps version tags whose manifest was pulled
	// within Age.
	RetainPulledWithin = "keep-pulled-within"
	// RetainTags keeps every version tag matching Tags.
	RetainTags = "keep-tags"
	// RemoveUntaggedAfter removes untagged manifests pushed more than Age
	// ago and not pulled within Age.
	RemoveUntaggedAfter = "untagged-after"
)

// RetentionRule is one retention rule of a project. The keep-* kinds say
// which version tags of the repositories matching Repositories to keep
// (Tags filters them): a repository any keep-* rule matches loses the
// version tags none of its rules keeps. Patterns use the grammar of
// docs/patterns.md; Repositories matches the whole repository name.
type RetentionRule struct {
	ID           int64 // assigned by the store
	Project      string
	Repositories string
	Tags         string
	Kind         string        // RetainLast, RetainPulledWithin, RetainTags or RemoveUntaggedAfter
	Count        int           // RetainLast
	Age          time.Duration // RetainPulledWithin, RemoveUntaggedAfter
	CreatedAt    time.Time
}

// TagDetail is one tag of a repository with the manifest it points at and
// when it was last set (pushed or moved).
type TagDetail struct {
	Name      string
	Digest    digest.Digest
	UpdatedAt time.Time
}

// ManifestSummary is a manifest of a repository without its content: what
// retention weighs (its references, its subject, its age).
type ManifestSummary struct {
	Digest    digest.Digest
	MediaType string
	Size      int64
	Subject   digest.Digest // "" without one
	CreatedAt time.Time
	Blobs     []digest.Digest // config and layers, sorted
	Children  []digest.Digest // the entries of an index, sorted
}

type RetentionReader interface {
	// RetentionRules returns the rules of project in ID order.
	RetentionRules(project string) ([]RetentionRule, error)
	// ListRetentionRules returns every project's rules, by project then ID.
	ListRetentionRules() ([]RetentionRule, error)
	// ProjectRepositories returns the names of project's repositories
	// (the project itself and everything below project/), sorted.
	ProjectRepositories(project string) ([]string, error)
	// TagDetails returns the tags of repo, sorted by name.
	TagDetails(repo string) ([]TagDetail, error)
	// ManifestSummaries returns the manifests of repo, sorted by digest.
	ManifestSummaries(repo string) ([]ManifestSummary, error)
}

type RetentionWriter interface {
	// AddRetentionRule stores r and returns its ID; ErrNotFound when the
	// project does not exist.
	AddRetentionRule(r RetentionRule) (int64, error)
	// DeleteRetentionRule removes the rule of project with the id;
	// ErrNotFound if there is none.
	DeleteRetentionRule(project string, id int64) error
}
