package registry

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// StatBlob returns the size of blob d if it is linked to repo. It answers from
// the index alone: a digest never leaks across repositories.
func (s *Service) StatBlob(ctx context.Context, repo string, d digest.Digest) (blob.Info, error) {
	var l meta.BlobLink
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		l, err = r.BlobLinkInfo(repo, d)
		return err
	})
	if err == nil && s.opts.LinkRefresh > 0 && s.opts.Now().Sub(l.LinkedAt) > s.opts.LinkRefresh {
		err = s.refreshLink(ctx, repo, d)
	}
	size := l.Size
	if errors.Is(err, meta.ErrNotFound) {
		return blob.Info{}, errcode.BlobUnknown.WithDetail(map[string]string{"digest": d.String()})
	}
	if err != nil {
		return blob.Info{}, err
	}
	if reason, ok := s.quarantined(ctx, d); ok {
		return blob.Info{}, quarantinedError(d, reason)
	}
	return blob.Info{Digest: d, Size: size}, nil
}

// refreshLink restarts the grace period of an old link a client is about
// to be told of, under the digest's lock that garbage collection's sweep
// takes: either the sweep removed the link first (ErrNotFound: the client
// hears the blob is unknown and uploads it) or it finds the link fresh.
func (s *Service) refreshLink(ctx context.Context, repo string, d digest.Digest) error {
	return s.meta.UpdateAsync(ctx, func(tx meta.Tx) error {
		if err := tx.LockDigests(d); err != nil {
			return err
		}
		return tx.TouchBlobLink(repo, d, s.opts.Now())
	})
}

// ManifestShown is told that a client checked manifest m of repo by
// digest (a HEAD, as clients do before pushing an index that lists it
// without pushing it again). When m is older than Options.LinkRefresh and
// was not shown that recently, the sighting is noted under the digest's
// lock that garbage collection's sweep takes: either the sweep removed it
// first (the client hears it is unknown) or it finds it fresh.
func (s *Service) ManifestShown(ctx context.Context, repo string, m meta.Manifest) error {
	now := s.opts.Now()
	if s.opts.LinkRefresh <= 0 || now.Sub(m.CreatedAt) <= s.opts.LinkRefresh {
		return nil
	}
	var seen time.Time
	if err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		seen, err = r.ManifestSeen(repo, m.Digest)
		return err
	}); err != nil || now.Sub(seen) <= s.opts.LinkRefresh {
		return err
	}
	err := s.meta.UpdateAsync(ctx, func(tx meta.Tx) error {
		if err := tx.LockDigests(m.Digest); err != nil {
			return err
		}
		return tx.TouchManifest(repo, m.Digest, now)
	})
	if errors.Is(err, meta.ErrNotFound) {
		s.cache.forgetManifest(repo, m.Digest)
		return manifestUnknown(repo, Reference{Digest: m.Digest})
	}
	return err
}

// OpenBlob opens blob d of repo for reading.
func (s *Service) OpenBlob(ctx context.Context, repo string, d digest.Digest) (blob.Reader, blob.Info, error) {
	info, err := s.StatBlob(ctx, repo, d)
	if err != nil {
		return nil, info, err
	}
	rc, err := s.blobs.Open(ctx, d)
	if errors.Is(err, blob.ErrNotFound) {
		s.log.ErrorContext(ctx, "blob linked in the index is missing from storage", "repo", repo, "digest", d)
		return nil, info, errcode.BlobUnknown.WithDetail(map[string]string{"digest": d.String()})
	}
	return rc, info, err
}

// DeleteBlob unlinks blob d from repo. Its bytes stay until garbage
// collection finds no repository referencing them.
func (s *Service) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.UnlinkBlob(repo, d); err != nil {
			return err
		}
		return s.record(ctx, tx, meta.Event{Kind: "blob.delete", Repo: repo, Digest: d, CreatedAt: s.opts.Now()})
	})
	if errors.Is(err, meta.ErrNotFound) {
		return errcode.BlobUnknown.WithDetail(map[string]string{"digest": d.String()})
	}
	return err
}

// MountSources returns up to limit repositories (sorted) holding blob d: the
// candidates for an automatic mount, which the caller narrows to those it
// may pull from before calling MountBlob with one of them.
func (s *Service) MountSources(ctx context.Context, d digest.Digest, limit int) ([]string, error) {
	var out []string
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.ReposWithBlob(d, limit)
		return err
	})
	return out, err
}

// MountBlob links blob d into repo from another repository. With from == ""
// any repository holding d serves (the automatic mount, for a registry
// without access control). It reports whether the blob was mounted; false
// means the client must upload it.
func (s *Service) MountBlob(ctx context.Context, repo string, d digest.Digest, from string) (bool, error) {
	if err := s.refuseProxied(ctx, repo); err != nil {
		return false, err
	}
	if _, ok := s.quarantined(ctx, d); ok {
		return false, nil // the client uploads it: that replaces the bad bytes
	}
	mounted := false
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.LockDigests(d); err != nil {
			return err
		}
		if _, err := tx.BlobLink(repo, d); err == nil {
			mounted = true // already here
			return nil
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		sources := []string{from}
		if from == "" {
			var err error
			if sources, err = tx.ReposWithBlob(d, 1); err != nil {
				return err
			}
		}
		for _, src := range sources {
			size, err := tx.BlobLink(src, d)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			mounted = true
			return tx.LinkBlob(repo, d, size)
		}
		return nil
	})
	return mounted, err
}

// URLSigner is an optional blob store capability: a URL a client can fetch
// the blob from directly, valid for ttl.
type URLSigner interface {
	URL(ctx context.Context, d digest.Digest, ttl time.Duration) (string, error)
}

// BlobURL returns a URL to fetch blob d of repo from directly, when
// redirects are on and the blob store can sign one; "" otherwise. The
// blob must be linked to repo, as for OpenBlob.
func (s *Service) BlobURL(ctx context.Context, repo string, d digest.Digest) (string, error) {
	signer, ok := s.blobs.(URLSigner)
	if !ok || s.opts.RedirectTTL <= 0 {
		return "", nil
	}
	if _, err := s.StatBlob(ctx, repo, d); err != nil {
		return "", err
	}
	u, err := signer.URL(ctx, d, s.opts.RedirectTTL)
	if errors.Is(err, blob.ErrNotFound) {
		return "", errcode.BlobUnknown.WithDetail(map[string]string{"digest": d.String()})
	}
	return u, err
}
