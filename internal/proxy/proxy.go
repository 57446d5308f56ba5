package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/secretbox"
)

// Options configure the upstreams.
type Options struct {
	Store meta.Store
	// Secrets opens sealed upstream passwords (nil: none are sealed).
	Secrets *secretbox.Box
	// TTL of cached tags for proxy projects that set none.
	TTL time.Duration
	// Refresh is how often the proxy projects are read again from the
	// store, so a change made on another node is seen (default 5 s).
	Refresh time.Duration
	// Transport is the base HTTP transport (nil: a clone of
	// http.DefaultTransport); TLS settings of each upstream go on a copy.
	Transport *http.Transport
	// UserAgent is sent upstream.
	UserAgent string
	Log       *slog.Logger
}

// Upstreams implements registry.Upstream over the proxy projects kept in
// the metadata store.
type Upstreams struct {
	o Options

	mu       sync.Mutex
	loadedAt time.Time
	byName   map[string]*upstream
}

var _ registry.Upstream = (*Upstreams)(nil)

// New returns the upstreams.
func New(o Options) *Upstreams {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Upstreams{o: o, byName: map[string]*upstream{}}
}

// upstream is one proxy project's registry.
type upstream struct {
	p         meta.Proxy
	reg       name.Registry
	base      string // scheme://host
	auth      authn.Authenticator
	transport http.RoundTripper
	ttl       time.Duration

	mu    sync.Mutex
	repos map[string]http.RoundTripper // authenticated transports by path
}

// Origin implements registry.Upstream.
func (u *Upstreams) Origin(ctx context.Context, repo string) (registry.Origin, bool, error) {
	project := meta.ProjectOf(repo)
	if project == repo {
		return nil, false, nil
	}
	up, err := u.lookup(ctx, project)
	if err != nil || up == nil {
		return nil, false, err
	}
	return &origin{up: up, path: strings.TrimPrefix(repo, project+"/"), ua: u.o.UserAgent}, true, nil
}

// ProjectFor returns the proxy project whose upstream is registry host
// (the OCI ns= query parameter): docker.io, index.docker.io and
// registry-1.docker.io are one registry.
func (u *Upstreams) ProjectFor(ctx context.Context, host string) (string, bool, error) {
	if err := u.reload(ctx); err != nil {
		return "", false, err
	}
	want := canonicalHost(host)
	u.mu.Lock()
	defer u.mu.Unlock()
	best := ""
	for project, up := range u.byName {
		if canonicalHost(up.reg.RegistryStr()) == want && (best == "" || project < best) {
			best = project
		}
	}
	return best, best != "", nil
}

func canonicalHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, ":443"))
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}

func (u *Upstreams) lookup(ctx context.Context, project string) (*upstream, error) {
	if err := u.reload(ctx); err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byName[project], nil
}

// reload reads the proxy projects when the last read is older than
// Refresh, keeping the upstreams (and their authenticated transports)
// whose settings did not change.
func (u *Upstreams) reload(ctx context.Context) error {
	u.mu.Lock()
	fresh := time.Since(u.loadedAt) < u.o.Refresh
	u.mu.Unlock()
	if fresh {
		return nil
	}
	var ps []meta.Proxy
	if err := u.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		ps, err = r.ListProxies()
		return err
	}); err != nil {
		return fmt.Errorf("proxy projects: %w", err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	next := make(map[string]*upstream, len(ps))
	for _, p := range ps {
		if old := u.byName[p.Project]; old != nil && sameSettings(old.p, p) {
			next[p.Project] = old
			continue
		}
		up, err := u.newUpstream(p)
		if err != nil {
			u.o.Log.Error("proxy project unusable", "project", p.Project, "url", p.URL, "err", err)
			continue
		}
		next[p.Project] = up
	}
	u.byName, u.loadedAt = next, time.Now()
	return nil
}

func sameSettings(a, b meta.Proxy) bool {
	return a.URL == b.URL && a.Username == b.Username && string(a.Password) == string(b.Password) &&
		a.Insecure == b.Insecure && a.CACert == b.CACert && a.TTL == b.TTL
}

func (u *Upstreams) newUpstream(p meta.Proxy) (*upstream, error) {
	// The URL was checked when it was stored (auth.SetProxy).
	v, err := url.Parse(p.URL)
	if err != nil || v.Host == "" {
		return nil, fmt.Errorf("upstream URL %q is not scheme://host[:port]", p.URL)
	}
	var opts []name.Option
	if v.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(v.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", p.URL, err)
	}
	t := u.o.Transport.Clone()
	if p.Insecure || p.CACert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
		}
		cfg.InsecureSkipVerify = p.Insecure
		if p.CACert != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(p.CACert)) {
				return nil, fmt.Errorf("upstream %q: the CA certificate is not PEM", p.URL)
			}
			cfg.RootCAs = pool
		}
		t.TLSClientConfig = cfg
	}
	auth := authn.Anonymous
	if p.Username != "" {
		password := p.Password
		if secretbox.Sealed(password) {
			if u.o.Secrets == nil {
				return nil, secretbox.ErrNoKey
			}
			if password, err = u.o.Secrets.Open(password); err != nil {
				return nil, fmt.Errorf("upstream %q: password: %w", p.URL, err)
			}
		}
		auth = &authn.Basic{Username: p.Username, Password: string(password)}
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = u.o.TTL
	}
	return &upstream{p: p, reg: reg, base: v.Scheme + "://" + v.Host, auth: auth, transport: t, ttl: ttl,
		repos: map[string]http.RoundTripper{}}, nil
}

