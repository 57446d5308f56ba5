package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/actor"
	"github.com/berth-registry/berth/internal/errcode"
)

// EdgeOptions is what the network edge of berth checks and believes.
type EdgeOptions struct {
	// TrustedProxies may tell berth the client's scheme, host and address
	// (X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-For).
	TrustedProxies []netip.Prefix
	// Allow, when not empty, lists the only networks that may use berth.
	Allow []netip.Prefix
	// PushAllow, when not empty, lists the only networks that may write
	// (push, tag, delete) through /v2/.
	PushAllow []netip.Prefix
	// RateLimit, when positive, is the requests a second each client
	// address may make on average, in bursts of up to RateBurst.
	RateLimit float64
	RateBurst int
	// AccessLog, when not nil, gets a line for every request.
	AccessLog *AccessLog
}

// forwarded is what a trusted proxy said about the client.
type forwarded struct {
	scheme, host string
	client       netip.Addr
	proxied      bool // the request came from a trusted proxy
}

// Edge wraps the whole server: a request ID on every request (returned in
// X-Request-Id and carried in its context for the logs), the access log,
// security headers on every response, the network allow-lists, and the
// X-Forwarded-* headers of trusted proxies. Health checks are exempt from
// the allow-lists (load balancers probe them).
func Edge(next http.Handler, o EdgeOptions, log *slog.Logger) http.Handler {
	var limiter *rateLimiter
	if o.RateLimit > 0 {
		limiter = newRateLimiter(o.RateLimit, o.RateBurst)
	}
	guard := func(w http.ResponseWriter, r *http.Request, client netip.Addr) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		if len(o.Allow) > 0 && !inAny(client, o.Allow) {
			writeError(w, r, log, errcode.Denied.Errorf("requests from %s are not allowed here", client))
			return
		}
		if len(o.PushAllow) > 0 && isWrite(r) && !inAny(client, o.PushAllow) {
			writeError(w, r, log, errcode.Denied.Errorf("pushes and deletes from %s are not allowed here", client))
			return
		}
		if limiter != nil {
			if ok, wait := limiter.allow(client); !ok {
				secs := int((wait + time.Second - 1) / time.Second)
				writeError(w, r, log, errcode.TooManyRequests.Errorf("request rate limit of %g per second exceeded", o.RateLimit).
					WithHeader("Retry-After", strconv.Itoa(max(secs, 1))))
				return
			}
		}
		next.ServeHTTP(w, r)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if !strings.HasPrefix(r.URL.Path, "/v2/") {
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("Referrer-Policy", "no-referrer")
		}
		ri := &reqInfo{Context: r.Context(), fw: clientOf(r, o.TrustedProxies)}
		ri.id = requestIDOf(r, ri.fw.proxied)
		ri.hdr[0] = ri.id
		h[RequestIDHeader] = ri.hdr[:]
		if o.AccessLog == nil {
			guard(w, r.WithContext(ri), ri.fw.client)
			return
		}
		rec := o.AccessLog.begin(w, r)
		r = r.WithContext(actor.Track(ri, &rec.slot))
		if rec.body.ReadCloser != nil {
			r.Body = &rec.body
		}
		panicked := true
		defer func() { o.AccessLog.finish(rec, r, ri.id, ri.fw.client, panicked) }()
		guard(rec, r, ri.fw.client)
		panicked = false
	})
}

func isWrite(r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/v2/") {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// clientOf believes X-Forwarded-* only from a trusted proxy. The client is
// the rightmost X-Forwarded-For address that is not itself a trusted proxy.
func clientOf(r *http.Request, trusted []netip.Prefix) forwarded {
	fw := forwarded{client: remoteAddr(r)}
	if len(trusted) == 0 || !inAny(fw.client, trusted) {
		return fw
	}
	fw.proxied = true
	if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
		fw.scheme = p
	}
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && !strings.ContainsAny(h, "/\\\" ") {
		fw.host = h
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		fw.client = a.Unmap()
		if !inAny(fw.client, trusted) {
			break
		}
	}
	return fw
}

func firstValue(s string) string {
	s, _, _ = strings.Cut(s, ",")
	return strings.ToLower(strings.TrimSpace(s))
}

// ClientAddr is the client's address as berth believes it (for logs and
// audit): the remote address, or what a trusted proxy said.
func ClientAddr(r *http.Request) netip.Addr {
	if ri := infoOf(r.Context()); ri != nil {
		return ri.fw.client
	}
	return remoteAddr(r)
}
