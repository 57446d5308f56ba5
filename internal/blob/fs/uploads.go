package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

// bufSize is the size of the pooled copy buffers: each write(2) to an upload
// file carries up to this many bytes.
const bufSize = 1 << 20

// directAlign is the alignment O_DIRECT asks of file offsets, lengths and
// buffer addresses: 4 KiB covers devices with 512-byte and 4 KiB logical
// blocks.
const directAlign = 4096

// directMin is how much of an upload goes through the page cache before
// direct I/O takes over: blobs up to this size stay cached for the pulls
// that follow (cheap to cache, likely pulled soon), larger ones skip the
// cache. A variable for the tests.
var directMin int64 = 8 << 20

// writebackEvery is how many bytes an upload write lets pile up in the page
// cache before it asks the kernel to start writing them out.
const writebackEvery = 8 << 20

// bufPool holds bufSize buffers whose first byte is directAlign-aligned, so
// they can be handed to an O_DIRECT write as they are.
var bufPool = sync.Pool{New: func() any { return alignedBuf(bufSize) }}

// CreateUpload creates the empty upload file uploads/<id>. The id must match
// [A-Za-z0-9_-]{1,128} and must not be in use.
func (s *Store) CreateUpload(ctx context.Context, id string) error {
	if !blob.ValidUploadID(id) {
		return fmt.Errorf("blob/fs: invalid upload id %q", id)
	}
	f, err := os.OpenFile(s.uploadPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("blob/fs: upload %q already exists: %w", id, fs.ErrExist)
		}
		return fmt.Errorf("blob/fs: create upload %q: %w", id, wrapNoSpace(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob/fs: create upload %q: %w", id, wrapNoSpace(err))
	}
	return nil
}

// WriteUpload truncates the upload file to offset if it is longer, then
// copies r into it from offset on, in bufSize writes. Past the upload's
// first directMin bytes, whole aligned buffers are written with direct I/O
// (see openDirect) unless the store was opened without it or the filesystem
// refuses it; the rest, and short bodies, go through the page cache.
//
// Every byte consumed from r is written before WriteUpload returns, even when
// r fails: n counts the bytes consumed and stored, unless the file write
// itself failed (then n counts what was stored). The bytes are not fsync'd
// here; CommitUpload does that. After a machine crash an upload may therefore
// hold fewer bytes than were acknowledged, never different ones; the next
// write past its end returns blob.ErrInvalidOffset and a commit of more bytes
// than it holds fails, so the loss is always detected.
func (s *Store) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (n int64, err error) {
	if !blob.ValidUploadID(id) {
		return 0, uploadNotFound(id)
	}
	if offset < 0 {
		return 0, fmt.Errorf("%w: negative offset %d", blob.ErrInvalidOffset, offset)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(s.uploadPath(id), os.O_WRONLY, 0)
	if err != nil {
		return 0, uploadErr(id, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("blob/fs: upload %q: %w", id, wrapNoSpace(cerr))
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("blob/fs: upload %q: %w", id, err)
	}
	size := fi.Size()
	if offset > size {
		return 0, fmt.Errorf("%w: upload %q holds %d bytes, write at %d", blob.ErrInvalidOffset, id, size, offset)
	}
	if offset < size {
		if err := f.Truncate(offset); err != nil {
			return 0, fmt.Errorf("blob/fs: upload %q: %w", id, wrapNoSpace(err))
		}
	}
	n, err = s.copyAt(ctx, f, offset, r)
	if err != nil {
		return n, fmt.Errorf("blob/fs: upload %q: %w", id, err)
	}
	return n, nil
}

// copyAt copies r to f from off on through two pooled buffers: while one
// buffer's pwrite(2) runs in another goroutine, the next is filled from r, so
// reading (and the caller's hashing, which happens as r is read) overlaps
// with writing. It fills a buffer before each write, so a slow network reader
// handing out a few KiB per Read still costs one pwrite(2) per bufSize bytes.
// A fill that starts at an unaligned offset is cut short at the next
// directAlign boundary, so that every later buffer starts aligned. Once the
// upload holds directMin bytes and a buffer fills completely, the rest goes
// through an O_DIRECT descriptor (see writer.writeAt). Bytes read before an
// error are written before the error is returned.
func (s *Store) copyAt(ctx context.Context, f *os.File, off int64, r io.Reader) (int64, error) {
	b0, b1 := bufPool.Get().(*[]byte), bufPool.Get().(*[]byte)
	defer bufPool.Put(b0)
	defer bufPool.Put(b1)
	bufs := [2][]byte{*b0, *b1}
	w := writer{f: f, directBytes: &s.directBytes}
	defer w.close()
	tryDirect := !s.noDirect
	var issued int64 // bytes handed to the writer so far
	for cur := 0; ; cur ^= 1 {
		if err := ctx.Err(); err != nil {
			w.wait()
			return w.written, err
		}
		buf := bufs[cur]
		if rem := int((off + issued) % directAlign); rem != 0 {
			buf = buf[:len(buf)-rem]
		}
		n, rerr := fill(r, buf)
		if werr := w.wait(); werr != nil {
			return w.written, wrapNoSpace(werr)
		}
		if tryDirect && n == len(buf) && off+issued >= directMin {
			// A large blob, and more is coming: open the direct
			// descriptor (no write is in flight, so w is ours to change).
			tryDirect = false
			if df, err := openDirect(f.Name()); err == nil {
				w.direct = df
			}
		}
		switch {
		case n > 0 && rerr != nil:
			// The last buffer (for a small blob the only one): nothing
			// is left to overlap it with, so write it here.
			m, werr := w.writeAt(buf[:n], off+issued)
			w.written += int64(m)
			issued += int64(n)
			if werr != nil {
				return w.written, wrapNoSpace(werr)
			}
		case n > 0:
			w.start(buf[:n], off+issued)
			issued += int64(n)
		}
		if rerr != nil {
			if werr := w.wait(); werr != nil {
				return w.written, wrapNoSpace(werr)
			}
			if rerr == io.EOF {
				return w.written, nil
			}
			return w.written, fmt.Errorf("read upload body: %w", rerr)
		}
	}
}

// writer runs one write at a time in the background. With a direct
// descriptor it writes the aligned part of a buffer that starts aligned
// through it and the rest through the page cache; page-cache bytes get a
// writeback hint every writebackEvery bytes.
type writer struct {
	f      *os.File
	direct *os.File // O_DIRECT descriptor of the same file, or nil
	// directBytes counts the bytes written through direct.
	directBytes *atomic.Int64
	written     int64 // bytes written by finished writes
	pending     int64 // page-cache bytes written since the last writeback hint
	done        chan error
}

func (w *writer) start(b []byte, at int64) {
	w.done = make(chan error, 1)
	go func() {
		n, err := w.writeAt(b, at)
		w.written += int64(n)
		w.done <- err
	}()
}

func (w *writer) writeAt(b []byte, at int64) (int, error) {
	done := 0
	if k := len(b) &^ (directAlign - 1); w.direct != nil && at%directAlign == 0 && k > 0 {
		n, err := w.direct.WriteAt(b[:k], at)
		switch {
		case err != nil && n == 0 && directRefused(err):
			// This filesystem takes no direct I/O after all: from here
			// on everything goes through the page cache.
			w.direct.Close()
			w.direct = nil
		case err != nil:
			return n, err
		default:
			w.directBytes.Add(int64(n))
			done, b, at = n, b[n:], at+int64(n)
		}
	}
	if len(b) == 0 {
		return done, nil
	}
	n, err := w.f.WriteAt(b, at)
	if w.pending += int64(n); err == nil && w.pending >= writebackEvery {
		startWriteback(w.f, at+int64(n)-w.pending, w.pending)
		w.pending = 0
	}
	return done + n, err
}

// close waits for the write in flight and closes the direct descriptor.
// Its close error says nothing about the data (the fsync at commit does),
// so it is dropped.
func (w *writer) close() {
	w.wait()
	if w.direct != nil {
		w.direct.Close()
		w.direct = nil
	}
}

// wait waits for the write in flight, if any, and returns its error.
func (w *writer) wait() error {
	if w.done == nil {
		return nil
	}
	err := <-w.done
	w.done = nil
	return err
}

// fill reads from r until buf is full or r returns an error (io.EOF
// included), and returns what it read with that error.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// CommitUpload makes the upload's first size bytes the blob d: it truncates
// the file to size, fsyncs it, renames it to its place under blobs/ and
// fsyncs that directory. If d is already stored the upload is removed and the
// stored blob kept. On a failure before the rename nothing is visible under d
// and the upload is left as it was (but for the truncation), so the commit can
// be retried.
func (s *Store) CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) error {
	if !blob.ValidUploadID(id) {
		return uploadNotFound(id)
	}
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return fmt.Errorf("blob/fs: commit upload %q: invalid or unsupported digest %q", id, d)
	}
	if size < 0 {
		return fmt.Errorf("blob/fs: commit upload %q: negative size %d", id, size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	src, dst := s.uploadPath(id), s.blobPath(alg, hex)
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		return uploadErr(id, err)
	}
	if _, err := os.Stat(dst); err == nil {
		// Already stored: keep that blob, drop the upload unsynced. A
		// concurrent commit may have renamed it into place without
		// having synced the directory yet.
		f.Close()
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return fmt.Errorf("blob/fs: commit upload %q: sync directory: %w", id, wrapNoSpace(err))
		}
		return s.removeUpload(id)
	}
	err = prepareCommit(f, id, size)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("blob/fs: commit upload %q: %w", id, wrapNoSpace(cerr))
	}
	if err != nil {
		return err
	}
	// A concurrent commit of the same digest may rename over ours, or ours
	// over theirs: both files hold the same bytes, so either is fine.
	err = os.Rename(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		// Most likely the first blob under this prefix: create the
		// directories and try again. If the upload itself vanished (a
		// concurrent commit or abort), the second rename says so.
		if err = s.makeBlobDir(alg, hex); err != nil {
			return fmt.Errorf("blob/fs: commit upload %q: %w", id, wrapNoSpace(err))
		}
		err = os.Rename(src, dst)
		if errors.Is(err, fs.ErrNotExist) {
			return uploadNotFound(id)
		}
	}
	if err != nil {
		return fmt.Errorf("blob/fs: commit upload %q: %w", id, wrapNoSpace(err))
	}
	// The blob is complete and its bytes durable; make the new name durable.
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("blob/fs: commit upload %q: sync directory: %w", id, wrapNoSpace(err))
	}
	return nil
}

