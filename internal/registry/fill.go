package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// Blobs of the pull-through cache. The first client to miss a blob starts
// its fill: one upstream download that goes at once into an upload of the
// blob store and into a spool file (already unlinked, so nothing is left
// behind by a crash). That client and every other one asking for the same
// digest meanwhile read the spool as it grows, so they all stream from the
// one download. When the download ends, its digest is checked, the upload
// committed and the blob linked to every repository that asked; only then
// do the readers see the end of the blob (a failed or corrupt download
// ends them with an error instead, so no client takes a bad blob for
// good).

// fills are the downloads in progress, by digest.
type fills struct {
	mu sync.Mutex
	m  map[digest.Digest]*fill
}

type fill struct {
	d     digest.Digest
	ready chan struct{} // closed once size (or err) is known
	size  int64         // -1 when the upstream did not say
	spool *os.File

	mu      sync.Mutex
	grew    *sync.Cond
	written int64
	done    bool  // committed and linked
	err     error // the download failed
	refs    int   // the downloader and the readers; the spool closes at 0
	repos   map[string]bool
	bypass  bool // not stored (quota): readers fetch on their own
}

// PullBlob serves blob d of repo, a repository of a proxy project, that is
// not cached: it joins or starts the blob's fill and returns a reader of
// it and its size (-1 when unknown). status is "" when repo is not in a
// proxy project (the caller answers as it would have).
func (s *Service) PullBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, CacheStatus, error) {
	o, err := s.origin(ctx, repo)
	if err != nil || o == nil {
		return nil, 0, "", err
	}
	// The bytes may be stored already (another repository, an earlier
	// fill): link them once the upstream confirms that this repository has
	// the blob, so that no digest leaks across repositories.
	if _, err := s.blobs.Stat(ctx, d); err == nil {
		if rc, info, err := s.linkCached(ctx, o, repo, d); err == nil {
			return rc, info.Size, CacheHit, nil
		} else if !errors.Is(err, blob.ErrNotFound) {
			return nil, 0, "", err
		}
	}
	f, started, err := s.joinFill(ctx, o, repo, d)
	if err != nil {
		return nil, 0, "", err
	}
	if !f.bypass {
		status := CacheHit
		if started {
			status = CacheMiss
		}
		return &fillReader{f: f}, f.size, status, nil
	}
	// The project's quota has no room: stream it without storing.
	f.release()
	ctx, cancel := context.WithTimeout(ctx, s.upstreamTimeout())
	rc, size, err := o.Blob(ctx, d)
	if err != nil {
		cancel()
		return nil, 0, "", s.upstreamError(ctx, o, blobUnknown(d), err)
	}
	return &cancelCloser{rc, cancel}, size, CacheBypass, nil
}

// StatUpstreamBlob answers a HEAD for blob d of repo, a repository of a
// proxy project, that is not cached: the size the upstream gives. status
// is "" when repo is not in a proxy project.
func (s *Service) StatUpstreamBlob(ctx context.Context, repo string, d digest.Digest) (int64, CacheStatus, error) {
	o, err := s.origin(ctx, repo)
	if err != nil || o == nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.upstreamTimeout())
	defer cancel()
	size, err := o.StatBlob(ctx, d)
	if err != nil {
		return 0, "", s.upstreamError(ctx, o, blobUnknown(d), err)
	}
	return size, CacheMiss, nil
}

func blobUnknown(d digest.Digest) *errcode.Error {
	return errcode.BlobUnknown.WithDetail(map[string]string{"digest": d.String()})
}

// linkCached links stored blob d to repo after the upstream confirmed it
// (ErrNotFound when the bytes went meanwhile).
func (s *Service) linkCached(ctx context.Context, o Origin, repo string, d digest.Digest) (blob.Reader, blob.Info, error) {
	sctx, cancel := context.WithTimeout(ctx, s.upstreamTimeout())
	size, err := o.StatBlob(sctx, d)
	cancel()
	if err != nil {
		return nil, blob.Info{}, s.upstreamError(sctx, o, blobUnknown(d), err)
	}
	err = s.meta.Update(ctx, func(tx meta.Tx) error { return s.linkBlob(ctx, tx, repo, d, size) })
	var gone *errcode.Error
	if errors.As(err, &gone) && gone.Code == errcode.BlobUploadInvalid {
		return nil, blob.Info{}, blob.ErrNotFound // swept meanwhile: fetch it
	}
	if err != nil {
		return nil, blob.Info{}, err
	}
	return s.OpenBlob(ctx, repo, d)
}

// joinFill returns the fill of d, started by this call (started) or by an
// earlier one, once its size is known.
func (s *Service) joinFill(ctx context.Context, o Origin, repo string, d digest.Digest) (*fill, bool, error) {
	s.fills.mu.Lock()
	if s.fills.m == nil {
		s.fills.m = make(map[digest.Digest]*fill)
	}
	f, ok := s.fills.m[d]
	if !ok {
		f = &fill{d: d, ready: make(chan struct{}), size: -1, repos: map[string]bool{}, refs: 1}
		f.grew = sync.NewCond(&f.mu)
		s.fills.m[d] = f
		go s.runFill(o, repo, f)
	}
	f.mu.Lock()
	f.repos[repo] = true
	f.refs++
	f.mu.Unlock()
	s.fills.mu.Unlock()
	select {
	case <-f.ready:
	case <-ctx.Done():
		f.release()
		return nil, false, ctx.Err()
	}
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		f.release()
		return nil, false, err
	}
	return f, !ok, nil
}

// runFill downloads f from o into the blob store and the spool.
func (s *Service) runFill(o Origin, repo string, f *fill) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.download(ctx, cancel, o, repo, f)
	s.fills.mu.Lock()
	delete(s.fills.m, f.d)
	s.fills.mu.Unlock()
	f.mu.Lock()
	if err != nil {
		f.err = err
	} else {
		f.done = true
	}
	f.grew.Broadcast()
	f.mu.Unlock()
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
	f.release()
}