// client returns the authenticated transport for path (a ping and, for a
// token-protected upstream, the token exchange happen on first use).
func (up *upstream) client(ctx context.Context, path string) (http.RoundTripper, error) {
	up.mu.Lock()
	rt := up.repos[path]
	up.mu.Unlock()
	if rt != nil {
		return rt, nil
	}
	repo := up.reg.Repo(path)
	rt, err := transport.NewWithContext(ctx, up.reg, up.auth, up.transport, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, classify(err)
	}
	up.mu.Lock()
	if len(up.repos) > 10000 { // bound the memory: start again
		up.repos = map[string]http.RoundTripper{}
	}
	up.repos[path] = rt
	up.mu.Unlock()
	return rt, nil
}

// classify wraps the errors the cache tells apart.
func classify(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %v", registry.ErrUpstreamNotFound, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: %v", registry.ErrUpstreamDenied, err)
		}
	}
	return err
}

// origin is one repository of an upstream.
type origin struct {
	up   *upstream
	path string
	ua   string
}

func (o *origin) String() string     { return o.up.base + "/" + o.path }
func (o *origin) TTL() time.Duration { return o.up.ttl }

// manifestAccept is every manifest type the cache stores.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// maxManifest bounds a manifest read from an upstream.
const maxManifest = 8 << 20

func (o *origin) do(ctx context.Context, method, kind, ref string) (*http.Response, error) {
	rt, err := o.up.client(ctx, o.path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, o.up.base+"/v2/"+o.path+"/"+kind+"/"+ref, nil)
	if err != nil {
		return nil, err
	}
	if kind == "manifests" {
		req.Header.Set("Accept", manifestAccept)
	}
	if o.ua != "" {
		req.Header.Set("User-Agent", o.ua)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, classify(transport.CheckError(resp, http.StatusOK))
	}
	return resp, nil
}

func (o *origin) Resolve(ctx context.Context, tag string) (digest.Digest, error) {
	resp, err := o.do(ctx, http.MethodHead, "manifests", tag)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return "", fmt.Errorf("the upstream's answer for tag %s has no valid Docker-Content-Digest: %w", tag, err)
	}
	return d, nil
}

func (o *origin) Manifest(ctx context.Context, ref string) ([]byte, string, error) {
	resp, err := o.do(ctx, http.MethodGet, "manifests", ref)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, "", err
	}
	if len(body) > maxManifest {
		return nil, "", fmt.Errorf("the upstream's manifest %s is larger than %d bytes", ref, maxManifest)
	}
	return body, resp.Header.Get("Content-Type"), nil
}

func (o *origin) Blob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	resp, err := o.do(ctx, http.MethodGet, "blobs", d.String())
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

func (o *origin) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	resp, err := o.do(ctx, http.MethodHead, "blobs", d.String())
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("the upstream's answer for blob %s has no valid Content-Length", d)
	}
	return size, nil
}
