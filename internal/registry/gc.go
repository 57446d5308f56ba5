package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// GCOptions tune a garbage collection run.
type GCOptions struct {
	// Grace protects what is younger: a manifest, blob link or stored
	// blob created less than Grace ago is kept, so a push in progress
	// never loses what it is about to reference.
	Grace time.Duration
	// DryRun reports what would go without removing anything.
	DryRun bool
	// KeepUntagged keeps manifests that no tag, index or subject keeps
	// (gc.delete_untagged off): only blob links and blobs no manifest
	// references go.
	KeepUntagged bool
	// KeepOrphanReferrers keeps referrers whose subject is not (or no
	// longer) in their repository (gc.delete_orphan_referrers off).
	KeepOrphanReferrers bool
}

// GCReport is what a run removed (or, dry, would remove).
type GCReport struct {
	Tags      int // referrers-schema tags (sha256-<hex>…) whose subject is gone
	Manifests int
	Links     int
	Blobs     int
	Bytes     int64
	Duration  time.Duration
}

const (
	// gcPage is how many candidates one query returns.
	gcPage = 500
	// gcBatch is how many candidates one transaction re-checks and
	// removes: one commit (one fsync) for many removals.
	gcBatch = 100
)

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
		tags := 0
		if !o.KeepOrphanReferrers {
			var err error
			tags, err = s.gcReferrerTags(ctx, cutoff, o.DryRun)
			rep.Tags += tags
			if err != nil {
				return rep, err
			}
		}
		n := 0
		if !o.KeepUntagged {
			var err error
			n, err = s.gcManifests(ctx, cutoff, o)
			rep.Manifests += n
			if err != nil {
				return rep, err
			}
		}
		if n+tags == 0 || o.DryRun {
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
				Detail: fmt.Sprintf("removed %d orphaned signature tags, %d manifests, %d blob links, %d blobs (%d bytes) in %s",
					rep.Tags, rep.Manifests, rep.Links, rep.Blobs, rep.Bytes, rep.Duration.Round(time.Millisecond))})
		})
	}
	if err == nil && (rep.Tags > 0 || rep.Manifests > 0 || rep.Links > 0 || rep.Blobs > 0) {
		s.log.InfoContext(ctx, "garbage collection", "tags", rep.Tags, "manifests", rep.Manifests, "links", rep.Links, "blobs", rep.Blobs,
			"bytes", rep.Bytes, "dry_run", o.DryRun, "took", rep.Duration)
	}
	return rep, err
}

// gcSweep pages through the candidates list returns (after the last one
// of the previous page; nil = from the start) and removes them in batches
// of gcBatch, each in a transaction of its own that first takes the locks
// of the digests lock names for every candidate of the batch; remove
// re-checks a candidate under them and reports whether it went (or, dry,
// would go). It returns how many went.
func gcSweep[T any](ctx context.Context, s *Service,
	list func(r meta.Reader, after *T) ([]T, error),
	lock func(T) []digest.Digest,
	remove func(tx meta.Tx, c T) (bool, error),
	removed func(c T),
) (int, error) {
	n := 0
	var after *T
	for {
		var page []T
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			page, err = list(r, after)
			return err
		}); err != nil {
			return n, err
		}
		for chunk := range slices.Chunk(page, gcBatch) {
			var locks []digest.Digest
			for _, c := range chunk {
				locks = append(locks, lock(c)...)
			}
			var gone []T
			err := s.meta.Update(ctx, func(tx meta.Tx) error {
				gone = gone[:0] // the transaction may run again
				if err := tx.LockDigests(locks...); err != nil {
					return err
				}
				for _, c := range chunk {
					ok, err := remove(tx, c)
					if errors.Is(err, meta.ErrNotFound) {
						continue // gone already
					}
					if err != nil {
						return err
					}
					if ok {
						gone = append(gone, c)
					}
				}
				return nil
			})
			if err != nil {
				return n, err
			}
			n += len(gone)
			if removed != nil {
				for _, c := range gone {
					removed(c)
				}
			}
		}
		if len(page) < gcPage {
			return n, nil
		}
		after = &page[len(page)-1]
	}
}

