package mem

import (
	"bytes"
	"context"
	_ "crypto/sha256" // digest.Validate needs the hashes linked in
	_ "crypto/sha512"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

var _ blob.Store = (*Store)(nil)

// Store is an in-memory blob.Store. The zero value is not usable; call New.
type Store struct {
	mu      sync.Mutex
	blobs   map[digest.Digest]entry
	uploads map[string]*entry
}

// entry is a blob's or an upload's bytes. A committed blob's data is never
// written again, so readers share it without copying.
type entry struct {
	data []byte
	mod  time.Time
}

// New returns an empty Store.
func New() *Store {
	return &Store{blobs: map[digest.Digest]entry{}, uploads: map[string]*entry{}}
}

// Stat returns the blob's info or blob.ErrNotFound.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.blobs[d]
	if !ok {
		return blob.Info{}, notFound(d)
	}
	return blob.Info{Digest: d, Size: int64(len(e.data)), ModTime: e.mod}, nil
}

// Open returns a reader over the blob's bytes (shared, not copied).
func (s *Store) Open(ctx context.Context, d digest.Digest) (blob.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.blobs[d]
	if !ok {
		return nil, notFound(d)
	}
	return reader{bytes.NewReader(e.data)}, nil
}

// reader adds a no-op Close to a bytes.Reader.
type reader struct{ *bytes.Reader }

func (reader) Close() error { return nil }

// Delete removes the blob. Readers already open keep their bytes.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[d]; !ok {
		return notFound(d)
	}
	delete(s.blobs, d)
	return nil
}

// Walk calls fn for every blob, on a snapshot taken when Walk starts, so fn
// may call back into the Store.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	s.mu.Lock()
	infos := make([]blob.Info, 0, len(s.blobs))
	for d, e := range s.blobs {
		infos = append(infos, blob.Info{Digest: d, Size: int64(len(e.data)), ModTime: e.mod})
	}
	s.mu.Unlock()
	return visit(ctx, infos, fn)
}

// CreateUpload starts an empty upload. The id follows the fs driver's rule,
// [A-Za-z0-9_-]{1,128}, and must not be in use.
func (s *Store) CreateUpload(ctx context.Context, id string) error {
	if !blob.ValidUploadID(id) {
		return fmt.Errorf("blob/mem: invalid upload id %q", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[id]; ok {
		return fmt.Errorf("blob/mem: upload %q already exists: %w", id, fs.ErrExist)
	}
	s.uploads[id] = &entry{mod: time.Now()}
	return nil
}

// WriteUpload reads r whole (outside the lock), then replaces the upload's
// bytes from offset on with what it read. Bytes read before r fails are kept
// and counted, as in the fs driver.
func (s *Store) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	if err := s.checkOffset(id, offset); err != nil {
		return 0, err
	}
	data, rerr := io.ReadAll(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return 0, uploadNotFound(id)
	}
	if offset > int64(len(u.data)) {
		return 0, invalidOffset(id, int64(len(u.data)), offset)
	}
	u.data = append(u.data[:offset], data...)
	u.mod = time.Now()
	if rerr != nil {
		return int64(len(data)), fmt.Errorf("blob/mem: upload %q: read upload body: %w", id, rerr)
	}
	return int64(len(data)), nil
}

func (s *Store) checkOffset(id string, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return uploadNotFound(id)
	}
	if offset < 0 || offset > int64(len(u.data)) {
		return invalidOffset(id, int64(len(u.data)), offset)
	}
	return nil
}

// CommitUpload moves the upload's first size bytes to the blob d, or drops
// the upload if d is already stored.
func (s *Store) CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("blob/mem: commit upload %q: digest %q: %w", id, d, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return uploadNotFound(id)
	}
	if _, exists := s.blobs[d]; exists {
		delete(s.uploads, id)
		return nil
	}
	if size < 0 || size > int64(len(u.data)) {
		return fmt.Errorf("%w: commit upload %q of %d bytes, it holds %d", blob.ErrInvalidOffset, id, size, len(u.data))
	}
	// Cap the slice so the blob's bytes can never be appended to.
	s.blobs[d] = entry{data: u.data[:size:size], mod: time.Now()}
	delete(s.uploads, id)
	return nil
}

// AbortUpload drops the upload.
func (s *Store) AbortUpload(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[id]; !ok {
		return uploadNotFound(id)
	}
	delete(s.uploads, id)
	return nil
}

// WalkUploads calls fn for every upload, on a snapshot taken when it starts.
func (s *Store) WalkUploads(ctx context.Context, fn func(blob.UploadInfo) error) error {
	s.mu.Lock()
	infos := make([]blob.UploadInfo, 0, len(s.uploads))
	for id, u := range s.uploads {
		infos = append(infos, blob.UploadInfo{ID: id, Size: int64(len(u.data)), ModTime: u.mod})
	}
	s.mu.Unlock()
	return visit(ctx, infos, fn)
}

func notFound(d digest.Digest) error {
	return fmt.Errorf("%w: %s", blob.ErrNotFound, d)
}

func uploadNotFound(id string) error {
	return fmt.Errorf("%w: %q", blob.ErrUploadNotFound, id)
}

func invalidOffset(id string, size, offset int64) error {
	return fmt.Errorf("%w: upload %q holds %d bytes, write at %d", blob.ErrInvalidOffset, id, size, offset)
}

// ReadUpload returns a reader over the first size bytes of an upload.
func (s *Store) ReadUpload(ctx context.Context, id string, size int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return nil, blob.ErrUploadNotFound
	}
	data := u.data
	if int64(len(data)) > size {
		data = data[:size]
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(data))), nil
}

// visit calls fn for each item, stopping at the first error or when ctx ends.
func visit[T any](ctx context.Context, items []T, fn func(T) error) error {
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}
