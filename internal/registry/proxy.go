package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// The pull-through cache. A proxy project's repositories are filled from
// an upstream registry as clients pull them:
//
//   - a manifest asked for by digest is served from the index when cached,
//     else fetched once (concurrent misses share one fetch), stored and
//     served; digests are never revalidated;
//   - a tag is served from the index while it was found current upstream
//     within the origin's TTL; past it a HEAD asks the upstream for the
//     tag's digest: the same digest renews the TTL, another one is fetched
//     (or found cached) and the tag moved. When the upstream fails (down,
//     slow, 429) the cached manifest is served, marked stale;
//   - an index is stored as it is, its children fetched when asked for (a
//     sparse index); an image manifest is stored before its blobs, which
//     are fetched when first pulled (see fill.go);
//   - pushes are refused: the upstream is the only writer.
//
// Cached content is an ordinary part of its project: quotas (a manifest
// that would take the project over its quota is served but not stored),
// retention and garbage collection treat it like pushed content.

// Upstream finds the origin of a proxy project's repositories: the port
// the pull-through cache's client (internal/proxy) implements.
type Upstream interface {
	// Origin returns where repo comes from when its project is a proxy
	// project; ok is false for any other repository.
	Origin(ctx context.Context, repo string) (o Origin, ok bool, err error)
}

// Origin is an upstream registry seen from one repository.
type Origin interface {
	// String names the upstream for logs and errors (its URL and path).
	String() string
	// TTL is how long a cached tag is served before it is revalidated.
	TTL() time.Duration
	// Resolve returns the digest the upstream's tag names (a HEAD).
	Resolve(ctx context.Context, tag string) (digest.Digest, error)
	// Manifest fetches a manifest by tag or digest.
	Manifest(ctx context.Context, ref string) (body []byte, mediaType string, err error)
	// Blob opens blob d; size is its length, or -1 when the upstream does
	// not say.
	Blob(ctx context.Context, d digest.Digest) (rc io.ReadCloser, size int64, err error)
	// StatBlob returns the size of blob d (a HEAD).
	StatBlob(ctx context.Context, d digest.Digest) (int64, error)
}

// ErrUpstreamNotFound is returned (wrapped) by an Origin when the upstream
// answered that it does not have what was asked for.
var ErrUpstreamNotFound = errors.New("not found upstream")

// ErrUpstreamDenied is returned (wrapped) by an Origin when the upstream
// refused the cache's credentials.
var ErrUpstreamDenied = errors.New("denied by the upstream")

// CacheStatus says how a pull was answered.
type CacheStatus string

// Cache statuses; "" when the repository is not in a proxy project.
const (
	CacheHit         CacheStatus = "hit"         // served from the cache
	CacheMiss        CacheStatus = "miss"        // fetched from the upstream
	CacheRevalidated CacheStatus = "revalidated" // cached tag confirmed upstream
	CacheStale       CacheStatus = "stale"       // cached, the upstream unreachable
	CacheBypass      CacheStatus = "bypass"      // fetched, not stored (quota)
)

// proxyActor is who the cache's writes are recorded under.
var proxyActor = actor.Actor{Name: "proxy", Kind: "system"}

func withProxyActor(ctx context.Context) context.Context { return actor.Behalf(ctx, proxyActor) }

// origin returns the origin of repo (nil when not proxied).
func (s *Service) origin(ctx context.Context, repo string) (Origin, error) {
	if s.opts.Upstream == nil {
		return nil, nil
	}
	o, ok, err := s.opts.Upstream.Origin(ctx, repo)
	if err != nil || !ok {
		return nil, err
	}
	return o, nil
}

// refuseProxied refuses a write into a proxy project's repository.
func (s *Service) refuseProxied(ctx context.Context, repo string) error {
	o, err := s.origin(ctx, repo)
	if err != nil || o == nil {
		return err
	}
	return errcode.Denied.Errorf("%s is in a pull-through cache project of %s: it only takes pulls", repo, o)
}

// upstreamTimeout bounds one upstream request that a client waits for.
func (s *Service) upstreamTimeout() time.Duration {
	if s.opts.UpstreamTimeout > 0 {
		return s.opts.UpstreamTimeout
	}
	return 30 * time.Second
}

