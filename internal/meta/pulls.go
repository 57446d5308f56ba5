package meta

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// ActionPull is the audit action of a pull (a manifest GET); the audit
// recorder turns batches of them into pull counts.
const ActionPull = "pull"

// PullCount is how often, and when last, a manifest of a repository was
// pulled through one tag (Tag "" = by digest).
type PullCount struct {
	Repo   string
	Digest digest.Digest
	Tag    string
	Pulls  int64
	Last   time.Time
}

// PullReader reads the pull statistics kept for retention and the API.
type PullReader interface {
	// PullStats returns the pull counts of repo's manifests, one per
	// manifest and tag, sorted by digest then tag.
	PullStats(repo string) ([]PullCount, error)
}

// PullWriter records pulls, in batches collected off the pull path.
type PullWriter interface {
	// RecordPulls adds each count to its manifest's row (creating it) and
	// moves its last pull time forward; counts of manifests that no
	// longer exist are dropped.
	RecordPulls(ps []PullCount) error
}
