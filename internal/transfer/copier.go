package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// copier is one run of Copy or CopyRepository: its clients, what it has
// done (so nothing is done twice), and the running report.
type copier struct {
	opts    Options
	src     *remote.Puller // reads the source
	dstGet  *remote.Puller // HEADs on the destination
	dst     *remote.Pusher // writes manifests to the destination
	dstHTTP *http.Client   // blob HEADs and uploads at the destination
	jobs    int

	mu        sync.Mutex
	report    Report
	manifests map[string]bool     // dst repo@digest handled
	tags      map[string]bool     // dst repo:tag handled
	blobs     map[string]bool     // dst repo@digest handled
	srcTags   map[string][]string // src repo → its tags (nil until listed)
}

// newCopier connects to both sides once (unless the caller did, see
// Connect), asking for a token that reads srcRepo and writes dstRepo.
func newCopier(ctx context.Context, opts Options, srcRepo, dstRepo name.Repository) (*copier, error) {
	srcRepo = insecure(srcRepo, opts.Src.Insecure, name.NewRepository)
	dstRepo = insecure(dstRepo, opts.Dst.Insecure, name.NewRepository)
	var err error
	if opts.Src, err = connect(ctx, srcRepo.Registry, opts.Src, opts.UserAgent, []string{srcRepo.Scope(transport.PullScope)}); err != nil {
		return nil, err
	}
	dstScopes := []string{dstRepo.Scope(transport.PushScope)}
	if srcRepo.Registry.String() == dstRepo.Registry.String() && srcRepo.String() != dstRepo.String() {
		dstScopes = append(dstScopes, srcRepo.Scope(transport.PullScope)) // to mount blobs
	}
	if opts.Dst, err = connect(ctx, dstRepo.Registry, opts.Dst, opts.UserAgent, dstScopes); err != nil {
		return nil, err
	}
	src, err := remote.NewPuller(opts.remoteOptions(opts.Src)...)
	if err != nil {
		return nil, err
	}
	dstGet, err := remote.NewPuller(opts.remoteOptions(opts.Dst)...)
	if err != nil {
		return nil, err
	}
	dst, err := remote.NewPusher(opts.remoteOptions(opts.Dst)...)
	if err != nil {
		return nil, err
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	return &copier{
		opts: opts, src: src, dstGet: dstGet, dst: dst, jobs: jobs,
		dstHTTP:   &http.Client{Transport: opts.Dst.Transport, CheckRedirect: checkRedirect},
		manifests: map[string]bool{}, tags: map[string]bool{}, blobs: map[string]bool{},
		srcTags: map[string][]string{},
	}, nil
}

func (c *copier) result() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.report
	r.Images = slices.Clone(r.Images)
	return r
}

func (c *copier) emit(e Event) {
	if c.opts.Progress != nil {
		c.opts.Progress.Update(e)
	}
}

// count changes the report under the lock.
func (c *copier) count(f func(r *Report)) {
	c.mu.Lock()
	f(&c.report)
	c.mu.Unlock()
}

// once reports whether key is seen for the first time in set.
func (c *copier) once(set map[string]bool, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if set[key] {
		return false
	}
	set[key] = true
	return true
}

// seen reports whether key is in set, without adding it.
func (c *copier) seen(set map[string]bool, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return set[key]
}

// insecure re-parses a reference so that plain HTTP is allowed for it.
func insecure[T interface{ String() string }](ref T, on bool, parse func(string, ...name.Option) (T, error)) T {
	if !on {
		return ref
	}
	if r, err := parse(ref.String(), name.Insecure); err == nil {
		return r
	}
	return ref
}

func (c *copier) srcRef(r name.Reference) name.Reference {
	return insecure(r, c.opts.Src.Insecure, name.ParseReference)
}

func (c *copier) dstRef(r name.Reference) name.Reference {
	return insecure(r, c.opts.Dst.Insecure, name.ParseReference)
}

func (c *copier) srcRepo(r name.Repository) name.Repository {
	return insecure(r, c.opts.Src.Insecure, name.NewRepository)
}

func (c *copier) dstRepo(r name.Repository) name.Repository {
	return insecure(r, c.opts.Dst.Insecure, name.NewRepository)
}

// manifest is a manifest read from the source, with what it refers to.
type manifest struct {
	rawManifest
	children []v1.Descriptor // an index's manifests
	blobs    []v1.Descriptor // an image's config and layers
}

