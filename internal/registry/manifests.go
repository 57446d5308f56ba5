package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Reference is a parsed manifest reference: a tag or a digest.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

func (r Reference) String() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// ParseReference validates a tag-or-digest path element.
func ParseReference(ref string) (Reference, error) {
	if oci.IsDigest(ref) {
		d, err := oci.ParseDigest(ref)
		if err != nil {
			return Reference{}, errcode.DigestInvalid.Errorf("%v", err)
		}
		return Reference{Digest: d}, nil
	}
	if !oci.ValidTag(ref) {
		return Reference{}, errcode.ManifestInvalid.Errorf("invalid tag %q", ref).WithDetail(map[string]string{"tag": ref})
	}
	return Reference{Tag: ref}, nil
}

func manifestUnknown(repo string, ref Reference) *errcode.Error {
	return errcode.ManifestUnknown.WithDetail(map[string]string{"name": repo, "reference": ref.String()})
}

// GetManifest returns the manifest ref names in repo.
func (s *Service) GetManifest(ctx context.Context, repo string, ref Reference) (meta.Manifest, error) {
	m, gen, ok := s.cache.lookup(repo, ref)
	if ok {
		return m, s.checkManifestBlobs(ctx, m)
	}
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		if ref.Digest != "" {
			m, err = r.Manifest(repo, ref.Digest)
		} else {
			m, err = r.ManifestByTag(repo, ref.Tag)
		}
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return m, manifestUnknown(repo, ref)
	}
	if err == nil {
		s.cache.fill(repo, ref, m, gen)
		err = s.checkManifestBlobs(ctx, m)
	}
	return m, err
}

// PushResult is what a manifest push reports.
type PushResult struct {
	Digest  digest.Digest
	Subject digest.Digest // "" without subject
}

