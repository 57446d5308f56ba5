package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/registry"
)

// setCacheStatus tells the client how the pull-through cache answered:
// X-Berth-Cache always, and the standard Warning when the answer is a
// cached copy the upstream could not confirm.
func setCacheStatus(w http.ResponseWriter, s registry.CacheStatus) {
	if s == "" {
		return
	}
	w.Header().Set("X-Berth-Cache", string(s))
	if s == registry.CacheStale {
		w.Header().Set("Warning", `110 berth "Response is Stale: the upstream registry could not be reached"`)
	}
}

// Namespaces maps a registry host (the OCI ns= query parameter) to the
// proxy project caching it.
type Namespaces interface {
	ProjectFor(ctx context.Context, host string) (project string, ok bool, err error)
}

// Mirror serves next with every repository name under /v2/ moved into a
// proxy project before anything else (access checks, logs) sees it:
//
//   - with ns=<registry> (the distribution-spec's namespace parameter, as
//     containerd sends it to mirrors), into the proxy project of that
//     registry; on a mirror (project set) a registry no proxy project
//     caches is unknown (404), elsewhere the parameter is ignored;
//   - otherwise, on a mirror, into project (Docker's registry-mirrors:
//     library/nginx is project/library/nginx).
//
// A name already in the chosen project is left alone.
func Mirror(next http.Handler, project string, ns Namespaces, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		rt, ok := parseRoute(rest)
		if !ok || rt.name == "" {
			next.ServeHTTP(w, r)
			return
		}
		target := project
		if host := r.URL.Query().Get("ns"); host != "" && ns != nil {
			p, found, err := ns.ProjectFor(r.Context(), host)
			switch {
			case err != nil:
				writeError(w, r, log, err)
				return
			case found:
				target = p
			case project != "":
				writeError(w, r, log, errcode.NameUnknown.Errorf("this mirror caches no registry %s", host).
					WithDetail(map[string]string{"name": rt.name, "ns": host}))
				return
			}
		}
		if target == "" || strings.HasPrefix(rt.name, target+"/") {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/v2/" + target + "/" + rest // rest starts with the name
		r2.URL.RawPath = ""
		r2.RequestURI = r2.URL.RequestURI()
		next.ServeHTTP(w, r2)
	})
}
