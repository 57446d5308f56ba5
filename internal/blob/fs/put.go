package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

// PutBlob stores a whole blob in one call: it copies r into a file with no
// name yet (O_TMPFILE) in the directory the blob belongs in, calls check
// with the number of bytes copied, and only when check accepts them fsyncs
// the file, links it under the blob's name and fsyncs the directory. So a
// blob sent in one request costs no file in uploads/ and no rename across
// directories, and whatever happens before the link leaves nothing behind.
// A blob already stored is kept and the new copy dropped. Where the
// filesystem has no O_TMPFILE it goes through an upload file instead.
func (s *Store) PutBlob(ctx context.Context, d digest.Digest, r io.Reader, check func(n int64) error) (int64, error) {
	alg, hx, ok := blob.SplitDigest(d)
	if !ok {
		return 0, invalidDigest(d)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := openTemp(s.blobDir(alg, hx))
	if errors.Is(err, fs.ErrNotExist) {
		if err = s.makeBlobDir(alg, hx); err != nil {
			return 0, fmt.Errorf("blob/fs: put %s: %w", d, wrapNoSpace(err))
		}
		f, err = openTemp(s.blobDir(alg, hx))
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return s.putViaUpload(ctx, d, r, check)
	}
	if err != nil {
		return 0, fmt.Errorf("blob/fs: put %s: %w", d, wrapNoSpace(err))
	}
	defer f.Close() // unlinked until linkTemp: closing it frees it
	n, err := s.copyAt(ctx, f, 0, r)
	if err != nil {
		return n, fmt.Errorf("blob/fs: put %s: %w", d, err)
	}
	if err := check(n); err != nil {
		return n, err
	}
	dst := s.blobPath(alg, hx)
	if _, err := os.Stat(dst); err == nil {
		// Already stored: keep that one. A concurrent put may have
		// linked it without having synced the directory yet.
		return n, s.syncBlobDir(d, alg, hx)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("blob/fs: put %s: sync: %w", d, wrapNoSpace(err))
	}
	// Stored meanwhile by a concurrent put or commit (same bytes) or
	// linked here: either way the name must be durable.
	if err := linkTemp(f, dst); err != nil && !errors.Is(err, fs.ErrExist) {
		return n, fmt.Errorf("blob/fs: put %s: %w", d, wrapNoSpace(err))
	}
	return n, s.syncBlobDir(d, alg, hx)
}

// syncBlobDir fsyncs the directory of blob d.
func (s *Store) syncBlobDir(d digest.Digest, alg, hx string) error {
	if err := syncDir(s.blobDir(alg, hx)); err != nil {
		return fmt.Errorf("blob/fs: put %s: sync directory: %w", d, wrapNoSpace(err))
	}
	return nil
}

// putViaUpload is PutBlob through an upload file under a random id.
func (s *Store) putViaUpload(ctx context.Context, d digest.Digest, r io.Reader, check func(n int64) error) (int64, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := "put-" + hex.EncodeToString(b[:])
	if err := s.CreateUpload(ctx, id); err != nil {
		return 0, err
	}
	n, err := s.WriteUpload(ctx, id, 0, r)
	if err == nil {
		err = check(n)
	}
	if err == nil {
		err = s.CommitUpload(ctx, id, d, n)
	}
	if err != nil {
		_ = s.removeUpload(id)
	}
	return n, err
}
