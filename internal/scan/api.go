package scan

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrInvalid is wrapped by the errors of bad requests (a policy, an import).
var ErrInvalid = errors.New("invalid")

// ImportResult tells what an import of advisories did.
type ImportResult struct {
	Records    int      `json:"records"` // advisories read
	Changed    int      `json:"changed"` // new or newer than the stored ones
	Skipped    int      `json:"skipped"` // unreadable (see Errors)
	Generation int64    `json:"generation"`
	Errors     []string `json:"errors,omitempty"` // the first few
}

// Importer is the part of Service the API uses to import advisories.
var _ interface {
	Import(ctx context.Context, r io.Reader, source string) (ImportResult, error)
	Queue(ctx context.Context, repo string, d digest.Digest, reason string) (bool, error)
	Status(ctx context.Context, repo, ref string) (Status, error)
	DBState(ctx context.Context) (meta.VulnDBState, error)
	Policy(ctx context.Context, project string) (meta.ScanPolicy, error)
	SetPolicy(ctx context.Context, p meta.ScanPolicy) (meta.ScanPolicy, error)
	DeletePolicy(ctx context.Context, project string) error
	AdmitPull(ctx context.Context, repo string, m meta.Manifest, exempt func() bool) error
} = (*Service)(nil)