func (s *Service) download(ctx context.Context, cancel context.CancelFunc, o Origin, repo string, f *fill) error {
	timeout := s.upstreamTimeout()
	// The download lives as long as the upstream keeps sending: it is not
	// tied to the client that started it, and stops when the upstream
	// stalls for longer than the timeout.
	idle := time.AfterFunc(timeout, cancel)
	defer idle.Stop()
	body, size, err := o.Blob(ctx, f.d)
	if err != nil {
		return s.upstreamError(ctx, o, blobUnknown(f.d), err)
	}
	defer body.Close()
	if room, err := s.cacheRoom(ctx, repo, f.d, size); err != nil {
		return err
	} else if !room {
		f.bypass = true
		close(f.ready)
		return nil
	}
	if err := s.checkSize(0, size); err != nil {
		return err
	}
	dir := s.opts.SpoolDir
	if dir == "" {
		dir = os.TempDir()
	}
	spool, err := os.CreateTemp(dir, "berth-fill-*")
	if err != nil {
		return fmt.Errorf("pull-through cache: spool: %w", err)
	}
	_ = os.Remove(spool.Name()) // kept open: gone with the last reader, or a crash
	f.spool, f.size = spool, size
	close(f.ready)

	id := newUploadID()
	if err := s.blobs.CreateUpload(ctx, id); err != nil {
		return storageErr(err)
	}
	pr, pw := io.Pipe()
	stored := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = s.blobs.WriteUpload(ctx, id, 0, pr)
		pr.CloseWithError(err)
		stored <- err
	}()
	h := f.d.Algorithm().Hash()
	buf := make([]byte, 256<<10)
	var rerr error
	for rerr == nil {
		var k int
		k, rerr = body.Read(buf)
		idle.Reset(timeout)
		if k == 0 {
			continue
		}
		if _, err := spool.WriteAt(buf[:k], f.written); err != nil {
			rerr = fmt.Errorf("pull-through cache: spool: %w", err)
			break
		}
		h.Write(buf[:k])
		if _, err := pw.Write(buf[:k]); err != nil {
			rerr = err
			break
		}
		f.mu.Lock()
		f.written += int64(k)
		f.grew.Broadcast()
		f.mu.Unlock()
	}
	if rerr == io.EOF {
		rerr = nil
	}
	pw.CloseWithError(rerr)
	serr := <-stored
	err = errors.Join(rerr, serr)
	switch {
	case err != nil:
	case size >= 0 && n != size:
		err = fmt.Errorf("the upstream %s sent %d bytes of %s, not %d", o, n, f.d, size)
	case digest.NewDigest(f.d.Algorithm(), h) != f.d:
		err = fmt.Errorf("the upstream %s sent bytes with digest %s for %s", o, digest.NewDigest(f.d.Algorithm(), h), f.d)
	default:
		err = s.blobs.CommitUpload(ctx, id, f.d, n)
	}
	if err != nil {
		if aerr := s.blobs.AbortUpload(context.Background(), id); aerr != nil && !errors.Is(aerr, blob.ErrUploadNotFound) {
			s.log.Warn("pull-through cache: aborting upload failed", "upload", id, "err", aerr)
		}
		s.log.Warn("pull-through cache: blob download failed", "digest", f.d, "upstream", o.String(), "err", err)
		return errcode.UpstreamUnavailable.Errorf("fetching %s from %s failed: %v", f.d, o, err)
	}
	f.mu.Lock()
	repos := make([]string, 0, len(f.repos))
	for r := range f.repos {
		repos = append(repos, r)
	}
	f.mu.Unlock()
	return s.meta.Update(ctx, func(tx meta.Tx) error {
		for _, r := range repos {
			if err := s.linkBlob(ctx, tx, r, f.d, n); err != nil {
				return err
			}
		}
		return nil
	})
}

// cacheRoom reports whether the project of repo has room in its quota for
// blob d of size bytes.
func (s *Service) cacheRoom(ctx context.Context, repo string, d digest.Digest, size int64) (bool, error) {
	project := meta.ProjectOf(repo)
	room := true
	err := s.meta.View(ctx, func(r meta.Reader) error {
		quota, err := projectQuota(r, project)
		if err != nil || quota <= 0 {
			return err
		}
		used, err := r.ProjectUsage(project)
		if err != nil {
			return err
		}
		room = used < quota && (size < 0 || used+size <= quota)
		return nil
	})
	if err == nil && !room {
		s.log.WarnContext(ctx, "pull-through cache: the project's quota has no room, serving without caching", "repo", repo, "digest", d, "size", size)
	}
	return room, err
}

func (f *fill) release() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	f.mu.Unlock()
	if last && f.spool != nil {
		_ = f.spool.Close()
	}
}

// fillReader reads a fill's spool as it grows.
type fillReader struct {
	f      *fill
	off    int64
	closed bool
}

func (r *fillReader) Read(p []byte) (int, error) {
	f := r.f
	f.mu.Lock()
	for r.off >= f.written && !f.done && f.err == nil {
		f.grew.Wait()
	}
	avail, done, err := f.written-r.off, f.done, f.err
	f.mu.Unlock()
	if avail <= 0 {
		if err != nil {
			return 0, err
		}
		if done {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	n, rerr := f.spool.ReadAt(p, r.off)
	r.off += int64(n)
	if rerr == io.EOF && n > 0 {
		rerr = nil
	}
	return n, rerr
}

func (r *fillReader) Close() error {
	if !r.closed {
		r.closed = true
		r.f.release()
	}
	return nil
}

type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