// PullManifest is GetManifest for a client's pull: in a proxy project's
// repository it fills the cache from the upstream as described above.
func (s *Service) PullManifest(ctx context.Context, repo string, ref Reference) (meta.Manifest, CacheStatus, error) {
	o, err := s.origin(ctx, repo)
	if err != nil {
		return meta.Manifest{}, "", err
	}
	m, err := s.GetManifest(ctx, repo, ref)
	if o == nil {
		return m, "", err
	}
	var unknown *errcode.Error
	missing := errors.As(err, &unknown) && unknown.Code == errcode.ManifestUnknown
	switch {
	case err != nil && !missing:
		return m, "", err
	case err == nil && ref.Digest != "":
		return m, CacheHit, nil
	case err == nil:
		var checked time.Time
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			checked, err = r.ProxyTagChecked(repo, ref.Tag)
			return err
		}); err != nil {
			return m, "", err
		}
		if s.opts.Now().Sub(checked) < o.TTL() {
			return m, CacheHit, nil
		}
		return s.revalidate(ctx, o, repo, ref.Tag, m)
	}
	return s.fetchManifest(ctx, o, repo, ref)
}

// flight results shared by concurrent callers.
type manifestFlight struct {
	m      meta.Manifest
	status CacheStatus
}

// fetchManifest fetches ref from the upstream and caches it (one fetch
// however many clients miss at once).
func (s *Service) fetchManifest(ctx context.Context, o Origin, repo string, ref Reference) (meta.Manifest, CacheStatus, error) {
	v, err, _ := s.flights.Do("m\x00"+repo+"\x00"+ref.String(), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.upstreamTimeout())
		defer cancel()
		body, mediaType, err := o.Manifest(ctx, ref.String())
		if err != nil {
			return nil, s.upstreamError(ctx, o, manifestUnknown(repo, ref), err)
		}
		m, status, err := s.storeCached(ctx, repo, ref, body, mediaType)
		return manifestFlight{m, status}, err
	})
	if err != nil {
		return meta.Manifest{}, "", err
	}
	f := v.(manifestFlight)
	return f.m, f.status, nil
}

// revalidate asks the upstream whether cached tag still names m.
func (s *Service) revalidate(ctx context.Context, o Origin, repo, tag string, m meta.Manifest) (meta.Manifest, CacheStatus, error) {
	v, err, _ := s.flights.Do("t\x00"+repo+"\x00"+tag, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.upstreamTimeout())
		defer cancel()
		d, err := o.Resolve(ctx, tag)
		if err != nil {
			s.log.WarnContext(ctx, "pull-through cache: upstream unavailable, serving the cached tag (stale)",
				"repo", repo, "tag", tag, "digest", m.Digest, "upstream", o.String(), "err", err)
			return manifestFlight{m, CacheStale}, nil
		}
		if d == m.Digest {
			return manifestFlight{m, CacheRevalidated}, s.meta.UpdateAsync(ctx, func(tx meta.Tx) error {
				return tx.SetProxyTagChecked(repo, tag, s.opts.Now())
			})
		}
		// The tag moved upstream: fetch the new manifest by digest (maybe
		// cached already) and move the tag to it.
		nm, _, err := s.GetManifestOrFetch(ctx, o, repo, d)
		if err != nil {
			s.log.WarnContext(ctx, "pull-through cache: the tag moved upstream but its manifest could not be fetched, serving the cached one (stale)",
				"repo", repo, "tag", tag, "cached", m.Digest, "upstream_digest", d, "err", err)
			return manifestFlight{m, CacheStale}, nil
		}
		if err := s.moveCachedTag(ctx, repo, tag, nm); err != nil {
			return nil, err
		}
		return manifestFlight{nm, CacheMiss}, nil
	})
	if err != nil {
		return meta.Manifest{}, "", err
	}
	f := v.(manifestFlight)
	return f.m, f.status, nil
}

// GetManifestOrFetch returns manifest d of repo, fetching it from o when
// it is not cached.
func (s *Service) GetManifestOrFetch(ctx context.Context, o Origin, repo string, d digest.Digest) (meta.Manifest, CacheStatus, error) {
	ref := Reference{Digest: d}
	m, err := s.GetManifest(ctx, repo, ref)
	if err == nil {
		return m, CacheHit, nil
	}
	var unknown *errcode.Error
	if !errors.As(err, &unknown) || unknown.Code != errcode.ManifestUnknown {
		return m, "", err
	}
	return s.fetchManifest(ctx, o, repo, ref)
}

