package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// API serves /v2/ and the token service.
type API struct {
	svc         *registry.Service
	log         *slog.Logger
	guard       Guard
	externalURL string
	realm       string // an external token service's URL, or ""
	// verifyOnRead hashes served blobs (storage.verify_on_read).
	verifyOnRead bool
	audit        AuditSink
	meter        Meter    // nil: no metrics
	pulls        PullGate // nil: every pull is admitted
}

// New returns the /v2/ handler, open to everyone until WithAccess.
func New(svc *registry.Service, log *slog.Logger) *API {
	return &API{svc: svc, log: log}
}

// WithAccess puts every request under g. externalURL ("" = the request's
// own scheme and host) is where clients reach berth, for the token realm.
func (a *API) WithAccess(g Guard, externalURL, realm string) *API {
	a.guard, a.externalURL, a.realm = g, strings.TrimSuffix(externalURL, "/"), realm
	return a
}

// route is a parsed /v2/ path.
type route struct {
	kind string // base, catalog, tags, manifest, blob, uploads, upload, referrers
	name string
	arg  string // reference, digest or upload id
}

// parseRoute splits a path below /v2/ from the right, because repository
// names contain slashes: <name>/manifests/<ref>, <name>/blobs/<digest>,
// <name>/blobs/uploads/[<id>], <name>/tags/list, <name>/referrers/<digest>.
func parseRoute(rest string) (route, bool) {
	rt, ok := splitRoute(rest)
	if ok && rt.kind != "base" && rt.kind != "catalog" && rt.name == "" {
		return route{}, false // "/blobs/uploads/", "/tags/list": no repository
	}
	return rt, ok
}

func splitRoute(rest string) (route, bool) {
	switch rest {
	case "":
		return route{kind: "base"}, true
	case "_catalog":
		return route{kind: "catalog"}, true
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return route{kind: "tags", name: name}, true
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return route{}, false
	}
	head, tail := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(head, '/')
	if j <= 0 {
		return route{}, false
	}
	name, word := head[:j], head[j+1:]
	switch word {
	case "manifests":
		return route{kind: "manifest", name: name, arg: tail}, true
	case "referrers":
		return route{kind: "referrers", name: name, arg: tail}, true
	case "blobs":
		if tail == "uploads" {
			return route{kind: "uploads", name: name}, true
		}
		return route{kind: "blob", name: name, arg: tail}, true
	case "uploads":
		if n, ok := strings.CutSuffix(name, "/blobs"); ok {
			if tail == "" {
				return route{kind: "uploads", name: n}, true
			}
			return route{kind: "upload", name: n, arg: tail}, true
		}
	}
	return route{}, false
}

type handler func(w http.ResponseWriter, r *http.Request, rt route) error

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			writeError(w, r, a.log, errcode.Unknown.New())
		}
	}()
	if err := a.dispatch(w, r); err != nil {
		writeError(w, r, a.log, err)
	}
}

func notFound() error {
	return errcode.Unsupported.Errorf("no such endpoint").WithStatus(http.StatusNotFound)
}

func (a *API) dispatch(w http.ResponseWriter, r *http.Request) error {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		if r.URL.Path == "/v2" {
			http.Redirect(w, r, "/v2/", http.StatusMovedPermanently)
			return nil
		}
		return notFound()
	}
	rt, ok := parseRoute(rest)
	if !ok {
		return notFound()
	}
	if rt.name != "" && !oci.ValidName(rt.name) {
		return errcode.NameInvalid.WithDetail(map[string]string{"name": rt.name})
	}
	h := a.handlerFor(rt.kind, r.Method)
	if h == nil {
		return errcode.Unsupported.Errorf("method %s not allowed here", r.Method)
	}
	r, err := a.authorize(r, rt)
	if err != nil {
		return err
	}
	return h(w, r, rt)
}

func (a *API) handlerFor(kind, method string) handler {
	switch kind + " " + method {
	case "base GET", "base HEAD":
		return a.base
	case "catalog GET":
		return a.catalog
	case "tags GET":
		return a.tags
	case "manifest GET", "manifest HEAD":
		return a.getManifest
	case "manifest PUT":
		return a.putManifest
	case "manifest DELETE":
		return a.deleteManifest
	case "referrers GET":
		return a.referrers
	case "blob GET", "blob HEAD":
		return a.getBlob
	case "blob DELETE":
		return a.deleteBlob
	case "uploads POST":
		return a.startUpload
	case "upload GET":
		return a.uploadStatus
	case "upload PATCH":
		return a.patchUpload
	case "upload PUT":
		return a.finishUpload
	case "upload DELETE":
		return a.cancelUpload
	}
	return nil
}

func (a *API) base(w http.ResponseWriter, r *http.Request, _ route) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte("{}"))
	}
	return nil
}
