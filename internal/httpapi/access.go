package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/opencontainers/go-digest"
)

// Guard is the access control the API asks (auth.Service). A nil Guard
// leaves the registry open (auth.mode none).
type Guard interface {
	Check(ctx context.Context, cr auth.Credentials, need auth.Need) (auth.Identity, error)
	IssueToken(ctx context.Context, req auth.TokenRequest) (auth.TokenResponse, error)
	ServiceName() string
}

// Lister is the optional part of a Guard that filters listings.
type Lister interface {
	Visible(ctx context.Context, id auth.Identity) func(repo string) (bool, error)
	MayPull(ctx context.Context, cr auth.Credentials, repo string) bool
}

type ctxKey int

const (
	identityKey ctxKey = iota
	credentialsKey
)

// IdentityFrom returns the caller's identity as the API established it
// (Anonymous when access control is off).
func IdentityFrom(ctx context.Context) auth.Identity {
	id, _ := ctx.Value(identityKey).(auth.Identity)
	return id
}

func credentialsFrom(ctx context.Context) auth.Credentials {
	cr, _ := ctx.Value(credentialsKey).(auth.Credentials)
	return cr
}

// credentials reads the Authorization header.
func credentials(r *http.Request) auth.Credentials {
	h := r.Header.Get("Authorization")
	addr := ClientAddr(r).String()
	if tok, ok := cutPrefixFold(h, "Bearer "); ok {
		return auth.Credentials{Bearer: strings.TrimSpace(tok), Addr: addr}
	}
	if u, p, ok := r.BasicAuth(); ok {
		return auth.Credentials{Basic: true, Username: u, Password: p, Addr: addr}
	}
	return auth.Credentials{Addr: addr}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// need is the access a route needs.
func need(rt route, method string) auth.Need {
	repo := func(actions ...string) auth.Need {
		return auth.Need{Scope: auth.Scope{Type: auth.ScopeRepository, Name: rt.name, Actions: actions}}
	}
	switch rt.kind {
	case "base":
		return auth.Need{}
	case "catalog":
		return auth.Need{Scope: auth.Scope{Type: auth.ScopeRegistry, Name: auth.CatalogName, Actions: []string{"*"}}}
	case "tags":
		n := repo(auth.ActionPull)
		n.List = true
		return n
	case "manifest", "blob":
		switch method {
		case http.MethodGet, http.MethodHead:
			return repo(auth.ActionPull)
		case http.MethodDelete:
			return repo(auth.ActionDelete)
		}
		return repo(auth.ActionPush)
	case "referrers":
		return repo(auth.ActionPull)
	}
	return repo(auth.ActionPush) // uploads
}

// authorize checks the request against the Guard and returns it with the
// caller's identity in its context.
func (a *API) authorize(r *http.Request, rt route) (*http.Request, error) {
	if a.guard == nil {
		return r.WithContext(actor.With(r.Context(), actor.Actor{Addr: ClientAddr(r).String()})), nil
	}
	cr := credentials(r)
	id, err := a.guard.Check(r.Context(), cr, need(rt, r.Method))
	if err != nil {
		return r, a.accessError(r, err)
	}
	ctx := context.WithValue(r.Context(), identityKey, id)
	ctx = context.WithValue(ctx, credentialsKey, cr)
	ctx = actor.With(ctx, actor.Actor{Name: id.Name, Kind: id.Kind, Addr: cr.Addr})
	return r.WithContext(ctx), nil
}

// accessError maps the Guard's refusals to the spec's errors, with the
// Bearer challenge on a 401.
func (a *API) accessError(r *http.Request, err error) error {
	var (
		ch *auth.ChallengeError
		th *auth.ThrottledError
	)
	switch {
	case errors.As(err, &th):
		a.recordLogin(r, "login.throttled", credentials(r).Username, th.Error())
		return throttled(th)
	case errors.As(err, &ch):
		if cr := credentials(r); cr.Basic && errors.Is(ch.Err, auth.ErrBadCredentials) {
			a.recordLogin(r, "login.failed", cr.Username, ch.Err.Error())
		}
		e := errcode.Unauthorized.New()
		switch {
		case ch.Err != nil:
			e = errcode.Unauthorized.Errorf("%v", ch.Err)
		case ch.Scope != nil:
			// A message of its own and the scope as detail: clients treat
			// a bare code as a passing failure and retry.
			e = errcode.Unauthorized.Errorf("authentication required to %s %s", strings.Join(ch.Scope.Actions, ","), ch.Scope.Name).
				WithDetail([]map[string]any{{"Type": ch.Scope.Type, "Name": ch.Scope.Name, "Action": strings.Join(ch.Scope.Actions, ",")}})
		}
		return e.WithHeader("WWW-Authenticate", a.challenge(r, ch))
	case errors.Is(err, auth.ErrAccountDisabled):
		return errcode.Unauthorized.Errorf("%v", err).WithHeader("WWW-Authenticate", a.challenge(r, &auth.ChallengeError{}))
	case errors.As(err, new(*auth.NoProjectError)):
		return errcode.Denied.Errorf("%v", err)
	case errors.Is(err, auth.ErrDenied):
		return errcode.Denied.New()
	}
	return err
}

// challenge is the WWW-Authenticate value pointing at berth's token service.
func (a *API) challenge(r *http.Request, ch *auth.ChallengeError) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	if a.realm != "" {
		b.WriteString(a.realm)
	} else {
		b.WriteString(a.baseURL(r) + "/token")
	}
	b.WriteString(`",service="`)
	b.WriteString(a.guard.ServiceName())
	b.WriteByte('"')
	if ch.Scope != nil {
		b.WriteString(`,scope="`)
		b.WriteString(ch.Scope.String())
		b.WriteByte('"')
	}
	switch {
	case errors.Is(ch.Err, auth.ErrInvalidToken):
		b.WriteString(`,error="invalid_token"`)
	case ch.Insufficient:
		b.WriteString(`,error="insufficient_scope"`)
	}
	return b.String()
}

