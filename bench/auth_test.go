package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []challenge
		wantErr bool
	}{
		{
			name: "berth repository challenge, comma inside the scope",
			in:   `Bearer realm="http://127.0.0.1:5000/token",service="berth",scope="repository:team/app:pull,push"`,
			want: []challenge{{scheme: "bearer", params: map[string]string{
				"realm": "http://127.0.0.1:5000/token", "service": "berth", "scope": "repository:team/app:pull,push"}}},
		},
		{
			name: "no scope, spaces and upper-case names",
			in:   `BEARER  Realm = "https://r.example/token" , Service=berth`,
			want: []challenge{{scheme: "bearer", params: map[string]string{"realm": "https://r.example/token", "service": "berth"}}},
		},
		{
			name: "escaped quote",
			in:   `Basic realm="say \"hi\"\\"`,
			want: []challenge{{scheme: "basic", params: map[string]string{"realm": `say "hi"\`}}},
		},
		{
			name: "two challenges in one value",
			in:   `Basic realm="x", Bearer realm="http://h/t",service="s"`,
			want: []challenge{
				{scheme: "basic", params: map[string]string{"realm": "x"}},
				{scheme: "bearer", params: map[string]string{"realm": "http://h/t", "service": "s"}},
			},
		},
		{
			name: "scheme without parameters",
			in:   `Negotiate`,
			want: []challenge{{scheme: "negotiate", params: map[string]string{}}},
		},
		{name: "empty", in: "  ", wantErr: true},
		{name: "unterminated quote", in: `Bearer realm="http://h/t`, wantErr: true},
		{name: "parameter without value", in: `Bearer realm=,service="s"`, wantErr: true},
		{name: "no scheme", in: `="x"`, wantErr: true},
		{name: "stray character", in: `Bearer realm="a" ; x`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseChallenges(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v (got %+v)", err, tt.wantErr, got)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFindChallenge(t *testing.T) {
	values := []string{`Basic realm="b"`, `Bearer realm="http://h/token",service="berth"`}
	tests := []struct {
		scheme, wantRealm string
		wantOK            bool
	}{
		{"bearer", "http://h/token", true},
		{"basic", "b", true},
		{"digest", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.scheme, func(t *testing.T) {
			ch, ok, err := findChallenge(values, tt.scheme)
			if err != nil || ok != tt.wantOK || ch.params["realm"] != tt.wantRealm {
				t.Errorf("got %+v, %v, %v; want realm %q, %v", ch, ok, err, tt.wantRealm, tt.wantOK)
			}
		})
	}
}

func TestRequestScopes(t *testing.T) {
	tests := []struct {
		method, target string
		want           []string
	}{
		{"GET", "/v2/", nil},
		{"GET", "/v2/_catalog?n=100", []string{"registry:catalog:*"}},
		{"GET", "/v2/bench/hot/manifests/latest", []string{"repository:bench/hot:pull,push"}},
		{"HEAD", "/v2/bench/hot/blobs/sha256:ab", []string{"repository:bench/hot:pull,push"}},
		{"PATCH", "/v2/a/blobs/uploads/0f3e?_state=x", []string{"repository:a:pull,push"}},
		{"GET", "/v2/team/tags/tags/list?n=10", []string{"repository:team/tags:pull,push"}},
		{"GET", "/v2/a/referrers/sha256:ab", []string{"repository:a:pull,push"}},
		{"POST", "/v2/bench/cat/r1/blobs/uploads/?from=bench%2Fcatsrc&mount=sha256%3Aab",
			[]string{"repository:bench/cat/r1:pull,push", "repository:bench/catsrc:pull"}},
		{"POST", "/v2/a/blobs/uploads/?from=b", []string{"repository:a:pull,push"}}, // no mount
		{"GET", "/v2/manifests/x", nil},
		{"GET", "/token", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if got := requestScopes(req); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeTokenServer issues tokens "tokN|scope scope..." to user/secret, for
// service berth, with expires_in ttl (omitted when 0).
type fakeTokenServer struct {
	ttl        int
	accessOnly bool                // answer with access_token only
	gate       chan struct{}       // when set, a fetch waits for it to close
	entered    chan struct{}       // when set, signalled as a fetch starts
	n          atomic.Int64        // tokens issued
	hook       func(*http.Request) // sees every token request
}

func (f *fakeTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.hook != nil {
		f.hook(r)
	}
	u, p, ok := r.BasicAuth()
	q := r.URL.Query()
	if !ok || u != "user" || p != "secret" {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	if q.Get("service") != "berth" || q.Get("account") != "user" {
		http.Error(w, "bad service or account: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	tok := fmt.Sprintf("tok%d|%s", f.n.Add(1), strings.Join(q["scope"], " "))
	body := map[string]any{"token": tok, "access_token": tok}
	if f.accessOnly {
		delete(body, "token")
	}
	if f.ttl > 0 {
		body["expires_in"] = f.ttl
	}
	_ = json.NewEncoder(w).Encode(body)
}

func newTestTokenSource(t *testing.T, f *fakeTokenServer, password string, clock *time.Time) *tokenSource {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	realm, _ := url.Parse(srv.URL + "/token")
	ts := newTokenSource(realm, "berth", "user", password, srv.Client())
	if clock != nil {
		ts.now = func() time.Time { return *clock }
	}
	return ts
}

func TestTokenSourceCache(t *testing.T) {
	const (
		a = "repository:a:pull,push"
		b = "repository:b:pull,push"
		m = "repository:src:pull"
	)
	type step struct {
		at          time.Duration // clock since the start
		scopes      []string
		until       time.Duration // > 0: prepare for this long from at
		wantFetches int64
		wantScopes  string // the scopes of the token returned
		wantErr     bool
	}
	tests := []struct {
		name       string
		ttl        int
		accessOnly bool
		password   string
		steps      []step
	}{
		{
			name: "cached per primary scope, renewed 30s before expiry, mount scope kept",
			ttl:  300,
			steps: []step{
				{at: 0, scopes: []string{a}, wantFetches: 1, wantScopes: a},
				{at: 10 * time.Second, scopes: []string{a}, wantFetches: 1, wantScopes: a},
				{at: 10 * time.Second, scopes: []string{b}, wantFetches: 2, wantScopes: b},
				{at: 20 * time.Second, scopes: []string{a, m}, wantFetches: 3, wantScopes: a + " " + m},
				{at: 30 * time.Second, scopes: []string{a}, wantFetches: 3, wantScopes: a + " " + m},
				{at: 289 * time.Second, scopes: []string{a}, wantFetches: 3, wantScopes: a + " " + m},
				{at: 291 * time.Second, scopes: []string{a}, wantFetches: 4, wantScopes: a + " " + m},
			},
		},
		{
			name: "prepare renews a token that would be renewed during the phase",
			ttl:  300,
			steps: []step{
				{at: 0, scopes: []string{b}, wantFetches: 1, wantScopes: b},
				{at: 100 * time.Second, scopes: []string{b}, until: 100 * time.Second, wantFetches: 1, wantScopes: b},
				{at: 100 * time.Second, scopes: []string{b}, until: 200 * time.Second, wantFetches: 2, wantScopes: b},
				{at: 360 * time.Second, scopes: []string{b}, wantFetches: 2, wantScopes: b},
				// a phase longer than the token lives: one fetch, no loop
				{at: 361 * time.Second, scopes: []string{b}, until: 1000 * time.Second, wantFetches: 3, wantScopes: b},
			},
		},
		{
			name:       "no expires_in means 60s, renewed 15s early; access_token only; GET /v2/ scope",
			accessOnly: true,
			steps: []step{
				{at: 0, scopes: nil, wantFetches: 1, wantScopes: ""},
				{at: 44 * time.Second, scopes: nil, wantFetches: 1, wantScopes: ""},
				{at: 46 * time.Second, scopes: nil, wantFetches: 2, wantScopes: ""},
			},
		},
		{
			name:     "bad password",
			ttl:      300,
			password: "wrong",
			steps:    []step{{at: 0, scopes: []string{a}, wantErr: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTokenServer{ttl: tt.ttl, accessOnly: tt.accessOnly}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := start
			pw := tt.password
			if pw == "" {
				pw = "secret"
			}
			ts := newTestTokenSource(t, f, pw, &clock)
			for i, s := range tt.steps {
				clock = start.Add(s.at)
				var err error
				if s.until > 0 {
					err = ts.prepare(context.Background(), s.scopes, clock.Add(s.until))
				}
				var h string
				if err == nil {
					h, _, err = ts.header(context.Background(), s.scopes)
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d: err = %v, wantErr %v", i, err, s.wantErr)
				}
				if s.wantErr {
					continue
				}
				if got := ts.fetches(); got != s.wantFetches {
					t.Errorf("step %d: %d fetches, want %d", i, got, s.wantFetches)
				}
				_, scopes, _ := strings.Cut(h, "|")
				if !strings.HasPrefix(h, "Bearer tok") || scopes != s.wantScopes {
					t.Errorf("step %d: header %q, want a token for %q", i, h, s.wantScopes)
				}
			}
		})
	}
}

func TestTokenSourceConcurrentFetchOnce(t *testing.T) {
	f := &fakeTokenServer{ttl: 300, hook: func(*http.Request) { time.Sleep(20 * time.Millisecond) }}
	ts := newTestTokenSource(t, f, "secret", nil)
	var wg sync.WaitGroup
	got := make([]string, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, _ = ts.header(context.Background(), []string{"repository:a:pull,push"})
		}()
	}
	wg.Wait()
	if n := ts.fetches(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	for i, h := range got {
		if h != got[0] || h == "" {
			t.Errorf("caller %d got %q, caller 0 %q", i, h, got[0])
		}
	}
}

func TestTokenSourceOldTokenWhileRenewing(t *testing.T) {
	f := &fakeTokenServer{ttl: 100}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := start
	ts := newTestTokenSource(t, f, "secret", nil)
	ts.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	scopes := []string{"repository:a:pull,push"}
	first, _, err := ts.header(context.Background(), scopes)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = start.Add(80 * time.Second) // past renewal (75 s), before expiry (100 s)
	mu.Unlock()
	f.gate, f.entered = make(chan struct{}), make(chan struct{}, 1)
	var release sync.Once
	open := func() { release.Do(func() { close(f.gate) }) }
	defer open() // before the server's Close waits for the held fetch
	renewed := make(chan string)
	go func() {
		h, _, _ := ts.header(context.Background(), scopes)
		renewed <- h
	}()
	select { // the renewal is under way and held
	case <-f.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no renewal started past the renewal time")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // must not wait for the renewal
	defer cancel()
	during, renewAt, err := ts.header(ctx, scopes)
	if err != nil || during != first {
		t.Fatalf("during renewal got %q, %v; want the old token %q", during, err, first)
	}
	if !renewAt.Equal(start.Add(75 * time.Second)) {
		t.Errorf("old token's renewAt %v, want %v", renewAt, start.Add(75*time.Second))
	}
	open()
	second := <-renewed
	if second == first || !strings.HasPrefix(second, "Bearer tok2") {
		t.Errorf("renewal got %q after %q", second, first)
	}
	if after, _, _ := ts.header(context.Background(), scopes); after != second {
		t.Errorf("after renewal got %q, want %q", after, second)
	}
}

// fakeAuthorizer hands out "Bearer vN", due for renewal at once while
// n < fresh.
type fakeAuthorizer struct {
	calls int
	fresh int
}

func (f *fakeAuthorizer) header(context.Context, []string) (string, time.Time, error) {
	f.calls++
	renewAt := time.Now().Add(-time.Second)
	if f.calls >= f.fresh {
		renewAt = time.Now().Add(time.Hour)
	}
	return fmt.Sprintf("Bearer v%d", f.calls), renewAt, nil
}
func (f *fakeAuthorizer) prepare(context.Context, []string, time.Time) error { return nil }
func (f *fakeAuthorizer) fetches() int64                                     { return int64(f.calls) }

func TestRawRequestRebuiltOnRenewal(t *testing.T) {
	tests := []struct {
		name      string
		auth      authorizer
		wantLine  string // the Authorization line of the last request
		wantCalls int
	}{
		{name: "no auth", auth: nil, wantLine: ""},
		{name: "renewed once", auth: &fakeAuthorizer{fresh: 2}, wantLine: "Authorization: Bearer v2\r\n", wantCalls: 2},
		{name: "basic", auth: newBasicAuth("u", "p"), wantLine: "Authorization: Basic dTpw\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			builds := 0
			rr := newRawRequest(newLiveAuth(tt.auth, []string{"repository:a:pull,push"}), func(a string) []byte {
				builds++
				return buildRawRequest(http.MethodGet, "h", "/v2/a/manifests/x", nil, a)
			})
			var last []byte
			for range 4 {
				req, err := rr.get(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				last = req
			}
			s := string(last)
			if tt.wantLine == "" && strings.Contains(s, "Authorization") {
				t.Errorf("request has an Authorization header: %q", s)
			}
			if tt.wantLine != "" && !strings.Contains(s, tt.wantLine) {
				t.Errorf("request %q lacks %q", s, tt.wantLine)
			}
			if !strings.HasSuffix(s, "\r\n\r\n") {
				t.Errorf("request does not end its header: %q", s)
			}
			if fa, ok := tt.auth.(*fakeAuthorizer); ok && fa.calls != tt.wantCalls {
				t.Errorf("%d header calls, want %d", fa.calls, tt.wantCalls)
			}
			if wantBuilds := max(tt.wantCalls, 1); builds != wantBuilds {
				t.Errorf("%d builds, want %d", builds, wantBuilds)
			}
		})
	}
}

// fakeRegistry answers GET /v2/ according to its challenge kind and issues
// tokens at /token.
func fakeRegistry(t *testing.T, kind string) *httptest.Server {
	t.Helper()
	tokens := &fakeTokenServer{ttl: 300}
	mux := http.NewServeMux()
	mux.Handle("/token", tokens)
	var srv *httptest.Server
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		switch kind {
		case "open":
			return
		case "bearer", "relative":
			if strings.HasPrefix(h, "Bearer tok") && strings.HasSuffix(h, "|") { // no scope for /v2/
				return
			}
			realm := srv.URL + "/token"
			if kind == "relative" {
				realm = "/token"
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="berth"`)
		case "basic":
			if u, p, ok := r.BasicAuth(); ok && u == "user" && p == "secret" {
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="reg"`)
		default:
			w.Header().Set("WWW-Authenticate", `Negotiate`)
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSetupAuth(t *testing.T) {
	tests := []struct {
		name, kind, user, password string
		wantMode                   string
		wantErr                    string
	}{
		{name: "bearer", kind: "bearer", user: "user", password: "secret", wantMode: "bearer"},
		{name: "relative realm", kind: "relative", user: "user", password: "secret", wantMode: "bearer"},
		{name: "basic", kind: "basic", user: "user", password: "secret", wantMode: "basic"},
		{name: "open registry", kind: "open", user: "user", password: "secret", wantMode: "none"},
		{name: "open registry, no user", kind: "open", wantMode: "none"},
		{name: "auth needed, no user", kind: "bearer", wantErr: "pass -user"},
		{name: "bad password", kind: "bearer", user: "user", password: "nope", wantErr: "bad credentials"},
		{name: "basic, bad password", kind: "basic", user: "user", password: "nope", wantErr: "status 401"},
		{name: "unknown scheme", kind: "negotiate", user: "user", password: "secret", wantErr: "no Bearer or Basic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeRegistry(t, tt.kind)
			c, err := newClient(strings.TrimPrefix(srv.URL, "http://"), 4, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			status, challenges, err := c.ping(context.Background(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			mode, err := c.setupAuth(context.Background(), status, challenges, tt.user, tt.password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || mode != tt.wantMode {
				t.Fatalf("mode %q, err %v; want %q", mode, err, tt.wantMode)
			}
			if (mode == "none") != (c.auth == nil) {
				t.Errorf("mode %q with authorizer %T", mode, c.auth)
			}
		})
	}
}

func TestAuthLine(t *testing.T) {
	rep := func(label, mode, user string) *Report {
		r := &Report{Label: label, Settings: map[string]string{"user": user}}
		if mode != "" {
			r.Settings["auth"] = mode
		}
		return r
	}
	tests := []struct {
		name     string
		ref, new *Report
		want     string
	}{
		{
			name: "reference open, berth with tokens",
			ref:  rep("reference", "none", ""), new: rep("berth", "bearer", "admin"),
			want: "Authentication: reference: no authentication; berth: Bearer tokens (fetched per repository and cached, as docker does) as admin.",
		},
		{
			name: "user given to an open registry is not shown",
			ref:  rep("reference", "none", "admin"), new: rep("berth", "basic", "u"),
			want: "Authentication: reference: no authentication; berth: Basic credentials on every request as u.",
		},
		{name: "both open", ref: rep("reference", "none", ""), new: rep("berth", "none", ""), want: ""},
		{name: "old reports", ref: rep("reference", "", ""), new: rep("berth", "", ""), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authLine(tt.ref, tt.new); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