// PutManifest validates and stores a manifest under ref (a tag or its
// digest) and any extra tags, in one transaction with its events.
func (s *Service) PutManifest(ctx context.Context, repo string, ref Reference, contentType string, body []byte, tags []string) (PushResult, error) {
	if int64(len(body)) > s.opts.ManifestMaxSize {
		return PushResult{}, ManifestTooLarge(s.opts.ManifestMaxSize)
	}
	if err := s.refuseProxied(ctx, repo); err != nil {
		return PushResult{}, err
	}
	alg := digest.Canonical
	if ref.Digest != "" {
		alg = ref.Digest.Algorithm()
	}
	d := alg.FromBytes(body)
	if ref.Digest != "" && d != ref.Digest {
		return PushResult{}, errcode.DigestInvalid.Errorf("manifest has digest %s, not %s", d, ref.Digest)
	}
	for _, t := range tags {
		if !oci.ValidTag(t) {
			return PushResult{}, errcode.ManifestInvalid.Errorf("invalid tag %q", t).WithDetail(map[string]string{"tag": t})
		}
	}
	if ref.Tag != "" {
		tags = append([]string{ref.Tag}, tags...)
	}
	p, err := oci.ParseManifest(contentType, body)
	if err != nil {
		return PushResult{}, errcode.ManifestInvalid.Errorf("%v", err)
	}
	m := meta.Manifest{
		Digest: d, MediaType: p.MediaType, ArtifactType: p.ArtifactType, Size: int64(len(body)),
		Content: body, Annotations: p.Annotations, CreatedAt: s.opts.Now(),
	}
	if p.Subject != nil {
		m.Subject = p.Subject.Digest
	}
	refs := meta.Refs{Blobs: oci.Digests(p.Blobs), Manifests: oci.Digests(p.Manifests)}
	err = s.meta.Update(ctx, func(tx meta.Tx) error {
		// Under the locks of everything it references, so that garbage
		// collection cannot sweep a blob or child between the check and
		// the insert.
		if err := tx.LockDigests(append(append([]digest.Digest{d}, refs.Blobs...), refs.Manifests...)...); err != nil {
			return err
		}
		if err := checkBlobs(tx, repo, p.Blobs); err != nil {
			return err
		}
		quota, err := lockQuota(tx, repo)
		if err != nil {
			return err
		}
		if err := tx.PutManifest(repo, m, refs); err != nil {
			return err
		}
		usage, err := quota.check(tx)
		if err != nil {
			return err
		}
		if w, ok := quota.warning(repo, usage, m.CreatedAt); ok {
			if err := s.record(ctx, tx, w); err != nil {
				return err
			}
		}
		ev := meta.Event{Kind: "manifest.push", Repo: repo, Digest: d, MediaType: m.MediaType, Size: m.Size, CreatedAt: m.CreatedAt}
		if len(tags) == 0 {
			return s.record(ctx, tx, ev)
		}
		for _, t := range tags {
			if err := s.checkTagMove(tx, repo, t, d); err != nil {
				return err
			}
			if _, err := tx.PutTag(repo, t, d); err != nil {
				return err
			}
			ev.Tag = t
			if err := s.record(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	s.cache.forgetTags(repo, tags)
	if err != nil {
		return PushResult{}, err
	}
	return PushResult{Digest: d, Subject: m.Subject}, nil
}

// ManifestTooLarge is the error for a manifest over the size limit.
func ManifestTooLarge(max int64) *errcode.Error {
	return errcode.SizeInvalid.Errorf("manifest exceeds the maximum manifest size of %d bytes", max).WithStatus(413)
}

// checkBlobs makes sure every blob an image manifest names is linked to repo
// with the size the descriptor claims.
func checkBlobs(tx meta.Tx, repo string, blobs []ocispec.Descriptor) error {
	for _, b := range blobs {
		size, err := tx.BlobLink(repo, b.Digest)
		if errors.Is(err, meta.ErrNotFound) {
			return errcode.ManifestBlobUnknown.WithDetail(map[string]string{"digest": b.Digest.String()})
		}
		if err != nil {
			return err
		}
		if size != b.Size {
			return errcode.ManifestInvalid.Errorf("descriptor of %s says size %d but the blob has %d bytes", b.Digest, b.Size, size)
		}
	}
	return nil
}

// DeleteManifest untags a tag, or removes a manifest (and its tags) by digest.
func (s *Service) DeleteManifest(ctx context.Context, repo string, ref Reference) error {
	now := s.opts.Now()
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		if ref.Tag != "" {
			d, err := tx.Tag(repo, ref.Tag)
			if err != nil {
				return err
			}
			if err := s.checkTagGone(tx, repo, ref.Tag); err != nil {
				return err
			}
			if err := tx.DeleteTag(repo, ref.Tag); err != nil {
				return err
			}
			return s.record(ctx, tx, meta.Event{Kind: "tag.delete", Repo: repo, Tag: ref.Tag, Digest: d, CreatedAt: now})
		}
		m, err := tx.Manifest(repo, ref.Digest)
		if err != nil {
			return err
		}
		if err := s.checkTagsOf(tx, repo, ref.Digest); err != nil {
			return err
		}
		if err := tx.DeleteManifest(repo, ref.Digest); err != nil {
			return err
		}
		return s.record(ctx, tx, meta.Event{Kind: "manifest.delete", Repo: repo, Digest: ref.Digest, MediaType: m.MediaType, Size: m.Size, CreatedAt: now})
	})
	if ref.Tag != "" {
		s.cache.forgetTags(repo, []string{ref.Tag})
	} else {
		s.cache.forgetManifest(repo, ref.Digest)
	}
	if errors.Is(err, meta.ErrNotFound) {
		return manifestUnknown(repo, ref)
	}
	return err
}

// Referrers lists the manifests in repo whose subject is d, as descriptors,
// optionally filtered by artifact type.
func (s *Service) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	var ms []meta.Manifest
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		ms, err = r.Referrers(repo, d, artifactType)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("referrers: %w", err)
	}
	out := make([]ocispec.Descriptor, 0, len(ms))
	for _, m := range ms {
		out = append(out, ocispec.Descriptor{
			MediaType: m.MediaType, ArtifactType: m.ArtifactType, Digest: m.Digest, Size: m.Size, Annotations: m.Annotations,
		})
	}
	return out, nil
}
