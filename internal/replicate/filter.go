package replicate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/meta"
)

// Filter is what a policy copies: repositories matching a glob, tags
// matching a pattern (any tag when unset) and, when Label is set, images
// whose config carries the label or whose manifest has the annotation.
type Filter struct {
	Repos      pattern.Pattern
	Tags       *pattern.Pattern // nil: every tag
	LabelKey   string           // "": no label filter
	LabelValue string
	labelAny   bool // "key" alone: any value
}

// NewFilter compiles a policy's filters.
func NewFilter(p meta.ReplicationPolicy) (Filter, error) {
	var f Filter
	var err error
	if f.Repos, err = pattern.Compile(p.Repositories); err != nil {
		return Filter{}, fmt.Errorf("%w: repositories: %v", ErrInvalid, err)
	}
	if p.Tags != "" {
		tp, err := pattern.Compile(p.Tags)
		if err != nil {
			return Filter{}, fmt.Errorf("%w: tags: %v", ErrInvalid, err)
		}
		f.Tags = &tp
	}
	if p.Label != "" {
		k, v, ok := strings.Cut(p.Label, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return Filter{}, fmt.Errorf("%w: label %q: want key=value or key", ErrInvalid, p.Label)
		}
		f.LabelKey, f.LabelValue, f.labelAny = k, v, !ok
	}
	return f, nil
}

// MatchRepo reports whether the policy covers repository repo.
func (f Filter) MatchRepo(repo string) bool { return f.Repos.Match(repo) }

// MatchTag reports whether the policy covers tag.
func (f Filter) MatchTag(tag string) bool { return f.Tags == nil || f.Tags.Match(tag) }

// matchLabels reports whether one set of labels or annotations carries
// the label.
func (f Filter) matchLabels(m map[string]string) bool {
	v, ok := m[f.LabelKey]
	return ok && (f.labelAny || v == f.LabelValue)
}

// MatchImage checks the label filter against the image or index at ref:
// the manifest's annotations, or the image config's labels; for an index,
// its annotations or any of its images' annotations or config labels.
func (f Filter) MatchImage(ctx context.Context, ref name.Reference, opts ...remote.Option) (bool, error) {
	if f.LabelKey == "" {
		return true, nil
	}
	opts = append(opts, remote.WithContext(ctx))
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return false, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return false, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return false, err
		}
		if f.matchLabels(im.Annotations) {
			return true, nil
		}
		for _, m := range im.Manifests {
			if !m.MediaType.IsImage() {
				continue
			}
			img, err := idx.Image(m.Digest)
			if err != nil {
				return false, err
			}
			if ok, err := f.matchImage(img); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	img, err := desc.Image()
	if err != nil {
		return false, err
	}
	return f.matchImage(img)
}

func (f Filter) matchImage(img v1.Image) (bool, error) {
	m, err := img.Manifest()
	if err != nil {
		return false, err
	}
	if f.matchLabels(m.Annotations) {
		return true, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		// An artifact whose config is not an image config has no labels.
		return false, nil
	}
	return f.matchLabels(cf.Config.Labels), nil
}

// referrerTag matches the tags cosign and the referrers tag schema name
// after a manifest's digest: sha256-<hex>, maybe with a suffix (.sig, .att,
// .sbom).
var referrerTag = regexp.MustCompile(`^sha256-([a-f0-9]{64})(\..*)?$`)

// subjectOfTag returns the digest a digest-named tag refers to.
func subjectOfTag(tag string) (digest.Digest, bool) {
	m := referrerTag.FindStringSubmatch(tag)
	if m == nil {
		return "", false
	}
	return digest.Digest("sha256:" + m[1]), true
}

// ErrInvalid is wrapped by the errors of a policy that cannot be used.
var ErrInvalid = errors.New("invalid replication policy")
