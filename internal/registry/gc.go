package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
)

// GCOptions tune a garbage collection run.
type GCOptions struct {
	// Grace protects what is younger: a manifest, blob link or stored
	// blob created less than Grace ago is kept, so a push in progress
	// never loses what it is about to reference.
	Grace time.Duration
	// DryRun reports what would go without removing anything.
	DryRun bool
}

// GCReport is what a run removed (or, dry, would remove).
type GCReport struct {
	Manifests int
	Links     int
	Blobs     int
	Bytes     int64
	Duration  time.Duration
}

// gcPage is how many candidates one query returns.
const gcPage = 500

// GC removes, while the registry serves, what nothing refers to any more:
// untagged manifests that are no child of a manifest kept in their
// repository and no referrer of a subject that is kept there (in rounds,
// so an untagged index goes first and its children in the next round);
// then blob links no manifest of their repository references; then stored
// blobs linked nowhere. Every removal re-checks its candidate in its own
// transaction under the digest's lock, which the pushes that reference it
// take too, so a concurrent push either keeps it or fails cleanly, never
// ends up pointing at what was swept.
func (s *Service) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	start := time.Now()
	cutoff := s.opts.Now().Add(-o.Grace)
	var rep GCReport
	ctx = gcContext(ctx)
	for {
		n, err := s.gcManifests(ctx, cutoff, o.DryRun)
		rep.Manifests += n
		if err != nil {
			return rep, err
		}
		if n == 0 || o.DryRun {
			break // a dry run cannot see the next rounds' candidates
		}
	}
	n, err := s.gcLinks(ctx, cutoff, o.DryRun)
	rep.Links = n
	if err != nil {
		return rep, err
	}
	rep.Blobs, rep.Bytes, err = s.gcBlobs(ctx, cutoff, o.DryRun)
	rep.Duration = time.Since(start)
	if err == nil && !o.DryRun {
		err = s.meta.Update(ctx, func(tx meta.Tx) error {
			return tx.AppendAudit(meta.AuditEvent{At: s.opts.Now(), Actor: gcActor.Name, ActorKind: gcActor.Kind, Action: "gc.run",
				Detail: fmt.Sprintf("removed %d manifests, %d blob links, %d blobs (%d bytes) in %s", rep.Manifests, rep.Links, rep.Blobs, rep.Bytes, rep.Duration.Round(time.Millisecond))})
		})
	}
	if err == nil && (rep.Manifests > 0 || rep.Links > 0 || rep.Blobs > 0) {
		s.log.Info("garbage collection", "manifests", rep.Manifests, "links", rep.Links, "blobs", rep.Blobs,
			"bytes", rep.Bytes, "dry_run", o.DryRun, "took", rep.Duration)
	}
	return rep, err
}

// gcSweep pages through the candidates list returns and, for each, runs
// remove in a transaction of its own under the candidate's digest lock;
// remove re-checks the candidate and reports whether it went (or, dry,
// would go). It returns how many went.
func (s *Service) gcSweep(ctx context.Context,
	list func(r meta.Reader, afterRepo string, afterDigest digest.Digest) ([]meta.ManifestRef, error),
	remove func(tx meta.Tx, ref meta.ManifestRef) (bool, error),
	removed func(ref meta.ManifestRef),
) (int, error) {
	n := 0
	afterRepo, afterDigest := "", digest.Digest("")
	for {
		var page []meta.ManifestRef
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			page, err = list(r, afterRepo, afterDigest)
			return err
		}); err != nil {
			return n, err
		}
		for _, ref := range page {
			gone := false
			err := s.meta.Update(ctx, func(tx meta.Tx) error {
				if err := tx.LockDigests(ref.Digest); err != nil {
					return err
				}
				var err error
				gone, err = remove(tx, ref)
				return err
			})
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return n, err
			}
			if gone && err == nil {
				n++
				if removed != nil {
					removed(ref)
				}
			}
		}
		if len(page) < gcPage {
			return n, nil
		}
		afterRepo, afterDigest = page[len(page)-1].Repo, page[len(page)-1].Digest
	}
}

