package transfer

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimitTransport(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", http.StatusText(len(got)%600+200)) // touch the body
		_, _ = w.Write(payload)
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		rate     int64
		min, max time.Duration
	}{
		{"unlimited", 0, 0, 2 * time.Second},
		// 64 KiB up and 64 KiB down at 256 KiB/s: about half a second.
		{"256 KiB/s", 256 << 10, 350 * time.Millisecond, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: LimitTransport(nil, NewLimiter(tc.rate))}
			start := time.Now()
			resp, err := c.Post(srv.URL, "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || len(body) != len(payload) {
				t.Fatalf("read %d bytes, %v", len(body), err)
			}
			if took := time.Since(start); took < tc.min || took > tc.max {
				t.Fatalf("took %s, want %s to %s", took, tc.min, tc.max)
			}
		})
	}
}
