package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/registry"
)

func newStore(t *testing.T, proxies ...meta.Proxy) meta.Store {
	t.Helper()
	md, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	if err := md.Update(context.Background(), func(tx meta.Tx) error {
		for _, p := range proxies {
			if err := tx.CreateProject(meta.Project{Name: p.Project}); err != nil {
				return err
			}
			if err := tx.PutProxy(p); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return md
}

func TestOriginsAndNamespaces(t *testing.T) {
	ctx := context.Background()
	u := New(Options{Store: newStore(t,
		meta.Proxy{Project: "hub", URL: "https://registry-1.docker.io"},
		meta.Proxy{Project: "quay", URL: "https://quay.io", TTL: time.Hour},
		meta.Proxy{Project: "locked", URL: "https://example.com", Username: "me", Password: []byte("sb1:sealed-without-a-key")},
	), TTL: time.Minute})
	for _, c := range []struct {
		repo    string
		proxied bool
		name    string
		ttl     time.Duration
	}{
		{"hub/library/nginx", true, "https://registry-1.docker.io/library/nginx", time.Minute},
		{"quay/coreos/etcd", true, "https://quay.io/coreos/etcd", time.Hour},
		{"hub", false, "", 0},
		{"team/app", false, "", 0},
		{"locked/app", false, "", 0}, // its password cannot be opened: unusable, logged
	} {
		t.Run(c.repo, func(t *testing.T) {
			o, ok, err := u.Origin(ctx, c.repo)
			if err != nil || ok != c.proxied {
				t.Fatalf("Origin = %v, %v; want proxied %v", ok, err, c.proxied)
			}
			if ok && (o.String() != c.name || o.TTL() != c.ttl) {
				t.Errorf("origin %s ttl %s, want %s ttl %s", o, o.TTL(), c.name, c.ttl)
			}
		})
	}
	for _, c := range []struct{ ns, project string }{
		{"docker.io", "hub"}, {"index.docker.io", "hub"}, {"registry-1.docker.io", "hub"},
		{"quay.io", "quay"}, {"QUAY.IO", "quay"}, {"ghcr.io", ""},
	} {
		p, ok, err := u.ProjectFor(ctx, c.ns)
		if err != nil || p != c.project || ok != (c.project != "") {
			t.Errorf("ProjectFor(%s) = %q, %v, %v; want %q", c.ns, p, ok, err, c.project)
		}
	}
}

func TestUpstreamErrors(t *testing.T) {
	ctx := context.Background()
	d := digest.FromString("layer")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(r.URL.Path, "/secret/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"no"}]}`))
		case strings.HasSuffix(r.URL.Path, "/manifests/busy"):
			w.WriteHeader(http.StatusTooManyRequests)
		case strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()):
			w.Header().Set("Content-Length", "5")
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte("layer"))
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`))
		}
	}))
	defer upstream.Close()
	u := New(Options{Store: newStore(t, meta.Proxy{Project: "up", URL: upstream.URL})})
	origin := func(repo string) registry.Origin {
		o, ok, err := u.Origin(ctx, repo)
		if err != nil || !ok {
			t.Fatalf("Origin(%s) = %v, %v", repo, ok, err)
		}
		return o
	}
	if _, _, err := origin("up/app").Manifest(ctx, "missing"); !errors.Is(err, registry.ErrUpstreamNotFound) {
		t.Errorf("404: %v, want ErrUpstreamNotFound", err)
	}
	if _, err := origin("up/secret/app").Resolve(ctx, "x"); !errors.Is(err, registry.ErrUpstreamDenied) {
		t.Errorf("403: %v, want ErrUpstreamDenied", err)
	}
	_, _, err := origin("up/app").Manifest(ctx, "busy")
	if err == nil || errors.Is(err, registry.ErrUpstreamNotFound) || errors.Is(err, registry.ErrUpstreamDenied) {
		t.Errorf("429: %v, want an unavailable upstream", err)
	}
	if n, err := origin("up/app").StatBlob(ctx, d); err != nil || n != 5 {
		t.Errorf("StatBlob = %d, %v", n, err)
	}
	rc, n, err := origin("up/app").Blob(ctx, d)
	if err != nil || n != 5 {
		t.Fatalf("Blob = %d, %v", n, err)
	}
	rc.Close()
}
