package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestEdge(t *testing.T) {
	var seen *http.Request
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		w.WriteHeader(http.StatusNoContent)
	})
	opts := EdgeOptions{
		TrustedProxies: prefixes("10.0.0.0/8"),
		Allow:          prefixes("10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"),
		PushAllow:      prefixes("192.0.2.0/24"),
	}
	h := Edge(inner, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tests := []struct {
		name       string
		remote     string
		method     string
		path       string
		hdr        map[string]string
		wantStatus int
		wantClient string
		wantBase   string
	}{
		{"direct client, allowed", "192.0.2.7:4000", "GET", "/v2/", nil, 204, "192.0.2.7", "http://registry.test"},
		{"direct client outside the allow-list", "203.0.113.9:4000", "GET", "/v2/", nil, 403, "", ""},
		{"health is open to everyone", "203.0.113.9:4000", "GET", "/healthz", nil, 204, "203.0.113.9", ""},
		{"a pull from outside the push allow-list", "198.51.100.3:4000", "GET", "/v2/a/manifests/v1", nil, 204, "198.51.100.3", ""},
		{"a push from outside the push allow-list", "198.51.100.3:4000", "PUT", "/v2/a/manifests/v1", nil, 403, "", ""},
		{"a push from inside it", "192.0.2.8:4000", "POST", "/v2/a/blobs/uploads/", nil, 204, "192.0.2.8", ""},
		{"a token request is not a push", "198.51.100.3:4000", "POST", "/token", nil, 204, "198.51.100.3", ""},
		{"through a trusted proxy", "10.1.2.3:4000", "PUT", "/v2/a/manifests/v1", map[string]string{
			"X-Forwarded-For": "203.0.113.1, 192.0.2.44, 10.9.9.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "registry.example.com",
		}, 204, "192.0.2.44", "https://registry.example.com"},
		{"a spoofed header from an untrusted client", "192.0.2.7:4000", "GET", "/v2/", map[string]string{
			"X-Forwarded-For": "10.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
		}, 204, "192.0.2.7", "http://registry.test"},
		{"a proxy forwarding a client outside the allow-list", "10.1.2.3:4000", "GET", "/v2/", map[string]string{
			"X-Forwarded-For": "203.0.113.1",
		}, 403, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			r := httptest.NewRequest(tt.method, "http://registry.test"+tt.path, nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d %s, want %d", w.Code, w.Body, tt.wantStatus)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("no X-Content-Type-Options: nosniff")
			}
			if tt.wantStatus == 403 {
				if seen != nil {
					t.Fatal("a refused request reached the handler")
				}
				return
			}
			if got := ClientAddr(seen).String(); got != tt.wantClient {
				t.Fatalf("client = %s, want %s", got, tt.wantClient)
			}
			if tt.wantBase != "" {
				if got := (&API{}).baseURL(seen); got != tt.wantBase {
					t.Fatalf("base URL = %s, want %s", got, tt.wantBase)
				}
			}
		})
	}
	t.Run("clickjacking headers outside /v2/", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://registry.test/api/v1/me", nil)
		r.RemoteAddr = "192.0.2.7:1"
		h.ServeHTTP(w, r)
		if w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Content-Security-Policy") == "" {
			t.Fatalf("headers = %v", w.Header())
		}
	})
}

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(2, 3) // 2/s, bursts of 3
	clock := time.Unix(1800000000, 0)
	l.now = func() time.Time { return clock }
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	steps := []struct {
		name    string
		addr    netip.Addr
		advance time.Duration
		want    bool
	}{
		{"burst 1", a, 0, true}, {"burst 2", a, 0, true}, {"burst 3", a, 0, true},
		{"over the burst", a, 0, false},
		{"another client has its own bucket", b, 0, true},
		{"half a second later: one token", a, 500 * time.Millisecond, true},
		{"and none more", a, 0, false},
		{"long idle: a full burst again", a, time.Hour, true},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		ok, wait := l.allow(s.addr)
		if ok != s.want || (!ok && wait <= 0) {
			t.Fatalf("%s: allow = %v (wait %s), want %v", s.name, ok, wait, s.want)
		}
	}
	t.Run("429 with Retry-After through Edge", func(t *testing.T) {
		h := Edge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), EdgeOptions{RateLimit: 1, RateBurst: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		codes := []int{}
		for range 2 {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "http://registry.test/v2/", nil)
			r.RemoteAddr = "192.0.2.9:1"
			h.ServeHTTP(w, r)
			codes = append(codes, w.Code)
			if w.Code == 429 && w.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
		if codes[0] != 200 || codes[1] != 429 {
			t.Fatalf("codes = %v, want [200 429]", codes)
		}
	})
}
