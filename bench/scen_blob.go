package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Seed kinds: every generated blob is seeded by (run seed, kind, ids...).
const (
	kindBig uint64 = iota + 1
	kindSmall
	kindHot
	kindCatalog
	kindTags
	kindGC
	kindGCKeep
	kindRepl
	kindCeiling
)

// bigDigest generates the big blob's stream once to learn its digest.
func (b *bench) bigDigest() (string, error) {
	if b.bigDigestValue != "" {
		return b.bigDigestValue, nil
	}
	size := int64(b.o.blobSize)
	start := time.Now()
	d, err := streamDigest(seedFor(b.o.seed, kindBig), size)
	if err != nil {
		return "", err
	}
	el := time.Since(start)
	b.logf("  generated+hashed %s in %s (%.0f MiB/s client-side): %s", formatBytes(size),
		el.Round(time.Millisecond), mibPerSec(size, el), d)
	b.bigDigestValue = d
	return d, nil
}

// bigTimeout bounds one transfer of the big blob: -timeout plus the time
// it takes at 8 MiB/s.
func (b *bench) bigTimeout() time.Duration {
	return b.o.timeout + time.Duration(int64(b.o.blobSize)/(8<<20))*time.Second
}

// pushBig uploads the big blob as docker does: POST to open a session, one
// streamed PATCH with the whole content, then PUT ?digest= with no body.
func (b *bench) pushBig(ctx context.Context) (time.Duration, error) {
	size := int64(b.o.blobSize)
	dgst, err := b.bigDigest()
	if err != nil {
		return 0, err
	}
	repo := b.repo("big")
	start := time.Now()
	loc, err := b.c.startUpload(ctx, repo)
	if err != nil {
		return 0, err
	}
	tctx, cancel := context.WithTimeout(ctx, b.bigTimeout())
	defer cancel()
	loc, err = b.long.patchUpload(tctx, loc, newRandStream(seedFor(b.o.seed, kindBig), size), size)
	if err != nil {
		return 0, err
	}
	// Committing may hash or copy the content server-side: allow for it too.
	if err := b.long.finishUpload(tctx, loc, dgst, nil, 0); err != nil {
		return 0, err
	}
	el := time.Since(start)
	// The blob must now answer HEAD with its size.
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, b.c.url("/v2/"+repo+"/blobs/"+dgst).String(), nil)
	resp, err := b.c.do(req, http.StatusOK)
	if err != nil {
		return 0, fmt.Errorf("after push: %w", err)
	}
	_, _ = drain(resp)
	if resp.ContentLength != size {
		return 0, fmt.Errorf("after push: HEAD Content-Length %d, want %d", resp.ContentLength, size)
	}
	b.bigPushed = true
	return el, nil
}

func scenarioPush(ctx context.Context, b *bench) error {
	el, err := b.pushBig(ctx)
	if err != nil {
		return err
	}
	size := int64(b.o.blobSize)
	b.add("push", "mibps", formatBytes(size)+" layer push", mibPerSec(size, el), "MiB/s", "higher")
	return nil
}

func scenarioPull(ctx context.Context, b *bench) error {
	if !b.bigPushed {
		b.logf("  pushing the big blob first (untimed)")
		if _, err := b.pushBig(ctx); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	size := int64(b.o.blobSize)
	dgst, err := b.bigDigest()
	if err != nil {
		return err
	}
	target := b.long.url("/v2/" + b.repo("big") + "/blobs/" + dgst).String()
	if err := b.prefetch(ctx, http.MethodGet, target, time.Now().Add(b.bigTimeout())); err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, b.bigTimeout())
	defer cancel()
	start := time.Now()
	req, _ := http.NewRequestWithContext(tctx, http.MethodGet, target, nil)
	resp, err := b.long.do(req, http.StatusOK)
	if err != nil {
		return err
	}
	sum, n, err := pipelinedSHA256(resp.Body)
	_ = resp.Body.Close()
	el := time.Since(start)
	if err != nil {
		return fmt.Errorf("GET blob: after %d bytes: %w", n, err)
	}
	if n != size {
		return fmt.Errorf("GET blob: %d bytes, want %d", n, size)
	}
	if got := "sha256:" + hex.EncodeToString(sum); got != dgst {
		return fmt.Errorf("GET blob: content hashes to %s, want %s", got, dgst)
	}
	b.add("pull", "mibps", formatBytes(size)+" layer pull (verified)", mibPerSec(size, el), "MiB/s", "higher")
	ceiling, err := pullCeiling(ctx, b.long.hc.Transport, size, seedFor(b.o.seed, kindCeiling))
	if err != nil {
		return fmt.Errorf("pull ceiling: %w", err)
	}
	b.add("pull", "ceiling_mibps", formatBytes(size)+" read by the same client from memory (ceiling)", ceiling, "MiB/s", "info")
	return nil
}

// pipelinedSHA256 reads r to the end and returns the sha256 of what it
// read. Reading and hashing run on two goroutines, so a fast server is not
// held back by the client hashing on the same goroutine that reads.
func pipelinedSHA256(r io.Reader) ([]byte, int64, error) {
	const bufSize, depth = 1 << 20, 4
	free := make(chan []byte, depth)
	full := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, bufSize)
	}
	done := make(chan []byte)
	go func() {
		h := sha256.New()
		for b := range full {
			h.Write(b)
			free <- b[:cap(b)]
		}
		done <- h.Sum(nil)
	}()
	var n int64
	var err error
	for {
		b := <-free
		var m int
		m, err = io.ReadFull(r, b)
		n += int64(m)
		if m > 0 {
			full <- b[:m]
		}
		if err != nil {
			break
		}
	}
	close(full)
	sum := <-done
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return sum, n, err
}