// gcManifests removes one round of unreferenced manifests.
func (s *Service) gcManifests(ctx context.Context, cutoff time.Time, dry bool) (int, error) {
	return s.gcSweep(ctx,
		func(r meta.Reader, repo string, d digest.Digest) ([]meta.ManifestRef, error) {
			return r.UntaggedManifests(cutoff, repo, d, gcPage)
		},
		func(tx meta.Tx, m meta.ManifestRef) (bool, error) {
			keep, mf, err := s.manifestKept(tx, m.Repo, m.Digest, cutoff)
			if err != nil || keep || dry {
				return !keep && err == nil, err
			}
			if err := tx.DeleteManifest(m.Repo, m.Digest); err != nil {
				return false, err
			}
			return true, s.record(ctx, tx, meta.Event{Kind: "manifest.delete", Repo: m.Repo, Digest: m.Digest,
				MediaType: mf.MediaType, Size: mf.Size, CreatedAt: s.opts.Now()})
		},
		func(m meta.ManifestRef) {
			if !dry {
				s.cache.forgetManifest(m.Repo, m.Digest)
			}
		})
}

// manifestKept re-checks a candidate under its lock: tagged, young, a child
// of a manifest of its repository, or a referrer whose subject is there.
func (s *Service) manifestKept(tx meta.Tx, repo string, d digest.Digest, cutoff time.Time) (bool, meta.Manifest, error) {
	m, err := tx.Manifest(repo, d)
	if err != nil {
		return true, m, err // gone already
	}
	if !m.CreatedAt.Before(cutoff) {
		return true, m, nil
	}
	if tags, err := tx.TagsOf(repo, d); err != nil || len(tags) > 0 {
		return true, m, err
	}
	if n, err := tx.ManifestParents(repo, d); err != nil || n > 0 {
		return true, m, err
	}
	if m.Subject != "" {
		if _, err := tx.Manifest(repo, m.Subject); err == nil {
			return true, m, nil
		} else if !errors.Is(err, meta.ErrNotFound) {
			return true, m, err
		}
	}
	return false, m, nil
}

// gcLinks removes blob links no manifest of their repository references.
func (s *Service) gcLinks(ctx context.Context, cutoff time.Time, dry bool) (int, error) {
	return s.gcSweep(ctx,
		func(r meta.Reader, repo string, d digest.Digest) ([]meta.ManifestRef, error) {
			return r.UnreferencedLinks(cutoff, repo, d, gcPage)
		},
		func(tx meta.Tx, l meta.ManifestRef) (bool, error) {
			if used, err := tx.LinkReferenced(l.Repo, l.Digest); err != nil || used {
				return false, err
			}
			if dry {
				return true, nil
			}
			return true, tx.UnlinkBlob(l.Repo, l.Digest)
		}, nil)
}

// gcBlobs deletes stored blobs older than the cutoff that no repository
// links, each under its digest's lock (a push linking it waits, then finds
// the bytes gone and fails cleanly).
func (s *Service) gcBlobs(ctx context.Context, cutoff time.Time, dry bool) (int, int64, error) {
	var old []blob.Info
	if err := s.blobs.Walk(ctx, func(info blob.Info) error {
		if info.ModTime.Before(cutoff) {
			old = append(old, info)
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	// Most stored blobs are linked: find that out in batches, without
	// write transactions, then re-check the rest one by one under the lock.
	var candidates []blob.Info
	for i := 0; i < len(old); i += gcPage {
		batch := old[i:min(i+gcPage, len(old))]
		ds := make([]digest.Digest, len(batch))
		for j, info := range batch {
			ds[j] = info.Digest
		}
		var linked map[digest.Digest]bool
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			linked, err = r.LinkedDigests(ds)
			return err
		}); err != nil {
			return 0, 0, err
		}
		for _, info := range batch {
			if !linked[info.Digest] {
				candidates = append(candidates, info)
			}
		}
	}
	n, bytes := 0, int64(0)
	for _, info := range candidates {
		gone := false
		err := s.meta.Update(ctx, func(tx meta.Tx) error {
			gone = false
			if err := tx.LockDigests(info.Digest); err != nil {
				return err
			}
			if repos, err := tx.ReposWithBlob(info.Digest, 1); err != nil || len(repos) > 0 {
				return err
			}
			gone = true
			if dry {
				return nil
			}
			err := s.blobs.Delete(ctx, info.Digest)
			if errors.Is(err, blob.ErrNotFound) {
				gone = false
				return nil
			}
			return err
		})
		if err != nil {
			return n, bytes, err
		}
		if gone {
			n++
			bytes += info.Size
		}
	}
	return n, bytes, nil
}
