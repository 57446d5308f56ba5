package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// quarantineTTL is how long a node trusts its copy of the quarantine list
// (another node's verify may have added to it).
const quarantineTTL = 10 * time.Second

// quarantine is this process's copy of the quarantined blobs: an
// immutable snapshot swapped atomically, so the blob path pays one atomic
// load and a map lookup; one caller at a time reloads a stale snapshot.
type quarantine struct {
	snap   atomic.Pointer[quarantineSnap]
	reload sync.Mutex
}

type quarantineSnap struct {
	set    map[digest.Digest]string
	loaded time.Time
}

// snapshot returns a snapshot no older than quarantineTTL when the store
// answers (the previous one otherwise).
func (s *Service) quarantineSnapshot(ctx context.Context) *quarantineSnap {
	q := &s.quar
	if sn := q.snap.Load(); sn != nil && time.Since(sn.loaded) < quarantineTTL {
		return sn
	}
	q.reload.Lock()
	defer q.reload.Unlock()
	if sn := q.snap.Load(); sn != nil && time.Since(sn.loaded) < quarantineTTL {
		return sn // another caller reloaded it
	}
	var qs []meta.QuarantinedBlob
	if err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		qs, err = r.ListQuarantine()
		return err
	}); err != nil {
		s.log.ErrorContext(ctx, "reading the quarantine list", "err", err)
		if sn := q.snap.Load(); sn != nil {
			return sn
		}
		return &quarantineSnap{}
	}
	sn := &quarantineSnap{set: make(map[digest.Digest]string, len(qs)), loaded: time.Now()}
	for _, b := range qs {
		sn.set[digest.Digest(b.Digest)] = b.Reason
	}
	q.snap.Store(sn)
	return sn
}

// quarantined reports whether d is quarantined, and why.
func (s *Service) quarantined(ctx context.Context, d digest.Digest) (string, bool) {
	reason, ok := s.quarantineSnapshot(ctx).set[d]
	return reason, ok
}

// anyQuarantined reports whether anything is quarantined (usually not,
// which skips the per-manifest check).
func (s *Service) anyQuarantined(ctx context.Context) bool {
	return len(s.quarantineSnapshot(ctx).set) > 0
}

func (s *Service) forgetQuarantine() { s.quar.snap.Store(nil) }

func quarantinedError(d digest.Digest, reason string) error {
	return errcode.BlobUnknown.Errorf("blob %s failed verification (%s) and is quarantined: push it again", d, reason).
		WithDetail(map[string]string{"digest": d.String()})
}

// checkManifestBlobs refuses a manifest that needs a quarantined blob.
func (s *Service) checkManifestBlobs(ctx context.Context, m meta.Manifest) error {
	if !s.anyQuarantined(ctx) {
		return nil
	}
	p, err := oci.ParseManifest(m.MediaType, m.Content)
	if err != nil {
		return nil
	}
	for _, b := range p.Blobs {
		if reason, ok := s.quarantined(ctx, b.Digest); ok {
			return errcode.ManifestBlobUnknown.Errorf("manifest %s needs blob %s, which failed verification (%s) and is quarantined: push the image again",
				m.Digest, b.Digest, reason).WithStatus(404)
		}
	}
	return nil
}

// replaceQuarantined removes the bytes of a quarantined blob before a new
// upload of it commits, so the verified upload takes their place; liftQuarantine
// then lets it be served again.
func (s *Service) replaceQuarantined(ctx context.Context, d digest.Digest) (bool, error) {
	if _, ok := s.quarantined(ctx, d); !ok {
		return false, nil
	}
	if err := s.blobs.Delete(ctx, d); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return true, err
	}
	return true, nil
}

func (s *Service) liftQuarantine(ctx context.Context, d digest.Digest) error {
	defer s.forgetQuarantine()
	return s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.DeleteQuarantine(d.String()); err != nil {
			return err
		}
		return s.record(ctx, tx, meta.Event{Kind: "blob.restore", Digest: d, CreatedAt: s.opts.Now()})
	})
}

// VerifyOptions tune a verification run.
type VerifyOptions struct {
	// Rate bounds the bytes read per second (0: no bound), so a run does
	// not starve clients.
	Rate int64
	// DryRun reports without quarantining.
	DryRun bool
}

// MissingBlob is a blob linked in the index but absent from the store.
type MissingBlob struct {
	Repo   string
	Digest digest.Digest
}

