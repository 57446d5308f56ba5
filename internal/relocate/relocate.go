package relocate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Stores are the blob store and metadata index of one registry.
type Stores struct {
	Blobs blob.Store
	Meta  meta.Store
}

// Report counts what a relocation did.
type Report struct {
	Repositories int
	Blobs        int // blob links copied
	BlobBytes    int64
	BlobsCopied  int // blobs whose bytes had to be copied (the rest were there)
	Manifests    int
	Tags         int
	Users        int
	Projects     int
	Robots       int
}

const page = 500

// Run copies the accounts and projects, then every repository, of from
// into to.
func Run(ctx context.Context, from, to Stores, log *slog.Logger) (Report, error) {
	var rep Report
	if err := copyAccess(ctx, from.Meta, to.Meta, &rep); err != nil {
		return rep, err
	}
	log.Info("relocated accounts and projects", "users", rep.Users, "projects", rep.Projects, "robots", rep.Robots)
	last := ""
	for {
		var repos []string
		if err := from.Meta.View(ctx, func(r meta.Reader) error {
			var err error
			repos, err = r.ListRepositories(last, page)
			return err
		}); err != nil {
			return rep, err
		}
		if len(repos) == 0 {
			return rep, nil
		}
		for _, repo := range repos {
			if err := copyRepo(ctx, repo, from, to, &rep); err != nil {
				return rep, fmt.Errorf("repository %s: %w", repo, err)
			}
			rep.Repositories++
			log.Info("relocated repository", "repo", repo)
		}
		last = repos[len(repos)-1]
	}
}

func copyRepo(ctx context.Context, repo string, from, to Stores, rep *Report) error {
	// Blobs first, so every link and manifest copied after them has its bytes.
	var after digest.Digest
	for {
		var links []meta.BlobLink
		if err := from.Meta.View(ctx, func(r meta.Reader) error {
			var err error
			links, err = r.ListBlobLinks(repo, after, page)
			return err
		}); err != nil {
			return err
		}
		if len(links) == 0 {
			break
		}
		for _, l := range links {
			copied, err := copyBlob(ctx, l, from.Blobs, to.Blobs)
			if err != nil {
				return fmt.Errorf("blob %s: %w", l.Digest, err)
			}
			if copied {
				rep.BlobsCopied++
				rep.BlobBytes += l.Size
			}
		}
		if err := to.Meta.Update(ctx, func(tx meta.Tx) error {
			for _, l := range links {
				if err := tx.LinkBlob(repo, l.Digest, l.Size); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		rep.Blobs += len(links)
		after = links[len(links)-1].Digest
	}

	after = ""
	for {
		var ms []meta.Manifest
		if err := from.Meta.View(ctx, func(r meta.Reader) error {
			var err error
			ms, err = r.ListManifests(repo, after, 100)
			return err
		}); err != nil {
			return err
		}
		if len(ms) == 0 {
			break
		}
		if err := to.Meta.Update(ctx, func(tx meta.Tx) error {
			for _, m := range ms {
				p, err := oci.ParseManifest(m.MediaType, m.Content)
				if err != nil {
					return fmt.Errorf("manifest %s: %w", m.Digest, err)
				}
				refs := meta.Refs{Blobs: oci.Digests(p.Blobs), Manifests: oci.Digests(p.Manifests)}
				if err := tx.PutManifest(repo, m, refs); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		rep.Manifests += len(ms)
		after = ms[len(ms)-1].Digest
	}

	var tags []string
	pointers := map[string]digest.Digest{}
	if err := from.Meta.View(ctx, func(r meta.Reader) error {
		var err error
		if tags, err = r.ListTags(repo, "", 0); err != nil {
			return err
		}
		for _, t := range tags {
			if pointers[t], err = r.Tag(repo, t); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	err := to.Meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.EnsureRepository(repo); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.PutTag(repo, t, pointers[t]); err != nil {
				return fmt.Errorf("tag %s: %w", t, err)
			}
		}
		return nil
	})
	rep.Tags += len(tags)
	return err
}

// copyBlob copies one blob's bytes unless the destination has them,
// verifying the digest on the way. It reports whether it copied.
func copyBlob(ctx context.Context, l meta.BlobLink, from, to blob.Store) (bool, error) {
	if _, err := to.Stat(ctx, l.Digest); err == nil {
		return false, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return false, err
	}
	src, err := from.Open(ctx, l.Digest)
	if err != nil {
		return false, err
	}
	defer src.Close()
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := "relocate-" + hex.EncodeToString(b[:])
	if err := to.CreateUpload(ctx, id); err != nil {
		return false, err
	}
	h := l.Digest.Algorithm().Hash()
	n, err := to.WriteUpload(ctx, id, 0, io.TeeReader(src, h))
	if err == nil && n != l.Size {
		err = fmt.Errorf("source holds %d bytes, the index says %d", n, l.Size)
	}
	if err == nil && digest.NewDigest(l.Digest.Algorithm(), h) != l.Digest {
		err = fmt.Errorf("source bytes hash to %s", digest.NewDigest(l.Digest.Algorithm(), h))
	}
	if err == nil {
		err = to.CommitUpload(ctx, id, l.Digest, n)
	}
	if err != nil {
		_ = to.AbortUpload(context.WithoutCancel(ctx), id)
		return false, err
	}
	return true, nil
}