// baseURL is the URL clients reach berth at: http.external_url when set,
// otherwise the request's scheme and host as a trusted proxy forwarded
// them, otherwise the request's own.
func (a *API) baseURL(r *http.Request) string {
	if a.externalURL != "" {
		return a.externalURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if ri := infoOf(r.Context()); ri != nil {
		fw := ri.fw
		if fw.scheme != "" {
			scheme = fw.scheme
		}
		if fw.host != "" {
			host = fw.host
		}
	}
	return scheme + "://" + host
}

// mountCandidates bounds how many repositories holding a blob an automatic
// mount considers.
const mountCandidates = 20

// mount links blob d into repo from a repository the caller may pull from:
// from when given and allowed, otherwise (from == "") the first allowed
// repository holding it. Without permission it reports false and the
// client uploads the blob: a mount never reveals a blob the caller could
// not read.
func (a *API) mount(r *http.Request, repo string, d digest.Digest, from string) (bool, error) {
	ctx := r.Context()
	l, ok := a.guard.(Lister)
	if a.guard == nil || !ok {
		return a.svc.MountBlob(ctx, repo, d, from)
	}
	cr := credentialsFrom(ctx)
	if from != "" {
		if !l.MayPull(ctx, cr, from) {
			return false, nil
		}
		return a.svc.MountBlob(ctx, repo, d, from)
	}
	sources, err := a.svc.MountSources(ctx, d, mountCandidates)
	if err != nil {
		return false, err
	}
	for _, src := range sources {
		if src != repo && l.MayPull(ctx, cr, src) {
			return a.svc.MountBlob(ctx, repo, d, src)
		}
	}
	return false, nil
}

// throttled is the 429 of a throttled login, with Retry-After.
func throttled(th *auth.ThrottledError) error {
	secs := int(th.RetryAfter.Round(time.Second) / time.Second)
	return errcode.TooManyRequests.Errorf("%v", th).WithHeader("Retry-After", strconv.Itoa(max(secs, 1)))
}
