package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// DeleteRepository removes a repository: its manifests, tags and blob links
// (the bytes stay for garbage collection). Every manifest's deletion goes
// into the outbox and the audit log.
func (s *Service) DeleteRepository(ctx context.Context, repo string) error {
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Repository(repo); err != nil {
			return err
		}
		ms, err := tx.ListManifests(repo, "", 0)
		if err != nil {
			return err
		}
		now := s.opts.Now()
		for _, m := range ms {
			if err := s.checkTagsOf(tx, repo, m.Digest); err != nil {
				return err
			}
			ev := meta.Event{Kind: "manifest.delete", Repo: repo, Digest: m.Digest, MediaType: m.MediaType, Size: m.Size, CreatedAt: now}
			if err := s.record(ctx, tx, ev); err != nil {
				return err
			}
		}
		return tx.DeleteRepository(repo)
	})
	s.cache.reset()
	if errors.Is(err, meta.ErrNotFound) {
		return errcode.NameUnknown.WithDetail(map[string]string{"name": repo})
	}
	return err
}

// Platform is an image's os/architecture[/variant].
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// Artifact is one manifest of a repository as the management API lists it.
type Artifact struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Size         int64 // the manifest and every blob it references
	Tags         []string
	Platforms    []Platform
	Subject      digest.Digest
	PushedAt     time.Time
	Pusher       string
	Pulls        int
	LastPull     time.Time
	TagPulls     []TagPulls // by the tags it was pulled through, sorted by tag
}

// TagPulls is how often, and when last, a manifest was pulled by one tag.
type TagPulls struct {
	Tag      string
	Pulls    int64
	LastPull time.Time
}

// configMax bounds the image config read to find a platform.
const configMax = 1 << 20

// Artifacts lists every manifest of repo, newest first.
func (s *Service) Artifacts(ctx context.Context, repo string) ([]Artifact, error) {
	var (
		ms       []meta.Manifest
		tags     = map[digest.Digest][]string{}
		activity map[string]meta.Activity
		sizes    = map[digest.Digest]int64{}
		tagPulls = map[digest.Digest][]TagPulls{}
	)
	err := s.meta.View(ctx, func(r meta.Reader) error {
		if _, err := r.Repository(repo); err != nil {
			return err
		}
		var err error
		if ms, err = r.ListManifests(repo, "", 0); err != nil {
			return err
		}
		for _, m := range ms {
			if tags[m.Digest], err = r.TagsOf(repo, m.Digest); err != nil {
				return err
			}
		}
		links, err := r.ListBlobLinks(repo, "", 0)
		if err != nil {
			return err
		}
		for _, l := range links {
			sizes[l.Digest] = l.Size
		}
		if activity, err = r.Activity(repo); err != nil {
			return err
		}
		stats, err := r.PullStats(repo)
		for _, p := range stats {
			if p.Tag != "" {
				tagPulls[p.Digest] = append(tagPulls[p.Digest], TagPulls{Tag: p.Tag, Pulls: p.Pulls, LastPull: p.Last})
			}
		}
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errcode.NameUnknown.WithDetail(map[string]string{"name": repo})
	}
	if err != nil {
		return nil, err
	}
	out := make([]Artifact, 0, len(ms))
	for _, m := range ms {
		a := Artifact{Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Size: m.Size,
			Tags: tags[m.Digest], Subject: m.Subject, PushedAt: m.CreatedAt, TagPulls: tagPulls[m.Digest]}
		if act, ok := activity[m.Digest.String()]; ok {
			a.Pulls, a.LastPull, a.Pusher = act.Pulls, act.LastPull, act.Pusher
		}
		if p, err := oci.ParseManifest(m.MediaType, m.Content); err == nil {
			for _, b := range p.Blobs {
				a.Size += b.Size
			}
			for _, c := range p.Manifests {
				if c.Platform != nil && c.Platform.OS != "unknown" {
					a.Platforms = append(a.Platforms, Platform{OS: c.Platform.OS, Architecture: c.Platform.Architecture, Variant: c.Platform.Variant})
				}
			}
			if len(p.Manifests) == 0 && len(p.Blobs) > 0 && isImageConfig(p.Blobs[0].MediaType) {
				if pl, ok := s.configPlatform(ctx, p.Blobs[0].Digest, sizes[p.Blobs[0].Digest]); ok {
					a.Platforms = []Platform{pl}
				}
			}
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PushedAt.After(out[j].PushedAt) })
	return out, nil
}

func isImageConfig(mt string) bool {
	return mt == "application/vnd.oci.image.config.v1+json" || mt == "application/vnd.docker.container.image.v1+json"
}

// configPlatform reads an image config's os and architecture.
func (s *Service) configPlatform(ctx context.Context, d digest.Digest, size int64) (Platform, bool) {
	if size <= 0 || size > configMax {
		return Platform{}, false
	}
	rc, err := s.blobs.Open(ctx, d)
	if err != nil {
		return Platform{}, false
	}
	defer rc.Close()
	var p Platform
	if err := json.NewDecoder(io.LimitReader(rc, configMax)).Decode(&p); err != nil || p.OS == "" {
		return Platform{}, false
	}
	return p, true
}
