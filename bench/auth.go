package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Authentication as the Docker engine does it: one GET /v2/ without
// credentials to learn the challenge, then, for a Bearer challenge, a token
// per repository scope from the challenge's realm (Basic credentials
// there), cached and renewed before it expires; for a Basic challenge, the
// credentials on every request.

// challenge is one parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string            // lower case: "bearer", "basic"
	params map[string]string // keys in lower case
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseChallenges parses a WWW-Authenticate value (RFC 7235): an
// auth-scheme followed by comma-separated name=value parameters, values
// being tokens or quoted strings (which may hold commas, as a scope with
// several actions does). One value may carry several challenges.
func parseChallenges(h string) ([]challenge, error) {
	var out []challenge
	i := 0
	skip := func(set string) {
		for i < len(h) && strings.IndexByte(set, h[i]) >= 0 {
			i++
		}
	}
	token := func() string {
		j := i
		for i < len(h) && isTokenChar(h[i]) {
			i++
		}
		return h[j:i]
	}
	for {
		skip(" \t,")
		if i == len(h) {
			break
		}
		scheme := token()
		if scheme == "" {
			return nil, fmt.Errorf("challenge %q: expected a scheme at offset %d", h, i)
		}
		ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
		for {
			skip(" \t,")
			start := i
			name := token()
			skip(" \t")
			if name == "" || i == len(h) || h[i] != '=' {
				i = start // not a parameter: the next challenge's scheme (or the end)
				break
			}
			i++ // '='
			skip(" \t")
			value, err := paramValue(h, &i)
			if err != nil {
				return nil, fmt.Errorf("challenge %q: parameter %s: %w", h, name, err)
			}
			ch.params[strings.ToLower(name)] = value
		}
		if i < len(h) && !isTokenChar(h[i]) {
			return nil, fmt.Errorf("challenge %q: unexpected %q at offset %d", h, h[i], i)
		}
		out = append(out, ch)
	}
	if len(out) == 0 {
		return nil, errors.New("empty challenge")
	}
	return out, nil
}