// upstreamError is what a client hears when the upstream failed for
// something not cached: notFound when the upstream does not have it.
func (s *Service) upstreamError(ctx context.Context, o Origin, notFound *errcode.Error, err error) error {
	switch {
	case errors.Is(err, ErrUpstreamNotFound):
		return notFound
	case errors.Is(err, ErrUpstreamDenied):
		return errcode.Denied.Errorf("the upstream %s refused the cache's credentials: %v", o, err)
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(ctx, "pull-through cache: upstream timed out", "upstream", o.String(), "err", err)
		return errcode.UpstreamUnavailable.Errorf("the upstream %s did not answer in time", o)
	}
	s.log.WarnContext(ctx, "pull-through cache: upstream failed", "upstream", o.String(), "err", err)
	return errcode.UpstreamUnavailable.Errorf("the upstream %s failed: %v", o, err)
}

// storeCached stores a manifest fetched for ref (tagging it when ref is a
// tag). A manifest the project's quota has no room for is returned
// without being stored.
func (s *Service) storeCached(ctx context.Context, repo string, ref Reference, body []byte, mediaType string) (meta.Manifest, CacheStatus, error) {
	alg := digest.Canonical
	if ref.Digest != "" {
		alg = ref.Digest.Algorithm()
	}
	d := alg.FromBytes(body)
	if ref.Digest != "" && d != ref.Digest {
		return meta.Manifest{}, "", errcode.UpstreamUnavailable.Errorf("the upstream sent a manifest with digest %s for %s", d, ref.Digest)
	}
	if int64(len(body)) > s.opts.ManifestMaxSize {
		return meta.Manifest{}, "", errcode.UpstreamUnavailable.Errorf("the upstream's manifest %s is larger than %d bytes", d, s.opts.ManifestMaxSize)
	}
	p, err := oci.ParseManifest(mediaType, body)
	if err != nil {
		return meta.Manifest{}, "", errcode.UpstreamUnavailable.Errorf("the upstream sent an invalid manifest %s: %v", d, err)
	}
	now := s.opts.Now()
	m := meta.Manifest{
		Digest: d, MediaType: p.MediaType, ArtifactType: p.ArtifactType, Size: int64(len(body)),
		Content: body, Annotations: p.Annotations, CreatedAt: now,
	}
	if p.Subject != nil {
		m.Subject = p.Subject.Digest
	}
	refs := meta.Refs{Blobs: oci.Digests(p.Blobs), Manifests: oci.Digests(p.Manifests)}
	ctx = withProxyActor(ctx)
	err = s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.LockDigests(append(append([]digest.Digest{d}, refs.Blobs...), refs.Manifests...)...); err != nil {
			return err
		}
		quota, err := lockQuota(tx, repo)
		if err != nil {
			return err
		}
		if err := tx.PutManifest(repo, m, refs); err != nil {
			return err
		}
		if _, err := quota.check(tx); err != nil {
			return err
		}
		ev := meta.Event{Kind: "manifest.push", Repo: repo, Digest: d, MediaType: m.MediaType, Size: m.Size, CreatedAt: now, Detail: "cached"}
		if ref.Tag == "" {
			return s.record(ctx, tx, ev)
		}
		if _, err := tx.PutTag(repo, ref.Tag, d); err != nil {
			return err
		}
		if err := tx.SetProxyTagChecked(repo, ref.Tag, now); err != nil {
			return err
		}
		ev.Tag = ref.Tag
		return s.record(ctx, tx, ev)
	})
	if ref.Tag != "" {
		s.cache.forgetTags(repo, []string{ref.Tag})
	}
	var denied *errcode.Error
	if errors.As(err, &denied) && denied.Code == errcode.Denied {
		s.log.WarnContext(ctx, "pull-through cache: the project's quota has no room, serving without caching",
			"repo", repo, "ref", ref.String(), "err", err)
		return m, CacheBypass, nil
	}
	if err != nil {
		return meta.Manifest{}, "", fmt.Errorf("caching manifest %s of %s: %w", d, repo, err)
	}
	return m, CacheMiss, nil
}

// moveCachedTag points cached tag at m, which is cached in repo.
func (s *Service) moveCachedTag(ctx context.Context, repo, tag string, m meta.Manifest) error {
	ctx = withProxyActor(ctx)
	now := s.opts.Now()
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		if _, err := tx.PutTag(repo, tag, m.Digest); err != nil {
			return err
		}
		if err := tx.SetProxyTagChecked(repo, tag, now); err != nil {
			return err
		}
		return s.record(ctx, tx, meta.Event{Kind: "manifest.push", Repo: repo, Tag: tag, Digest: m.Digest,
			MediaType: m.MediaType, Size: m.Size, CreatedAt: now, Detail: "cached"})
	})
	s.cache.forgetTags(repo, []string{tag})
	return err
}

// flightGroup coalesces concurrent upstream requests for the same thing.
type flightGroup = singleflight.Group
