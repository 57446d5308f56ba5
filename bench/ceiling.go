package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ceilingChunk is the memory the ceiling server writes from, again and
// again: big enough that its writes are as large as any registry's.
const ceilingChunk = 64 << 20

// pullCeiling measures what the pull scenario's client reaches when the
// server costs next to nothing: a server inside the bench answers one GET
// with size bytes written from memory, and the same transport and the same
// verifying read (pipelinedSHA256) take them. No registry can serve this
// client faster on this machine, so the pull ratio a registry can reach is
// bounded by this rate over the reference's. Best of two reads, in MiB/s.
func pullCeiling(ctx context.Context, tr http.RoundTripper, size int64, seed [32]byte) (float64, error) {
	chunk := make([]byte, min(size, ceilingChunk))
	if _, err := io.ReadFull(newRandStream(seed, int64(len(chunk))), chunk); err != nil {
		return 0, err
	}
	want := ceilingDigest(chunk, size)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		for left := size; left > 0; {
			n := min(left, int64(len(chunk)))
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			left -= n
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	hc := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/ceiling"
	best := 0.0
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		sum, n, err := pipelinedSHA256(resp.Body)
		_ = resp.Body.Close()
		el := time.Since(start)
		switch {
		case err != nil:
			return 0, fmt.Errorf("after %d bytes: %w", n, err)
		case n != size:
			return 0, fmt.Errorf("%d bytes, want %d", n, size)
		case string(sum) != string(want):
			return 0, errors.New("the bytes read do not hash to what the server wrote")
		}
		best = max(best, mibPerSec(size, el))
	}
	return best, nil
}

// ceilingDigest is the sha256 of chunk repeated up to size bytes.
func ceilingDigest(chunk []byte, size int64) []byte {
	h := sha256.New()
	for left := size; left > 0; {
		n := min(left, int64(len(chunk)))
		h.Write(chunk[:n])
		left -= n
	}
	return h.Sum(nil)
}