// prepareCommit checks that the upload f holds at least size bytes, drops
// the rest and fsyncs it.
func prepareCommit(f *os.File, id string, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blob/fs: commit upload %q: %w", id, err)
	}
	if fi.Size() < size {
		return fmt.Errorf("%w: commit upload %q of %d bytes, it holds %d", blob.ErrInvalidOffset, id, size, fi.Size())
	}
	if fi.Size() > size {
		if err := f.Truncate(size); err != nil {
			return fmt.Errorf("blob/fs: commit upload %q: %w", id, wrapNoSpace(err))
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("blob/fs: commit upload %q: sync: %w", id, wrapNoSpace(err))
	}
	return nil
}

// makeBlobDir creates blobs/<alg>/ and blobs/<alg>/<2 hex>/ as needed and
// fsyncs the parent of each directory it creates.
func (s *Store) makeBlobDir(alg, hex string) error {
	base := filepath.Join(s.root, blobsDir)
	algDir := filepath.Join(base, alg)
	steps := [...]struct{ dir, parent string }{
		{algDir, base},
		{filepath.Join(algDir, hex[:2]), algDir},
	}
	for _, st := range steps {
		err := os.Mkdir(st.dir, 0o755)
		switch {
		case err == nil:
			if err := syncDir(st.parent); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
		default:
			return err
		}
	}
	return nil
}

