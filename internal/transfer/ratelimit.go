package transfer

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Limiter bounds the bytes per second that pass through the readers it
// wraps, together: every reader of one Limiter shares its rate.
type Limiter struct {
	rate int64 // bytes per second
	mu   sync.Mutex
	next time.Time // when the bytes granted so far have been paid for
}

// NewLimiter returns a Limiter of rate bytes per second; nil (no limit)
// when rate <= 0.
func NewLimiter(rate int64) *Limiter {
	if rate <= 0 {
		return nil
	}
	return &Limiter{rate: rate}
}

// wait blocks until n more bytes may pass.
func (l *Limiter) wait(ctx context.Context, n int) error {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	d := l.next.Sub(now)
	l.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chunk is the most one Read passes at once: a tenth of a second's worth
// (at least 1 KiB), so the rate stays smooth.
func (l *Limiter) chunk() int { return int(max(l.rate/10, 1024)) }

// LimitTransport returns base (http.DefaultTransport when nil) with the
// request and response bodies paced by l; base itself when l is nil.
func LimitTransport(base http.RoundTripper, l *Limiter) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if l == nil {
		return base
	}
	return &limitedTransport{base: base, l: l}
}

type limitedTransport struct {
	base http.RoundTripper
	l    *Limiter
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(ctx)
		req.Body = &limitedReader{rc: req.Body, l: t.l, ctx: ctx}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.Body != nil {
		resp.Body = &limitedReader{rc: resp.Body, l: t.l, ctx: ctx}
	}
	return resp, nil
}

type limitedReader struct {
	rc  io.ReadCloser
	l   *Limiter
	ctx context.Context
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if c := r.l.chunk(); len(p) > c {
		p = p[:c]
	}
	n, err := r.rc.Read(p)
	if n > 0 {
		if werr := r.l.wait(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (r *limitedReader) Close() error { return r.rc.Close() }
