package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	actorpkg "github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/replicate"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/sigpolicy"
)

// Prefix is where the API is served.
const Prefix = "/api/v1"

// maxBody bounds request bodies.
const maxBody = 1 << 20

// API serves the management API.
type API struct {
	auth       *auth.Service
	reg        Registry
	log        *slog.Logger
	mux        *http.ServeMux
	clientAddr func(*http.Request) string
	gc         func(context.Context, registry.GCOptions) (registry.GCReport, error)
	gcGrace    time.Duration
	retention  retentionRunner    // nil: not available (see WithRetention)
	replicate  *replicate.Service // nil: not available (see WithReplication)
	signatures *sigpolicy.Service // nil: not available (see WithSignatures)
	scans      *scan.Service      // nil: not available (see WithScans)
}

// New returns the management API over the access-control service.
// clientAddr tells the client's address (behind trusted proxies too).
func New(a *auth.Service, reg Registry, log *slog.Logger, clientAddr func(*http.Request) string) *API {
	x := &API{auth: a, reg: reg, log: log, mux: http.NewServeMux(), clientAddr: clientAddr}
	x.routes()
	return x
}

type handler func(ctx context.Context, actor auth.Identity, r *http.Request) (status int, body any, err error)

func (x *API) handle(pattern string, h handler) {
	x.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		cr := credentials(r)
		if x.clientAddr != nil {
			cr.Addr = x.clientAddr(r)
		}
		actor, err := x.auth.Authenticate(r.Context(), cr)
		if err != nil {
			x.writeError(w, r, auth.Anonymous, err)
			return
		}
		ctx := actorpkg.With(r.Context(), actorpkg.Actor{Name: actor.Name, Kind: actor.Kind, Addr: cr.Addr})
		status, body, err := h(ctx, actor, r)
		if err != nil {
			x.writeError(w, r, actor, err)
			return
		}
		if body == nil {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(body)
	})
}

// ServeHTTP serves every path under Prefix.
func (x *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { x.mux.ServeHTTP(w, r) }

func credentials(r *http.Request) auth.Credentials {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return auth.Credentials{Bearer: strings.TrimSpace(h[7:])}
	}
	if u, p, ok := r.BasicAuth(); ok {
		return auth.Credentials{Basic: true, Username: u, Password: p}
	}
	return auth.Credentials{}
}

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError is the one place management errors become responses.
func (x *API) writeError(w http.ResponseWriter, r *http.Request, actor auth.Identity, err error) {
	status, code, msg := http.StatusInternalServerError, "UNKNOWN", "internal error"
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	var th *auth.ThrottledError
	var ec *errcode.Error
	switch {
	case errors.As(err, &ec):
		status, code, msg = ec.HTTPStatus(), ec.Code.Name, ec.JSON().Message
	case errors.As(err, &th):
		status, code, msg = http.StatusTooManyRequests, "TOOMANYREQUESTS", th.Error()
		w.Header().Set("Retry-After", fmt.Sprint(max(int(th.RetryAfter.Round(time.Second)/time.Second), 1)))
	case errors.Is(err, auth.ErrDenied) && actor.IsAnonymous(),
		errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrAccountDisabled):
		status, code, msg = http.StatusUnauthorized, "UNAUTHORIZED", "authentication required"
		if !errors.Is(err, auth.ErrDenied) {
			msg = err.Error()
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="berth"`)
	case errors.Is(err, auth.ErrDenied):
		status, code, msg = http.StatusForbidden, "DENIED", err.Error()
	case errors.Is(err, meta.ErrNotFound):
		status, code, msg = http.StatusNotFound, "NOT_FOUND", notFoundMessage(err)
	case errors.Is(err, meta.ErrExists):
		status, code, msg = http.StatusConflict, "CONFLICT", "already exists"
	case errors.Is(err, errBadGateway):
		status, code, msg = http.StatusBadGateway, "BAD_GATEWAY", err.Error()
	case errors.Is(err, errBusy):
		status, code, msg = http.StatusConflict, "BUSY", err.Error()
	case errors.Is(err, auth.ErrNotEmpty):
		status, code, msg = http.StatusConflict, "NOT_EMPTY", err.Error()+"; delete them first"
	case errors.Is(err, auth.ErrInvalid):
		status, code, msg = http.StatusBadRequest, "INVALID", err.Error()
	case errors.As(err, &syn), errors.As(err, &typ), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errBadJSON):
		status, code, msg = http.StatusBadRequest, "INVALID", "invalid JSON body: "+err.Error()
	case errors.As(err, &mbe):
		status, code, msg = http.StatusRequestEntityTooLarge, "INVALID", "request body too large"
	default:
		x.log.ErrorContext(r.Context(), "management request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Errors: []errorItem{{Code: code, Message: msg}}})
}

// notFoundMessage keeps the store's "meta: " prefix out of answers (an
// error may also say it all itself, see notScannedError).
func notFoundMessage(err error) string {
	var own interface{ notFoundMessage() string }
	if errors.As(err, &own) {
		return own.notFoundMessage()
	}
	return strings.TrimSuffix(strings.TrimPrefix(err.Error(), "meta: "), ": "+meta.ErrNotFound.Error()) + " not found"
}

var errBadJSON = errors.New("unexpected content")

// errBadGateway: a service berth asked on the caller's behalf failed.
var errBadGateway = errors.New("bad gateway")

// errBusy: a cluster-wide job already runs.
var errBusy = errors.New("a garbage collection is already running (on this or another node)")

// decode reads a JSON body into v, refusing unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errBadJSON
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return fmt.Errorf("%w: %v", auth.ErrInvalid, err)
		}
		return err
	}
	if dec.More() {
		return errBadJSON
	}
	return nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", auth.ErrInvalid, fmt.Sprintf(format, args...))
}

// wired returns svc, or an error saying that what is not available on
// this server (a feature the app did not wire).
func wired[T any](svc *T, what string) (*T, error) {
	if svc == nil {
		return nil, invalidf("%s is not available here", what)
	}
	return svc, nil
}

// adminService is wired for system admins only.
func adminService[T any](x *API, actor auth.Identity, svc *T, what string) (*T, error) {
	if err := x.auth.RequireAdmin(actor); err != nil {
		return nil, err
	}
	return wired(svc, what)
}
