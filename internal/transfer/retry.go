package transfer

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// retryWaits are the pauses before the second and third attempt of a
// request (or of a blob upload); a variable so tests can shorten them.
var retryWaits = []time.Duration{time.Second, 3 * time.Second}

// retryStatus are the answers worth another attempt.
var retryStatus = map[int]bool{
	http.StatusRequestTimeout: true, http.StatusTooManyRequests: true,
	http.StatusInternalServerError: true, http.StatusBadGateway: true,
	http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
	499: true, // nginx: client closed the request
	522: true, // Cloudflare: connection timed out
}

// retrying is an http.RoundTripper that tries a request again, after
// retryWaits, when the network failed or the answer is in retryStatus —
// only a request without a body (a body is sent once), and not one whose
// caller retries by itself (see noRetry).
type retrying struct{ inner http.RoundTripper }

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	once := (req.Body != nil && req.Body != http.NoBody) || req.Context().Value(noRetryKey{}) != nil
	for attempt := 0; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		if once || attempt >= len(retryWaits) || !(temporary(err) || (err == nil && retryStatus[resp.StatusCode])) {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		if err := sleep(req.Context(), retryWaits[attempt]); err != nil {
			return nil, err
		}
	}
}

type noRetryKey struct{}

// noRetry marks the requests made with ctx as retried by their caller
// (a blob upload starts again from its HEAD), so retrying leaves them be.
func noRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetryKey{}, true)
}

// temporary reports whether err is a failure that may pass: a network
// flake, a timeout, or a registry error it calls temporary (5xx, 429,
// BLOB_UPLOAD_INVALID, UNAVAILABLE).
func temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