// VerifyReport is what a verification run found.
type VerifyReport struct {
	Blobs    int
	Bytes    int64
	Corrupt  []digest.Digest // quarantined unless DryRun
	Missing  []MissingBlob
	Orphans  []digest.Digest // stored, linked nowhere (GC's business)
	Duration time.Duration
}

// Verify re-hashes every stored blob, quarantines those whose bytes do not
// match their digest, and cross-checks the index against the store.
func (s *Service) Verify(ctx context.Context, o VerifyOptions) (VerifyReport, error) {
	start := time.Now()
	var rep VerifyReport
	stored := map[digest.Digest]bool{}
	throttle := newByteThrottle(o.Rate)
	err := s.blobs.Walk(ctx, func(info blob.Info) error {
		stored[info.Digest] = true
		rep.Blobs++
		ok, n, err := s.verifyBlob(ctx, info.Digest, throttle)
		rep.Bytes += n
		if err != nil {
			return err
		}
		if !ok {
			rep.Corrupt = append(rep.Corrupt, info.Digest)
			if !o.DryRun {
				return s.quarantineBlob(ctx, info.Digest, "content does not hash to its digest")
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	linked := map[digest.Digest]bool{}
	last := ""
	for {
		var repos []string
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			repos, err = r.ListRepositories(last, 500)
			return err
		}); err != nil {
			return rep, err
		}
		for _, repo := range repos {
			var links []meta.BlobLink
			if err := s.meta.View(ctx, func(r meta.Reader) error {
				var err error
				links, err = r.ListBlobLinks(repo, "", 0)
				return err
			}); err != nil {
				return rep, err
			}
			for _, l := range links {
				linked[l.Digest] = true
				if !stored[l.Digest] {
					rep.Missing = append(rep.Missing, MissingBlob{Repo: repo, Digest: l.Digest})
				}
			}
		}
		if len(repos) < 500 {
			break
		}
		last = repos[len(repos)-1]
	}
	for d := range stored {
		if !linked[d] {
			rep.Orphans = append(rep.Orphans, d)
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// verifyBlob hashes one stored blob; it reports whether it matches and how
// many bytes it read.
func (s *Service) verifyBlob(ctx context.Context, d digest.Digest, t *byteThrottle) (bool, int64, error) {
	if d.Validate() != nil {
		return false, 0, nil
	}
	rc, err := s.blobs.Open(ctx, d)
	if errors.Is(err, blob.ErrNotFound) {
		return true, 0, nil // deleted meanwhile
	}
	if err != nil {
		return false, 0, err
	}
	defer rc.Close()
	v := d.Verifier()
	n, err := io.Copy(v, t.reader(ctx, rc))
	if err != nil {
		return false, n, err
	}
	return v.Verified(), n, nil
}

func (s *Service) quarantineBlob(ctx context.Context, d digest.Digest, reason string) error {
	defer s.forgetQuarantine()
	s.log.ErrorContext(ctx, "blob failed verification: quarantined", "digest", d, "reason", reason)
	return s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.PutQuarantine(meta.QuarantinedBlob{Digest: d.String(), Reason: reason, At: s.opts.Now()}); err != nil {
			return err
		}
		return s.record(ctx, tx, meta.Event{Kind: "blob.quarantine", Digest: d, CreatedAt: s.opts.Now()})
	})
}

// Quarantine lists the quarantined blobs.
func (s *Service) Quarantine(ctx context.Context) ([]meta.QuarantinedBlob, error) {
	var out []meta.QuarantinedBlob
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.ListQuarantine()
		return err
	})
	return out, err
}

// byteThrottle paces reads to a rate in bytes per second.
type byteThrottle struct {
	rate  int64
	start time.Time
	read  int64
}

func newByteThrottle(rate int64) *byteThrottle { return &byteThrottle{rate: rate, start: time.Now()} }

func (t *byteThrottle) reader(ctx context.Context, r io.Reader) io.Reader {
	if t.rate <= 0 {
		return r
	}
	return &throttledReader{ctx: ctx, r: r, t: t}
}

type throttledReader struct {
	ctx context.Context
	r   io.Reader
	t   *byteThrottle
}

func (tr *throttledReader) Read(p []byte) (int, error) {
	if max := int(min(int64(len(p)), 1<<20)); max < len(p) {
		p = p[:max]
	}
	n, err := tr.r.Read(p)
	tr.t.read += int64(n)
	due := tr.t.start.Add(time.Duration(float64(tr.t.read) / float64(tr.t.rate) * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		select {
		case <-time.After(wait):
		case <-tr.ctx.Done():
			return n, tr.ctx.Err()
		}
	}
	return n, err
}
