package httpapi

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Meter takes what the HTTP layer measures (metrics.Metrics). Its label
// values come from small fixed sets: routes from RouteOf, methods from
// the HTTP methods (or "other"), operations push, pull and delete,
// reasons bad_credentials and throttled.
type Meter interface {
	// ObserveRequest records one answered request: its route, method and
	// status code, its duration, and the body bytes read and written.
	ObserveRequest(route, method string, code int, seconds float64, in, out int64)
	// CountOperation counts a manifest push, pull or delete in a project.
	CountOperation(project, operation string)
	// CountAuthFailure counts a failed login.
	CountAuthFailure(reason string)
}

// WithMeter counts pushes, pulls, deletes and failed logins into m.
func (a *API) WithMeter(m Meter) *API {
	a.meter = m
	return a
}

// countOperation counts a manifest operation in repo's project (its first
// path component).
func (a *API) countOperation(repo, operation string) {
	if a.meter == nil {
		return
	}
	a.meter.CountOperation(meta.ProjectOf(repo), operation)
}

// countLoginFailure counts a failed login by its audit action.
func (a *API) countLoginFailure(action string) {
	if a.meter == nil {
		return
	}
	switch action {
	case "login.failed":
		a.meter.CountAuthFailure("bad_credentials")
	case "login.throttled":
		a.meter.CountAuthFailure("throttled")
	}
}

// The routes requests are counted under.
const (
	RouteV2         = "v2"
	RouteManifest   = "manifest"
	RouteBlob       = "blob"
	RouteBlobUpload = "blob_upload"
	RouteTags       = "tags"
	RouteCatalog    = "catalog"
	RouteReferrers  = "referrers"
	RouteToken      = "token"
	RouteAPI        = "api"
	RouteMetrics    = "metrics"
	RouteHealth     = "health"
	RouteOther      = "other"
)

// RouteOf names the route of a path, from a small fixed set: never the
// path itself, whose repository names and digests are unbounded.
func RouteOf(path string) string {
	if rest, ok := strings.CutPrefix(path, "/v2/"); ok {
		rt, ok := splitRoute(rest)
		if !ok {
			return RouteOther
		}
		switch rt.kind {
		case "base":
			return RouteV2
		case "manifest":
			return RouteManifest
		case "blob":
			return RouteBlob
		case "uploads", "upload":
			return RouteBlobUpload
		case "tags":
			return RouteTags
		case "catalog":
			return RouteCatalog
		case "referrers":
			return RouteReferrers
		}
		return RouteOther
	}
	switch {
	case path == "/v2":
		return RouteV2
	case path == "/token":
		return RouteToken
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		return RouteAPI
	case path == "/metrics":
		return RouteMetrics
	case path == "/healthz" || path == "/readyz":
		return RouteHealth
	}
	return RouteOther
}

// methodLabel keeps the method label to the methods HTTP defines.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// Instrument measures every request next answers into m: route, method,
// status, duration and body bytes in and out. It must cost the pull path
// next to nothing: the writer and body wrappers come from a pool, and the
// writer keeps io.ReaderFrom so that blob bodies are still sent with
// sendfile.
func Instrument(next http.Handler, m Meter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		mw := meteredPool.Get().(*meteredWriter)
		mw.ResponseWriter, mw.code, mw.out = w, 0, 0
		body := r.Body
		if body != nil && body != http.NoBody {
			mw.body.ReadCloser, mw.body.n = body, 0
			r.Body = &mw.body
		}
		done := false
		defer func() {
			code := mw.code
			switch {
			case code == 0 && done:
				code = http.StatusOK // nothing written: net/http answers 200
			case code == 0:
				code = http.StatusInternalServerError // a panic: no answer
			}
			m.ObserveRequest(RouteOf(r.URL.Path), methodLabel(r.Method), code, time.Since(start).Seconds(), mw.body.n, mw.out)
			if r.Body == &mw.body {
				r.Body = body
			}
			*mw = meteredWriter{}
			meteredPool.Put(mw)
		}()
		next.ServeHTTP(mw, r)
		done = true
	})
}

var meteredPool = sync.Pool{New: func() any { return new(meteredWriter) }}

// meteredWriter is a countingWriter with the request body's counter,
// pooled: one allocation less per request.
type meteredWriter struct {
	countingWriter
	body countingBody
}
