package blob

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors every driver returns (wrapped or bare) so callers can use errors.Is.
var (
	// ErrNotFound: no committed blob has that digest.
	ErrNotFound = errors.New("blob: not found")
	// ErrUploadNotFound: no upload with that id exists in the driver.
	ErrUploadNotFound = errors.New("blob: upload not found")
	// ErrInvalidOffset: a write started past the end of what the upload holds.
	ErrInvalidOffset = errors.New("blob: invalid upload offset")
	// ErrNoSpace: the backing store is full. Nothing half-written becomes visible.
	ErrNoSpace = errors.New("blob: no space left on storage")
)

// Info describes one committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// UploadInfo describes one upload session as the driver sees it.
type UploadInfo struct {
	ID      string
	Size    int64
	ModTime time.Time
}

// Reader is what Open returns. Drivers that can serve from a file return an
// *os.File so net/http can use sendfile.
type Reader = io.ReadSeekCloser

// Store is a content-addressed blob store keyed by digest only. It knows
// nothing of repositories, tags or manifests.
//
// Uploads are identified by a caller-chosen id. A driver keeps whatever state
// it needs for an upload (a temporary file, a multipart upload id, a buffered
// tail smaller than a minimum part size) in its own backend, so any process
// sharing the backend can continue an upload another one started. The running
// hash is NOT the driver's business: the registry service hashes the bytes as
// they stream through and saves the hash state with the session.
type Store interface {
	// Stat returns the blob's info or ErrNotFound.
	Stat(ctx context.Context, d digest.Digest) (Info, error)
	// Open returns a reader positioned at offset 0, or ErrNotFound.
	Open(ctx context.Context, d digest.Digest) (Reader, error)
	// Delete removes a committed blob. Deleting a missing blob returns ErrNotFound.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for every committed blob, in no particular order.
	// Returning an error from fn stops the walk and Walk returns it.
	Walk(ctx context.Context, fn func(Info) error) error

	// CreateUpload starts an empty upload with the given id; an id in use
	// gives an error wrapping io/fs.ErrExist.
	CreateUpload(ctx context.Context, id string) error
	// WriteUpload writes r to the upload starting at offset and returns the
	// number of bytes written. Anything the upload held at or past offset is
	// discarded first (so a retried write after a crash is safe). offset
	// greater than the upload's current size returns ErrInvalidOffset.
	WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error)
	// CommitUpload makes the upload's first size bytes visible as blob d,
	// atomically: before it returns nothing under d is visible, after it
	// returns the blob is complete and durable. The caller has already
	// verified the digest. If d already exists the upload is simply removed.
	// The upload is gone afterwards.
	CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) error
	// AbortUpload discards an upload. A missing upload returns ErrUploadNotFound.
	AbortUpload(ctx context.Context, id string) error
	// WalkUploads calls fn for every upload the driver holds (to purge
	// abandoned ones).
	WalkUploads(ctx context.Context, fn func(UploadInfo) error) error
}
