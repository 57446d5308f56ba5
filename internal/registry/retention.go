package registry

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// The deletions of retention rules: like DeleteManifest, with events,
// immutability checks and audit entries, but each re-checks in its own
// transaction that what the plan saw still holds, so that a tag pushed
// or moved after the plan was made is never lost.

// DeleteTagIf removes tag from repo if it still points at d, and reports
// whether it went. An immutable tag is refused (DENIED) as a delete by
// tag is.
func (s *Service) DeleteTagIf(ctx context.Context, repo, tag string, d digest.Digest) (bool, error) {
	gone := false
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		gone = false
		now, err := tx.Tag(repo, tag)
		if errors.Is(err, meta.ErrNotFound) || (err == nil && now != d) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.checkTagGone(tx, repo, tag); err != nil {
			return err
		}
		if err := tx.DeleteTag(repo, tag); err != nil {
			return err
		}
		gone = true
		return s.record(ctx, tx, meta.Event{Kind: "tag.delete", Repo: repo, Tag: tag, Digest: d, CreatedAt: s.opts.Now()})
	})
	if err != nil {
		return false, err
	}
	if gone {
		s.cache.forgetTags(repo, []string{tag})
	}
	return gone, nil
}

// DeleteUntaggedManifest removes manifest d of repo (with its references;
// its referrers and blobs are GC's business) if no tag points at it and
// no manifest of repo lists it as a child, and reports whether it went.
// It holds d's lock, as GC does, so an index pushed at the same time
// either finds the manifest or fails cleanly.
func (s *Service) DeleteUntaggedManifest(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	gone := false
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		gone = false
		if err := tx.LockDigests(d); err != nil {
			return err
		}
		m, err := tx.Manifest(repo, d)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if tags, err := tx.TagsOf(repo, d); err != nil || len(tags) > 0 {
			return err
		}
		if n, err := tx.ManifestParents(repo, d); err != nil || n > 0 {
			return err
		}
		if err := tx.DeleteManifest(repo, d); err != nil {
			return err
		}
		gone = true
		return s.record(ctx, tx, meta.Event{Kind: "manifest.delete", Repo: repo, Digest: d, MediaType: m.MediaType, Size: m.Size, CreatedAt: s.opts.Now()})
	})
	if err != nil {
		return false, err
	}
	if gone {
		s.cache.forgetManifest(repo, d)
	}
	return gone, nil
}