// AbortUpload removes the upload file.
func (s *Store) AbortUpload(ctx context.Context, id string) error {
	if !blob.ValidUploadID(id) {
		return uploadNotFound(id)
	}
	return s.removeUpload(id)
}

func (s *Store) removeUpload(id string) error {
	if err := os.Remove(s.uploadPath(id)); err != nil {
		return uploadErr(id, err)
	}
	return nil
}

// WalkUploads calls fn for every upload file. Files whose names are not
// valid upload ids are skipped.
func (s *Store) WalkUploads(ctx context.Context, fn func(blob.UploadInfo) error) error {
	entries, err := os.ReadDir(s.uploadDir)
	if err != nil {
		return fmt.Errorf("blob/fs: walk uploads: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if !blob.ValidUploadID(name) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // committed or aborted while walking
			}
			return fmt.Errorf("blob/fs: walk uploads: %w", err)
		}
		if err := fn(blob.UploadInfo{ID: name, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

func uploadNotFound(id string) error {
	return fmt.Errorf("%w: %q", blob.ErrUploadNotFound, id)
}

func uploadErr(id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return uploadNotFound(id)
	}
	return fmt.Errorf("blob/fs: upload %q: %w", id, wrapNoSpace(err))
}

// ReadUpload returns a reader over the first size bytes of an upload (the
// registry re-hashes an upload finished with another digest algorithm).
func (s *Store) ReadUpload(ctx context.Context, id string, size int64) (io.ReadCloser, error) {
	if !blob.ValidUploadID(id) {
		return nil, blob.ErrUploadNotFound
	}
	f, err := os.Open(s.uploadPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blob.ErrUploadNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob/fs: read upload %q: %w", id, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, size), f}, nil
}
