package fs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

var _ blob.Store = (*Store)(nil)

// Store is a blob.Store on a local directory. Beyond the root's path it
// holds only hints for sending cold blobs (which are being read into the
// page cache, which were sent cold recently), so several Stores (in one
// process or many) may share a root.
type Store struct {
	root      string
	uploadDir string
	// noDirect turns direct I/O (large upload writes, cold reads) off (tests run
	// the conformance suite both ways).
	noDirect bool
	// directBytes counts the upload bytes written with direct I/O,
	// directReadBytes the blob bytes read with it.
	directBytes     atomic.Int64
	directReadBytes atomic.Int64
	// warming holds the paths of cold blobs being read into the page
	// cache after a send (see coldFile); coldSends holds a token per
	// send of a cold blob reading with direct I/O.
	warming   sync.Map
	coldSends chan struct{}
	// coldSeen holds when each blob was last sent cold (see coldFile).
	coldMu   sync.Mutex
	coldSeen map[string]time.Time
}

// Option changes how New sets a Store up.
type Option func(*Store)

// WithoutDirectIO makes the Store read and write only through the page
// cache (uploads with pwrite, pulls with sendfile).
func WithoutDirectIO() Option { return func(s *Store) { s.noDirect = true } }

// New returns a Store rooted at root, creating root, blobs/ and uploads/ if
// they are missing.
func New(root string, opts ...Option) (*Store, error) {
	if root == "" {
		return nil, errors.New("blob/fs: empty root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob/fs: root %q: %w", root, err)
	}
	s := &Store{root: abs, uploadDir: filepath.Join(abs, uploadsDir), coldSends: make(chan struct{}, coldSends)}
	for _, o := range opts {
		o(s)
	}
	for _, dir := range []string{filepath.Join(abs, blobsDir), s.uploadDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("blob/fs: create %s: %w", dir, wrapNoSpace(err))
		}
	}
	return s, nil
}

// Root returns the absolute path of the store's root directory.
func (s *Store) Root() string { return s.root }

// Stat returns the blob's size and modification time with one stat(2).
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return blob.Info{}, invalidDigest(d)
	}
	fi, err := os.Stat(s.blobPath(alg, hex))
	if err != nil {
		return blob.Info{}, blobErr(d, err)
	}
	if !fi.Mode().IsRegular() {
		return blob.Info{}, fmt.Errorf("%w: %s is not a regular file", blob.ErrNotFound, d)
	}
	return blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open returns the blob's file, positioned at offset 0: its *os.File, or,
// for a large blob the page cache mostly does not hold, a reader that also
// sends itself with direct I/O (SendTo).
func (s *Store) Open(ctx context.Context, d digest.Digest) (blob.Reader, error) {
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return nil, invalidDigest(d)
	}
	f, err := os.Open(s.blobPath(alg, hex))
	if err != nil {
		return nil, blobErr(d, err)
	}
	if !s.noDirect {
		if cf, ok := s.openCold(f); ok {
			return cf, nil
		}
	}
	return f, nil
}

// Delete removes the blob's file. Readers that already opened it keep
// reading the old bytes until they close.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return invalidDigest(d)
	}
	if err := os.Remove(s.blobPath(alg, hex)); err != nil {
		return blobErr(d, err)
	}
	return nil
}

// Walk calls fn for every committed blob. Directories and files whose names
// do not fit the layout are skipped.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	base := filepath.Join(s.root, blobsDir)
	algs, err := readDirNames(base)
	if err != nil {
		return fmt.Errorf("blob/fs: walk: %w", err)
	}
	for _, alg := range algs {
		prefixes, err := readDirNames(filepath.Join(base, alg))
		if err != nil {
			return fmt.Errorf("blob/fs: walk: %w", err)
		}
		for _, prefix := range prefixes {
			if len(prefix) != 2 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(base, alg, prefix)
			entries, err := os.ReadDir(dir)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("blob/fs: walk: %w", err)
			}
			for _, e := range entries {
				name := e.Name()
				if _, _, ok := blob.SplitDigest(digest.Digest(alg + ":" + name)); !ok || name[:2] != prefix || !e.Type().IsRegular() {
					continue
				}
				fi, err := e.Info()
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						continue // deleted while walking
					}
					return fmt.Errorf("blob/fs: walk: %w", err)
				}
				info := blob.Info{
					Digest:  digest.NewDigestFromEncoded(digest.Algorithm(alg), name),
					Size:    fi.Size(),
					ModTime: fi.ModTime(),
				}
				if err := fn(info); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readDirNames lists the names of the subdirectories of dir; a missing dir
// has none.
func readDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// syncDir fsyncs a directory so a rename, create or delete in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// isNoSpace reports whether err means the filesystem is full or a quota is
// exhausted.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// wrapNoSpace makes a full-disk error match blob.ErrNoSpace while keeping the
// original error in the chain; other errors pass through unchanged.
func wrapNoSpace(err error) error {
	if err != nil && isNoSpace(err) && !errors.Is(err, blob.ErrNoSpace) {
		return fmt.Errorf("%w: %w", blob.ErrNoSpace, err)
	}
	return err
}

func invalidDigest(d digest.Digest) error {
	return fmt.Errorf("%w: invalid or unsupported digest %q", blob.ErrNotFound, d)
}

func blobErr(d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, d)
	}
	return fmt.Errorf("blob/fs: %s: %w", d, wrapNoSpace(err))
}