// paramValue reads a token or a quoted string at *i.
func paramValue(h string, i *int) (string, error) {
	if *i < len(h) && h[*i] == '"' {
		var b strings.Builder
		for j := *i + 1; j < len(h); j++ {
			switch c := h[j]; c {
			case '"':
				*i = j + 1
				return b.String(), nil
			case '\\':
				if j+1 == len(h) {
					return "", errors.New("unterminated quoted string")
				}
				j++
				b.WriteByte(h[j])
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated quoted string")
	}
	j := *i
	for *i < len(h) && isTokenChar(h[*i]) {
		*i++
	}
	if *i == j {
		return "", errors.New("no value")
	}
	return h[j:*i], nil
}

// findChallenge returns the first challenge of scheme among the
// WWW-Authenticate values.
func findChallenge(values []string, scheme string) (challenge, bool, error) {
	for _, v := range values {
		chs, err := parseChallenges(v)
		if err != nil {
			return challenge{}, false, err
		}
		for _, ch := range chs {
			if ch.scheme == scheme {
				return ch, true, nil
			}
		}
	}
	return challenge{}, false, nil
}

// authorizer gives the Authorization value a request needing scopes
// carries, and when it should be asked for again (zero: never).
type authorizer interface {
	header(ctx context.Context, scopes []string) (value string, renewAt time.Time, err error)
	// prepare makes sure a value for scopes is at hand that needs no
	// renewal before until, so a timed phase ending then fetches nothing.
	prepare(ctx context.Context, scopes []string, until time.Time) error
	fetches() int64 // tokens fetched so far
}

// basicAuth sends the credentials on every request (a registry with a
// Basic challenge).
type basicAuth struct{ value string }

func newBasicAuth(user, password string) *basicAuth {
	return &basicAuth{value: "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

func (a *basicAuth) header(context.Context, []string) (string, time.Time, error) {
	return a.value, time.Time{}, nil
}
func (a *basicAuth) prepare(context.Context, []string, time.Time) error { return nil }
func (a *basicAuth) fetches() int64                                     { return 0 }

// defaultTokenTTL is what a token response without expires_in is taken to
// last (the Docker token specification says 60 seconds).
const defaultTokenTTL = 60 * time.Second

// renewMargin is how long before its expiry a token is renewed: 30 s, or a
// quarter of a shorter lifetime.
func renewMargin(ttl time.Duration) time.Duration {
	return min(30*time.Second, ttl/4)
}

// tokenSource fetches Bearer tokens from a realm with Basic credentials
// and caches them per repository. A request's scopes are its primary scope
// (its repository, or the catalog, or none) and possibly extra ones (the
// source of a cross-repository mount); the token cached under the primary
// scope is used while it covers all of them, and otherwise fetched again
// for the union, so a push session of one repository holds one token, as
// docker's does.
type tokenSource struct {
	realm          *url.URL
	service        string
	user, password string
	hc             *http.Client
	now            func() time.Time

	mu      sync.Mutex
	cache   map[string]*tokenEntry // by primary scope ("" for GET /v2/)
	fetched atomic.Int64
}

type tokenEntry struct {
	mu        sync.Mutex
	scopes    []string // what the token was asked for
	token     string
	renewAt   time.Time
	expiresAt time.Time
	inflight  chan struct{} // closed when the fetch under way ends
}

func newTokenSource(realm *url.URL, service, user, password string, hc *http.Client) *tokenSource {
	return &tokenSource{realm: realm, service: service, user: user, password: password, hc: hc,
		now: time.Now, cache: map[string]*tokenEntry{}}
}

func (ts *tokenSource) fetches() int64 { return ts.fetched.Load() }

func (ts *tokenSource) header(ctx context.Context, scopes []string) (string, time.Time, error) {
	tok, renewAt, err := ts.get(ctx, scopes, time.Time{})
	if err != nil {
		return "", time.Time{}, err
	}
	return "Bearer " + tok, renewAt, nil
}

func (ts *tokenSource) prepare(ctx context.Context, scopes []string, until time.Time) error {
	_, _, err := ts.get(ctx, scopes, until)
	return err
}

func (ts *tokenSource) entry(scopes []string) *tokenEntry {
	key := ""
	if len(scopes) > 0 {
		key = scopes[0]
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e := ts.cache[key]
	if e == nil {
		e = &tokenEntry{}
		ts.cache[key] = e
	}
	return e
}

func coversAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// get returns a token covering scopes. The cached one serves until its
// renewal time (or, with until set, only if that time is after until);
// then one caller fetches a new one while the others keep using the old
// token as long as it has not expired. A token that does not cover all of
// scopes is replaced at once by one for the union.
func (ts *tokenSource) get(ctx context.Context, scopes []string, until time.Time) (string, time.Time, error) {
	e := ts.entry(scopes)
	waited := false
	for {
		e.mu.Lock()
		now := ts.now()
		usable := e.token != "" && now.Before(e.expiresAt) && coversAll(e.scopes, scopes)
		fresh := usable && e.renewAt.After(now) && (until.IsZero() || waited || e.renewAt.After(until))
		if fresh || (usable && e.inflight != nil && until.IsZero()) {
			tok, renewAt := e.token, e.renewAt
			e.mu.Unlock()
			return tok, renewAt, nil
		}
		if ch := e.inflight; ch != nil {
			e.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return "", time.Time{}, ctx.Err()
			}
			waited = true
			continue
		}
		ask := slices.Clone(scopes)
		for _, s := range e.scopes {
			if !slices.Contains(ask, s) {
				ask = append(ask, s) // keep what the old token had
			}
		}
		ch := make(chan struct{})
		e.inflight = ch
		e.mu.Unlock()

		start := ts.now()
		tok, ttl, err := ts.fetch(ctx, ask)
		e.mu.Lock()
		e.inflight = nil
		close(ch)
		if err != nil {
			e.mu.Unlock()
			return "", time.Time{}, err
		}
		e.scopes, e.token = ask, tok
		e.expiresAt = start.Add(ttl)
		e.renewAt = e.expiresAt.Add(-renewMargin(ttl))
		renewAt := e.renewAt
		e.mu.Unlock()
		return tok, renewAt, nil
	}
}

// tokenResponse is the token endpoint's answer (Docker and OAuth2 fields).
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// fetch asks the realm for a token for scopes, as docker does: GET with
// service, scope (repeated) and account, Basic credentials.
func (ts *tokenSource) fetch(ctx context.Context, scopes []string) (string, time.Duration, error) {
	u := *ts.realm
	q := u.Query()
	if ts.service != "" {
		q.Set("service", ts.service)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	q.Set("account", ts.user)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", 0, err
	}
	req.SetBasicAuth(ts.user, ts.password)
	resp, err := ts.hc.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("token: %w", statusError(resp, http.StatusOK))
	}
	var tr tokenResponse
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr)
	_, _ = drain(resp)
	if err != nil {
		return "", 0, fmt.Errorf("token: decode: %w", err)
	}
	ts.fetched.Add(1)
	tok := tr.Token
	if tok == "" {
		tok = tr.AccessToken
	}
	if tok == "" {
		return "", 0, fmt.Errorf("token: response for %v has no token", scopes)
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = defaultTokenTTL
	}
	return tok, ttl, nil
}

// Scopes of the registry API.
const catalogScope = "registry:catalog:*"

// pathMarkers end a repository name in a /v2/ path.
var pathMarkers = []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"}

// requestScopes is what the token for req must cover: nothing for GET
// /v2/, the catalog scope for /v2/_catalog, pull and push on the
// repository for everything under /v2/<name>/ (the bench pushes to every
// repository it reads), plus pull on the source of a cross-repository
// mount.
func requestScopes(req *http.Request) []string {
	p, ok := strings.CutPrefix(req.URL.Path, "/v2/")
	if !ok || p == "" {
		return nil
	}
	if p == "_catalog" {
		return []string{catalogScope}
	}
	end := -1
	for _, m := range pathMarkers {
		end = max(end, strings.LastIndex("/"+p, m))
	}
	if end <= 0 {
		return nil
	}
	scopes := []string{repoScope(p[:end-1], "pull,push")}
	if req.Method == http.MethodPost && req.URL.RawQuery != "" {
		if q := req.URL.Query(); q.Get("mount") != "" && q.Get("from") != "" {
			scopes = append(scopes, repoScope(q.Get("from"), "pull"))
		}
	}
	return scopes
}

func repoScope(name, actions string) string { return "repository:" + name + ":" + actions }

// liveAuth is the Authorization value of one scope set for a load loop:
// cached until its token is due for renewal, so a request costs an atomic
// load and a clock read.
type liveAuth struct {
	a      authorizer
	scopes []string
	cur    atomic.Pointer[authValue]
}

type authValue struct {
	value   string
	renewAt time.Time // zero: never
}

var noAuth = &authValue{}

func newLiveAuth(a authorizer, scopes []string) *liveAuth {
	l := &liveAuth{a: a, scopes: scopes}
	if a == nil {
		l.cur.Store(noAuth)
	}
	return l
}

func (l *liveAuth) get(ctx context.Context) (*authValue, error) {
	if v := l.cur.Load(); v != nil && (v.renewAt.IsZero() || time.Now().Before(v.renewAt)) {
		return v, nil
	}
	value, renewAt, err := l.a.header(ctx, l.scopes)
	if err != nil {
		return nil, err
	}
	v := &authValue{value: value, renewAt: renewAt}
	l.cur.Store(v)
	return v, nil
}
