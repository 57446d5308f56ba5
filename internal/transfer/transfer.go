package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Endpoint is how to reach one side of a copy.
type Endpoint struct {
	// Auth, when set, answers every credential challenge of this side.
	Auth authn.Authenticator
	// Keychain finds credentials per registry when Auth is nil
	// (authn.DefaultKeychain reads the Docker config file and its
	// credential helpers). With neither, requests are anonymous.
	Keychain authn.Keychain
	// Insecure skips TLS certificate verification and lets the client fall
	// back to plain HTTP. Hosts named localhost or 127.0.0.1 (and other
	// loopback or private addresses) may use plain HTTP regardless.
	Insecure bool
	// Transport is the base HTTP transport (nil: remote.DefaultTransport),
	// or one Connect returned, which every copy then uses as it is (Auth,
	// Keychain and Insecure were applied when it was made).
	Transport http.RoundTripper
}

// Options tune a copy. The zero value copies everything, anonymously.
type Options struct {
	Src, Dst Endpoint
	// Platform, when set, copies only the image for that platform out of
	// an index (an image's platform must match it). The destination then
	// holds that image, under its own digest, not the index's.
	Platform *v1.Platform
	// SkipReferrers leaves referrers and digest-named tags behind.
	SkipReferrers bool
	// Jobs is the number of blobs copied at once (default 4).
	Jobs int
	// Progress receives an Event for every step; nil: none.
	Progress Progress
	// UserAgent is sent with every request (empty: go-containerregistry's);
	// an Endpoint made by Connect sends the one given to Connect.
	UserAgent string
}

// Report sums up what a copy did.
type Report struct {
	// Images lists each tag or digest asked for (not referrers), in order.
	Images []Image
	// Manifests written to the destination, and those it already had.
	Manifests, ManifestsSkipped int
	// Tags written (pointed at a manifest) and tags that already named
	// the source's digest.
	Tags, TagsUpToDate int
	// Blobs uploaded, mounted from another repository (or found during
	// the upload), and skipped because the destination had them.
	BlobsSent, BlobsMounted, BlobsSkipped int
	// BytesSent is the size of the blobs uploaded.
	BytesSent int64
}

// Image is one tag or digest copied.
type Image struct {
	Source, Dest string
	Digest       v1.Hash
	// UpToDate: the destination tag already named this digest.
	UpToDate bool
}

// Add sums another report into r.
func (r *Report) Add(o Report) {
	r.Images = append(r.Images, o.Images...)
	r.Manifests += o.Manifests
	r.ManifestsSkipped += o.ManifestsSkipped
	r.Tags += o.Tags
	r.TagsUpToDate += o.TagsUpToDate
	r.BlobsSent += o.BlobsSent
	r.BlobsMounted += o.BlobsMounted
	r.BlobsSkipped += o.BlobsSkipped
	r.BytesSent += o.BytesSent
}

// Copy copies one image or index, src to dst, with its referrers. src is
// a tag or a digest; dst is a tag, or a digest that must equal the one
// copied (then nothing is tagged).
func Copy(ctx context.Context, src, dst name.Reference, opts Options) (Report, error) {
	c, err := newCopier(ctx, opts, src.Context(), dst.Context())
	if err != nil {
		return Report{}, err
	}
	err = c.copyRef(ctx, c.srcRef(src), c.dstRef(dst))
	return c.result(), err
}

// CopyRepository copies every tag of src to the same tag in dst (and the
// referrers of each). Tags are copied in sorted order; the first failure
// stops the copy.
func CopyRepository(ctx context.Context, src, dst name.Repository, opts Options) (Report, error) {
	c, err := newCopier(ctx, opts, src, dst)
	if err != nil {
		return Report{}, err
	}
	src, dst = c.srcRepo(src), c.dstRepo(dst)
	tags, err := c.listTags(ctx, src)
	if err != nil {
		return Report{}, fmt.Errorf("listing the tags of %s: %w", src, err)
	}
	if len(tags) == 0 {
		return Report{}, fmt.Errorf("%s has no tags", src)
	}
	for _, t := range tags {
		if err := c.copyRef(ctx, src.Tag(t), dst.Tag(t)); err != nil {
			return c.result(), err
		}
	}
	return c.result(), nil
}

// SyncDestination is where `berth sync` puts src below prefix, as skopeo
// sync does for registries: prefix, a slash, and the last path component
// of src's repository (registry.example/team/tools/app below
// mirror.example/copies is mirror.example/copies/app). prefix may be a
// bare registry host.
func SyncDestination(src name.Repository, prefix string, opts ...name.Option) (name.Repository, error) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" || strings.Contains(prefix, "@") {
		return name.Repository{}, fmt.Errorf("destination prefix %q: want a registry host or a repository path, without a digest", prefix)
	}
	repo, err := name.NewRepository(prefix+"/"+path.Base(src.RepositoryStr()), opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("destination prefix %q: %w", prefix, err)
	}
	return repo, nil
}

// listTags returns the tags of repo, sorted.
func (c *copier) listTags(ctx context.Context, repo name.Repository) ([]string, error) {
	tags, err := c.src.List(ctx, repo)
	if err != nil {
		return nil, err
	}
	sort.Strings(tags)
	return tags, nil
}

// remoteOptions are the go-containerregistry options for one side,
// whose Endpoint has been connected (see Connect).
func (opts Options) remoteOptions(e Endpoint) []remote.Option {
	ro := []remote.Option{remote.WithTransport(e.Transport)}
	if opts.Jobs > 0 {
		ro = append(ro, remote.WithJobs(opts.Jobs))
	}
	return ro
}

// ErrSchema1 is returned for Docker schema 1 manifests, which cannot be
// copied with their digests kept.
var ErrSchema1 = errors.New("docker schema 1 manifests are not supported")

// rawManifest is a manifest to PUT byte for byte.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
	digest    v1.Hash
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

var _ remote.Taggable = rawManifest{}
