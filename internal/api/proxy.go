package api

import (
	"context"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// proxyOperations make projects pull-through caches of upstream
// registries.
var proxyOperations = []operation{
	{"GET", "/proxies", (*API).listProxies, "List the proxy projects and their upstreams (passwords are never shown)", "system admins", nil, []proxyJSON{}, 200},
	{"GET", "/projects/{project}/proxy", (*API).getProxy, "Read a proxy project's upstream", "system admins", nil, proxyJSON{}, 200},
	{"PUT", "/projects/{project}/proxy", (*API).setProxy, "Make a project a pull-through cache of an upstream registry, or change its upstream (url, username, password, insecure, ca_cert, ttl_seconds: 0 = proxy.ttl)", "system admins", proxyRequest{}, proxyJSON{}, 200},
	{"DELETE", "/projects/{project}/proxy", (*API).deleteProxy, "Make a proxy project a plain project (what it cached stays)", "system admins", nil, nil, 204},
}

type proxyRequest struct {
	URL        string `json:"url"`
	Username   string `json:"username,omitempty"`
	Password   string `json:"password,omitempty"`
	Insecure   bool   `json:"insecure,omitempty"`
	CACert     string `json:"ca_cert,omitempty"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

type proxyJSON struct {
	Project  string `json:"project"`
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	Insecure bool   `json:"insecure"`
	// CACert is the PEM bundle the upstream must chain to ("" = system roots).
	CACert     string    `json:"ca_cert,omitempty"`
	TTLSeconds int64     `json:"ttl_seconds"`
	CreatedAt  time.Time `json:"created_at"`
}

func proxyOut(p meta.Proxy) proxyJSON {
	return proxyJSON{Project: p.Project, URL: p.URL, Username: p.Username, Insecure: p.Insecure, CACert: p.CACert,
		TTLSeconds: int64(p.TTL / time.Second), CreatedAt: p.CreatedAt}
}

func (x *API) listProxies(ctx context.Context, actor auth.Identity, _ *http.Request) (int, any, error) {
	ps, err := x.auth.ListProxies(ctx, actor)
	out := make([]proxyJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, proxyOut(p))
	}
	return http.StatusOK, out, err
}

func (x *API) getProxy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	p, err := x.auth.Proxy(ctx, actor, r.PathValue("project"))
	return http.StatusOK, proxyOut(p), err
}

func (x *API) setProxy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	var in proxyRequest
	if err := decode(nil, r, &in); err != nil {
		return 0, nil, err
	}
	if in.URL == "" {
		return 0, nil, invalidf("url is required (the upstream registry, e.g. https://registry-1.docker.io)")
	}
	if in.TTLSeconds < 0 {
		return 0, nil, invalidf("ttl_seconds must not be negative")
	}
	p, err := x.auth.SetProxy(ctx, actor, auth.ProxySpec{
		Project: r.PathValue("project"), URL: in.URL, Username: in.Username, Password: in.Password,
		Insecure: in.Insecure, CACert: in.CACert, TTL: time.Duration(in.TTLSeconds) * time.Second,
	})
	return http.StatusOK, proxyOut(p), err
}

func (x *API) deleteProxy(ctx context.Context, actor auth.Identity, r *http.Request) (int, any, error) {
	return http.StatusNoContent, nil, x.auth.DeleteProxy(ctx, actor, r.PathValue("project"))
}