// parsed is the part of a manifest or index the copy needs.
type parsed struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     types.MediaType `json:"mediaType"`
	Config        *v1.Descriptor  `json:"config"`
	Layers        []v1.Descriptor `json:"layers"`
	Manifests     []v1.Descriptor `json:"manifests"`
	Blobs         []v1.Descriptor `json:"blobs"` // the withdrawn OCI artifact manifest
}

// fetch reads a manifest from the source, by tag or digest.
func (c *copier) fetch(ctx context.Context, ref name.Reference) (manifest, error) {
	d, err := c.src.Get(ctx, ref)
	if err != nil {
		return manifest{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	m := manifest{rawManifest: rawManifest{raw: d.Manifest, mediaType: d.MediaType, digest: d.Digest}}
	if d.MediaType.IsSchema1() {
		return manifest{}, fmt.Errorf("%s: %w", ref, ErrSchema1)
	}
	var p parsed
	if err := json.Unmarshal(d.Manifest, &p); err != nil {
		return manifest{}, fmt.Errorf("%s: parsing the manifest: %w", ref, err)
	}
	if p.SchemaVersion == 1 {
		return manifest{}, fmt.Errorf("%s: %w", ref, ErrSchema1)
	}
	m.children = p.Manifests
	if p.Config != nil {
		m.blobs = append(m.blobs, *p.Config)
	}
	m.blobs = append(m.blobs, p.Layers...)
	m.blobs = append(m.blobs, p.Blobs...)
	return m, nil
}

// isNotFound reports whether err is a registry's 404.
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// dstDigest returns the digest the destination has under ref, or a zero
// hash when it has nothing there.
func (c *copier) dstDigest(ctx context.Context, ref name.Reference) (v1.Hash, error) {
	d, err := c.dstGet.Head(ctx, ref)
	if isNotFound(err) {
		return v1.Hash{}, nil
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("checking %s: %w", ref, err)
	}
	return d.Digest, nil
}

// dstDigestAsync starts dstDigest and returns a function that waits for
// its answer.
func (c *copier) dstDigestAsync(ctx context.Context, ref name.Reference) func() (v1.Hash, error) {
	done := make(chan struct{})
	var (
		h   v1.Hash
		err error
	)
	go func() {
		defer close(done)
		h, err = c.dstDigest(ctx, ref)
	}()
	return func() (v1.Hash, error) {
		<-done
		return h, err
	}
}

// copyRef copies what src names to dst: the top of a copy (a tag or
// digest the user asked for, or a digest-named tag), with the platform
// choice applied.
func (c *copier) copyRef(ctx context.Context, src, dst name.Reference) error {
	m, err := c.fetch(ctx, src)
	if err != nil {
		return err
	}
	if c.opts.Platform != nil {
		if m, err = c.selectPlatform(ctx, src, m, *c.opts.Platform); err != nil {
			return err
		}
	}
	return c.copyTop(ctx, src, dst, m, true)
}

// copyTop writes m to dst (a tag, or a digest that must be m's) unless the
// tag already names it, then walks its referrers. record: the copy was
// asked for (it is listed in the report's Images).
func (c *copier) copyTop(ctx context.Context, src, dst name.Reference, m manifest, record bool) error {
	srcRepo, dstRepo := src.Context(), dst.Context()
	img := Image{Source: src.String(), Dest: dst.String(), Digest: m.digest}
	var tag *name.Tag
	switch d := dst.(type) {
	case name.Tag:
		tag = &d
	case name.Digest:
		if d.DigestStr() != m.digest.String() {
			return fmt.Errorf("%s: the source's digest is %s", dst, m.digest)
		}
	}
	if tag != nil && !c.once(c.tags, tag.String()) {
		return nil
	}
	var known func() (v1.Hash, error)
	if tag != nil {
		if !c.seen(c.manifests, dstRepo.String()+"@"+m.digest.String()) {
			// What the tag names and whether the manifest is there are
			// asked at once: one round trip instead of two.
			known = c.dstDigestAsync(ctx, dstRepo.Digest(m.digest.String()))
		}
		have, err := c.dstDigest(ctx, *tag)
		if known != nil && (err != nil || have == m.digest) {
			_, _ = known() // not needed: no request outlives the copy
		}
		if err != nil {
			return err
		}
		if have == m.digest {
			img.UpToDate = true
			c.count(func(r *Report) {
				r.TagsUpToDate++
				if record {
					r.Images = append(r.Images, img)
				}
			})
			c.emit(Event{Kind: TagUpToDate, Repo: dstRepo.String(), Tag: tag.TagStr(), Digest: m.digest, MediaType: m.mediaType})
			c.once(c.manifests, dstRepo.String()+"@"+m.digest.String())
			return c.referrersOfTree(ctx, srcRepo, dstRepo, m)
		}
	}
	if err := c.copyManifest(ctx, srcRepo, dstRepo, m, tag, known); err != nil {
		return err
	}
	if record {
		c.count(func(r *Report) { r.Images = append(r.Images, img) })
	}
	return nil
}

// copyManifest copies m (and, first, everything it refers to) into dstRepo
// unless the destination has it, tags it when tag is set, then copies its
// referrers. known, when set, answers what the destination has under m's
// digest (a HEAD already under way).
func (c *copier) copyManifest(ctx context.Context, srcRepo, dstRepo name.Repository, m manifest, tag *name.Tag, known func() (v1.Hash, error)) error {
	ev := Event{Repo: dstRepo.String(), Digest: m.digest, MediaType: m.mediaType, Size: int64(len(m.raw))}
	if !c.once(c.manifests, dstRepo.String()+"@"+m.digest.String()) {
		return c.tag(ctx, dstRepo, m, tag)
	}
	if known == nil {
		known = func() (v1.Hash, error) { return c.dstDigest(ctx, dstRepo.Digest(m.digest.String())) }
	}
	have, err := known()
	if err != nil {
		return err
	}
	if have == m.digest {
		c.count(func(r *Report) { r.ManifestsSkipped++ })
		c.emit(withKind(ev, ManifestSkipped))
		if err := c.tag(ctx, dstRepo, m, tag); err != nil {
			return err
		}
		return c.referrersOfTree(ctx, srcRepo, dstRepo, m)
	}
	for _, child := range m.children {
		cm, err := c.fetch(ctx, srcRepo.Digest(child.Digest.String()))
		if err != nil {
			return err
		}
		if err := c.copyManifest(ctx, srcRepo, dstRepo, cm, nil, nil); err != nil {
			return err
		}
	}
	if err := c.copyBlobs(ctx, srcRepo, dstRepo, m.blobs); err != nil {
		return err
	}
	var ref name.Reference = dstRepo.Digest(m.digest.String())
	if tag != nil {
		ref = *tag
		ev.Tag = tag.TagStr()
	}
	if err := c.dst.Put(ctx, ref, m.rawManifest); err != nil {
		return fmt.Errorf("writing %s: %w", ref, err)
	}
	c.count(func(r *Report) {
		r.Manifests++
		if tag != nil {
			r.Tags++
		}
	})
	c.emit(withKind(ev, ManifestSent))
	return c.copyReferrers(ctx, srcRepo, dstRepo, m.digest)
}

func withKind(e Event, k EventKind) Event {
	e.Kind = k
	return e
}

// tag points tag (if set) at m, which the destination has.
func (c *copier) tag(ctx context.Context, dstRepo name.Repository, m manifest, tag *name.Tag) error {
	if tag == nil {
		return nil
	}
	if err := c.dst.Put(ctx, *tag, m.rawManifest); err != nil {
		return fmt.Errorf("writing %s: %w", tag, err)
	}
	c.count(func(r *Report) { r.Tags++ })
	c.emit(Event{Kind: Tagged, Repo: dstRepo.String(), Tag: tag.TagStr(), Digest: m.digest, MediaType: m.mediaType})
	return nil
}

// referrersOfTree copies the referrers of a manifest the destination
// already has, and of its children: new signatures may have come since.
func (c *copier) referrersOfTree(ctx context.Context, srcRepo, dstRepo name.Repository, m manifest) error {
	for _, child := range m.children {
		if !c.once(c.manifests, dstRepo.String()+"@"+child.Digest.String()) {
			continue
		}
		if err := c.copyReferrers(ctx, srcRepo, dstRepo, child.Digest); err != nil {
			return err
		}
	}
	return c.copyReferrers(ctx, srcRepo, dstRepo, m.digest)
}

// referrerTagSuffixes are the digest-named tags that travel with a
// manifest: the referrers tag schema's index and cosign's signature,
// attestation and SBOM tags.
var referrerTagSuffixes = []string{"", ".sig", ".att", ".sbom"}

// copyReferrers copies the manifests that refer to subject, and the tags
// named after it.
func (c *copier) copyReferrers(ctx context.Context, srcRepo, dstRepo name.Repository, subject v1.Hash) error {
	if c.opts.SkipReferrers {
		return nil
	}
	idx, err := remote.Referrers(srcRepo.Digest(subject.String()), remote.Reuse(c.src), remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("listing the referrers of %s@%s: %w", srcRepo, subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("listing the referrers of %s@%s: %w", srcRepo, subject, err)
	}
	for _, d := range im.Manifests {
		rm, err := c.fetch(ctx, srcRepo.Digest(d.Digest.String()))
		if err != nil {
			return err
		}
		if err := c.copyManifest(ctx, srcRepo, dstRepo, rm, nil, nil); err != nil {
			return err
		}
	}
	tags, err := c.tagsOf(ctx, srcRepo)
	if err != nil {
		c.emit(Event{Kind: Warning, Repo: dstRepo.String(), Digest: subject,
			Note: fmt.Sprintf("cannot list the tags of %s, so digest-named tags (cosign signatures) of %s are not copied: %v", srcRepo, subject, err)})
		return nil
	}
	base := strings.Replace(subject.String(), ":", "-", 1)
	for _, suffix := range referrerTagSuffixes {
		t := base + suffix
		if _, ok := slices.BinarySearch(tags, t); !ok {
			continue
		}
		m, err := c.fetch(ctx, srcRepo.Tag(t))
		if err != nil {
			return err
		}
		if err := c.copyTop(ctx, srcRepo.Tag(t), dstRepo.Tag(t), m, false); err != nil {
			return err
		}
	}
	return nil
}

// tagsOf lists the source repository's tags once per run.
func (c *copier) tagsOf(ctx context.Context, repo name.Repository) ([]string, error) {
	c.mu.Lock()
	tags, ok := c.srcTags[repo.String()]
	c.mu.Unlock()
	if ok {
		return tags, nil
	}
	tags, err := c.listTags(ctx, repo)
	if isNotFound(err) {
		tags, err = []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.srcTags[repo.String()] = tags
	c.mu.Unlock()
	return tags, nil
}

// selectPlatform picks the image for p out of an index, or checks that
// an image is for p (an artifact whose config names no platform passes).
func (c *copier) selectPlatform(ctx context.Context, src name.Reference, m manifest, p v1.Platform) (manifest, error) {
	if !m.mediaType.IsIndex() && len(m.children) == 0 {
		cfg, err := c.imagePlatform(ctx, src.Context(), m)
		if err != nil {
			return manifest{}, err
		}
		if cfg.OS == "" && cfg.Architecture == "" {
			return m, nil // an artifact (a signature, an SBOM): no platform to match
		}
		if !cfg.Satisfies(p) {
			return manifest{}, fmt.Errorf("%s is an image for %s, not %s", src, cfg, p.String())
		}
		return m, nil
	}
	var have []string
	for _, child := range m.children {
		if child.Platform == nil {
			continue
		}
		if child.Platform.Satisfies(p) {
			cm, err := c.fetch(ctx, src.Context().Digest(child.Digest.String()))
			if err != nil {
				return manifest{}, err
			}
			return cm, nil
		}
		have = append(have, child.Platform.String())
	}
	return manifest{}, fmt.Errorf("%s has no image for %s (it has: %s)", src, p.String(), strings.Join(have, ", "))
}

// imagePlatform reads an image's platform from its config blob.
func (c *copier) imagePlatform(ctx context.Context, repo name.Repository, m manifest) (v1.Platform, error) {
	if len(m.blobs) == 0 {
		return v1.Platform{}, fmt.Errorf("%s@%s has no config", repo, m.digest)
	}
	l, err := c.src.Layer(ctx, repo.Digest(m.blobs[0].Digest.String()))
	if err != nil {
		return v1.Platform{}, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return v1.Platform{}, fmt.Errorf("reading the config of %s@%s: %w", repo, m.digest, err)
	}
	defer rc.Close()
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
		OSVersion    string `json:"os.version"`
	}
	if err := json.NewDecoder(rc).Decode(&cfg); err != nil {
		return v1.Platform{}, fmt.Errorf("reading the config of %s@%s: %w", repo, m.digest, err)
	}
	return v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}, nil
}
