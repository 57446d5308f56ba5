package transfer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetrying(t *testing.T) {
	waits := retryWaits
	retryWaits = []time.Duration{time.Millisecond, time.Millisecond}
	t.Cleanup(func() { retryWaits = waits })
	tests := []struct {
		name     string
		method   string
		body     string
		ctx      func(context.Context) context.Context
		status   int // answered before the last attempt
		want     int // status the caller sees
		attempts int32
	}{
		{"503 then 200", http.MethodHead, "", nil, http.StatusServiceUnavailable, http.StatusOK, 3},
		{"429 then 200", http.MethodGet, "", nil, http.StatusTooManyRequests, http.StatusOK, 3},
		{"404 is an answer", http.MethodHead, "", nil, http.StatusNotFound, http.StatusNotFound, 1},
		{"a body is sent once", http.MethodPut, "data", nil, http.StatusServiceUnavailable, http.StatusServiceUnavailable, 1},
		{"the caller retries", http.MethodHead, "", noRetry, http.StatusServiceUnavailable, http.StatusServiceUnavailable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= int32(len(retryWaits)) {
					w.WriteHeader(tc.status)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx(ctx)
			}
			req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body == "" {
				req.Body = http.NoBody
			}
			resp, err := (&http.Client{Transport: &retrying{inner: http.DefaultTransport}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want || n.Load() != tc.attempts {
				t.Fatalf("status %d after %d attempts, want %d after %d", resp.StatusCode, n.Load(), tc.want, tc.attempts)
			}
		})
	}
}
