package registry

import (
	"context"
	"errors"
	"fmt"
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
		s.log.Info("garbage collection", "tags", rep.Tags, "manifests", rep.Manifests, "links", rep.Links, "blobs", rep.Blobs,
			"bytes", rep.Bytes, "dry_run", o.DryRun, "took", rep.Duration)
	}
	return rep, err
}

// gcSweep pages through the candidates list returns (after the last one
// of the previous page; nil = from the start) and, for each, runs remove in
// a transaction of its own under the locks of the digests lock names;
// remove re-checks the candidate and reports whether it went (or, dry,
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
		for _, c := range page {
			gone := false
			err := s.meta.Update(ctx, func(tx meta.Tx) error {
				if err := tx.LockDigests(lock(c)...); err != nil {
					return err
				}
				var err error
				gone, err = remove(tx, c)
				return err
			})
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return n, err
			}
			if gone && err == nil {
				n++
				if removed != nil {
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
