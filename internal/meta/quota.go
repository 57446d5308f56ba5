package meta

import "github.com/opencontainers/go-digest"

// Project storage usage is the sum of the sizes of the distinct digests
// that the manifests of a project's repositories hold: each manifest's own
// bytes and every blob a manifest references (an index's children count as
// the manifests they are, not through the index). A digest used by many
// repositories of one project counts once. The manifest writers
// (PutManifest, DeleteManifest, DeleteRepository) keep it up to date in the
// same transaction, so it is exact whenever a transaction commits. The
// project of a repository is the first component of its name, whether or
// not a Project row exists.

// ProjectUsage is one project's storage usage.
type ProjectUsage struct {
	Project string
	Bytes   int64
}

type QuotaReader interface {
	// ProjectUsage returns the bytes the project's manifests hold (0 for a
	// project without any).
	ProjectUsage(project string) (int64, error)
	// ListProjectUsage returns the usage of every project that holds
	// manifests, sorted by project (one query, for listings and metrics).
	ListProjectUsage() ([]ProjectUsage, error)
	// TotalUsage is the bytes every project's manifests hold, each
	// digest counted once however many projects hold it.
	TotalUsage() (int64, error)
	// UsageCounts reports whether digest d already counts towards the
	// project's usage (a push that references it adds nothing for it).
	UsageCounts(project string, d digest.Digest) (bool, error)
}

type QuotaWriter interface {
	// SetProjectQuota saves the project's quota in bytes (0 = unlimited);
	// ErrNotFound if there is no such project.
	SetProjectQuota(project string, bytes int64) error
	// LockProjectUsage returns the project's usage and holds, until the
	// transaction ends, the lock that every change of that usage takes:
	// a quota check made after it cannot be overtaken by a concurrent push
	// (PostgreSQL; SQLite runs one writer at a time).
	LockProjectUsage(project string) (int64, error)
}