// refCursor unpacks a ManifestRef cursor (nil = from the start).
func refCursor(after *meta.ManifestRef) (string, digest.Digest) {
	if after == nil {
		return "", ""
	}
	return after.Repo, after.Digest
}

func lockRef(r meta.ManifestRef) []digest.Digest { return []digest.Digest{r.Digest} }

// gcManifests removes one round of unreferenced manifests.
func (s *Service) gcManifests(ctx context.Context, cutoff time.Time, o GCOptions) (int, error) {
	dry := o.DryRun
	return gcSweep(ctx, s,
		func(r meta.Reader, after *meta.ManifestRef) ([]meta.ManifestRef, error) {
			repo, d := refCursor(after)
			return r.UntaggedManifests(cutoff, repo, d, gcPage)
		}, lockRef,
		func(tx meta.Tx, m meta.ManifestRef) (bool, error) {
			keep, mf, err := s.manifestKept(tx, m.Repo, m.Digest, cutoff, o.KeepOrphanReferrers)
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
// of a manifest of its repository, or a referrer whose subject is there (or
// any referrer, with keepReferrers).
func (s *Service) manifestKept(tx meta.Tx, repo string, d digest.Digest, cutoff time.Time, keepReferrers bool) (bool, meta.Manifest, error) {
	m, err := tx.Manifest(repo, d)
	if err != nil {
		return true, m, err // gone already
	}
	if !m.CreatedAt.Before(cutoff) {
		return true, m, nil
	}
	// Shown to a client since (HEAD by digest): it may be listed next.
	if seen, err := tx.ManifestSeen(repo, d); err != nil || !seen.Before(cutoff) {
		return true, m, err
	}
	if tags, err := tx.TagsOf(repo, d); err != nil || len(tags) > 0 {
		return true, m, err
	}
	if n, err := tx.ManifestParents(repo, d); err != nil || n > 0 {
		return true, m, err
	}
	if m.Subject != "" {
		if keepReferrers {
			return true, m, nil
		}
		if _, err := tx.Manifest(repo, m.Subject); err == nil {
			return true, m, nil
		} else if !errors.Is(err, meta.ErrNotFound) {
			return true, m, err
		}
	}
	return false, m, nil
}

// gcReferrerTags removes the tags of the referrers tag schema
// (sha256-<hex>, with .sig, .att, .sbom: what cosign and other signing
// tools push) whose subject sha256:<hex> is no longer in the repository:
// such a signature goes with its subject, then its manifest goes in the
// next manifest round like any untagged one. Each removal re-checks under
// the locks of the tag's manifest and of the subject, which a push of the
// subject takes too.
func (s *Service) gcReferrerTags(ctx context.Context, cutoff time.Time, dry bool) (int, error) {
	return gcSweep(ctx, s,
		func(r meta.Reader, after *meta.TagRef) ([]meta.TagRef, error) {
			var repo, tag string
			if after != nil {
				repo, tag = after.Repo, after.Tag
			}
			return r.OrphanReferrerTags(cutoff, repo, tag, gcPage)
		},
		func(t meta.TagRef) []digest.Digest { return []digest.Digest{t.Digest, referrerTagSubject(t.Tag)} },
		func(tx meta.Tx, t meta.TagRef) (bool, error) {
			if !oci.IsReferrerTag(t.Tag) {
				return false, nil // sha256- and 64 characters, but not the schema
			}
			d, err := tx.Tag(t.Repo, t.Tag)
			if err != nil || d != t.Digest {
				return false, err
			}
			if _, err := tx.Manifest(t.Repo, referrerTagSubject(t.Tag)); !errors.Is(err, meta.ErrNotFound) {
				return false, err // the subject is back (or the read failed)
			}
			if dry {
				return true, nil
			}
			if err := tx.DeleteTag(t.Repo, t.Tag); err != nil {
				return false, err
			}
			return true, s.record(ctx, tx, meta.Event{Kind: "tag.delete", Repo: t.Repo, Tag: t.Tag, Digest: t.Digest, CreatedAt: s.opts.Now()})
		},
		func(t meta.TagRef) {
			if !dry {
				s.cache.forgetTags(t.Repo, []string{t.Tag})
			}
		})
}

// referrerTagSubject is the subject a sha256-<hex>[.suffix] tag names.
func referrerTagSubject(tag string) digest.Digest {
	hex, _, _ := strings.Cut(strings.TrimPrefix(tag, "sha256-"), ".")
	return digest.NewDigestFromEncoded(digest.SHA256, hex)
}

// gcLinks removes blob links no manifest of their repository references.
func (s *Service) gcLinks(ctx context.Context, cutoff time.Time, dry bool) (int, error) {
	return gcSweep(ctx, s,
		func(r meta.Reader, after *meta.ManifestRef) ([]meta.ManifestRef, error) {
			repo, d := refCursor(after)
			return r.UnreferencedLinks(cutoff, repo, d, gcPage)
		}, lockRef,
		func(tx meta.Tx, l meta.ManifestRef) (bool, error) {
			// Refreshed since it was listed: a client was told of it.
			if info, err := tx.BlobLinkInfo(l.Repo, l.Digest); err != nil || !info.LinkedAt.Before(cutoff) {
				return false, err
			}
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
// links. It walks the store once, in pages of gcPage blobs (so memory stays
// flat however many there are): which of a page are linked is asked in one
// read; the others are re-checked and deleted in batches of gcBatch, each
// in a transaction holding their digests' locks (a push linking one waits,
// then finds the bytes gone and fails cleanly).
func (s *Service) gcBlobs(ctx context.Context, cutoff time.Time, dry bool) (int, int64, error) {
	n, bytes := 0, int64(0)
	page := make([]blob.Info, 0, gcPage)
	sweep := func() error {
		defer func() { page = page[:0] }()
		if len(page) == 0 {
			return nil
		}
		ds := make([]digest.Digest, len(page))
		for i, info := range page {
			ds[i] = info.Digest
		}
		var linked map[digest.Digest]bool
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			linked, err = r.LinkedDigests(ds)
			return err
		}); err != nil {
			return err
		}
		var candidates []blob.Info
		for _, info := range page {
			if !linked[info.Digest] {
				candidates = append(candidates, info)
			}
		}
		for chunk := range slices.Chunk(candidates, gcBatch) {
			locks := make([]digest.Digest, len(chunk))
			for i, info := range chunk {
				locks[i] = info.Digest
			}
			var gone []blob.Info
			err := s.meta.Update(ctx, func(tx meta.Tx) error {
				gone = gone[:0]
				if err := tx.LockDigests(locks...); err != nil {
					return err
				}
				for _, info := range chunk {
					if repos, err := tx.ReposWithBlob(info.Digest, 1); err != nil || len(repos) > 0 {
						if err != nil {
							return err
						}
						continue
					}
					if !dry {
						err := s.blobs.Delete(ctx, info.Digest)
						if errors.Is(err, blob.ErrNotFound) {
							continue
						}
						if err != nil {
							return err
						}
					}
					gone = append(gone, info)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, info := range gone {
				n++
				bytes += info.Size
			}
		}
		return nil
	}
	err := s.blobs.Walk(ctx, func(info blob.Info) error {
		if !info.ModTime.Before(cutoff) {
			return nil
		}
		page = append(page, info)
		if len(page) < gcPage {
			return nil
		}
		return sweep()
	})
	if err == nil {
		err = sweep()
	}
	return n, bytes, err
}
