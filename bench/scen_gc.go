package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// The gc scenario's data: -gc-blobs unreferenced blobs of 1–4 KiB spread
// over one repository per pushing client, and -gc-images kept images of
// three layers each (two from a pool of gcSharedLayers layers every image
// draws from, one of its own) tagged in gcKeepRepos repositories, so the
// mark phase has manifests to read and layers shared between them.
const (
	gcMinBlob      = 1 << 10
	gcMaxBlob      = 4 << 10
	gcSharedLayers = 8
	gcKeepRepos    = 5
	gcSample       = 200 // unreferenced blobs HEAD-checked before and after
)

// junkBlob is unreferenced blob i: its size (1–4 KiB) and content come
// from the same per-blob seed.
func junkBlob(seed uint64, i int) blobData {
	s := seedFor(seed, kindGC, uint64(i))
	size := gcMinBlob + int(binary.LittleEndian.Uint64(s[24:])%(gcMaxBlob-gcMinBlob+1))
	return randBlob(s, size)
}

// gcKeptImages builds the n images the collection must keep.
func gcKeptImages(seed uint64, n int) []image {
	pool := make([]blobData, gcSharedLayers)
	for j := range pool {
		pool[j] = randBlob(seedFor(seed, kindGCKeep, 0, uint64(j)), 4<<10)
	}
	imgs := make([]image, n)
	for i := range imgs {
		own := randBlob(seedFor(seed, kindGCKeep, 1, uint64(i)), 2<<10)
		layers := []blobData{pool[i%gcSharedLayers], pool[(i+3)%gcSharedLayers], own}
		imgs[i] = assembleImage(fmt.Sprintf("gc-%d", i), layers)
	}
	return imgs
}

// sampleIndices returns k indices spread evenly over [0, n), the first and
// the last included (all of them when k >= n).
func sampleIndices(n, k int) []int {
	if n <= 0 || k <= 0 {
		return nil
	}
	if k >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	if k == 1 {
		return []int{0}
	}
	out := make([]int, k)
	for j := range out {
		out[j] = j * (n - 1) / (k - 1)
	}
	return out
}

// getBlob GETs a blob and checks its size and sha256.
func (c *client) getBlob(ctx context.Context, repo string, want blobData) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/"+repo+"/blobs/"+want.digest).String(), nil)
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("GET blob %s: %w", want.digest, err)
	}
	if n != int64(len(want.data)) {
		return fmt.Errorf("GET blob %s: %d bytes, want %d", want.digest, n, len(want.data))
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.digest {
		return fmt.Errorf("GET blob %s: content hashes to %s", want.digest, got)
	}
	return nil
}

// checkJunk HEADs the sampled unreferenced blobs; each must exist or not.
func (b *bench) checkJunk(ctx context.Context, repoOf func(int) string, digests []string, idx []int, want bool) error {
	return parallel(ctx, len(idx), b.o.gcClients, func(ctx context.Context, j int) error {
		i := idx[j]
		ok, err := b.c.blobExists(ctx, repoOf(i), digests[i])
		if err != nil {
			return fmt.Errorf("HEAD unreferenced blob %d: %w", i, err)
		}
		if ok != want {
			state := map[bool]string{true: "present", false: "absent"}
			return fmt.Errorf("unreferenced blob %d (%s in %s) is %s, want %s", i, digests[i], repoOf(i), state[ok], state[want])
		}
		return nil
	})
}

// scenarioGC pushes the data shape above, waits out the registry's grace
// period (-gc-grace), has the registry collect its garbage (timed, with
// the collector's peak RSS) and checks that the sampled unreferenced blobs
// are gone and every kept image still pulls, byte for byte.
func scenarioGC(ctx context.Context, b *bench) error {
	o := b.o
	if o.gcAPI == "" && o.gcCmd == "" {
		b.warn("gc: not run: no way to collect given (-gc-api for an online collector, -gc-cmd and -gc-restart for an offline one)")
		return nil
	}
	kept := gcKeptImages(o.seed, o.gcImages)
	keepRepo := func(i int) string { return b.repo(fmt.Sprintf("gc/keep%d", i%gcKeepRepos)) }
	keepTag := func(i int) string { return fmt.Sprintf("v%d", i) }
	junkRepo := func(i int) string { return b.repo(fmt.Sprintf("gc/junk%d", i%o.gcClients)) }

	err := parallel(ctx, len(kept), min(o.gcClients, gcKeepRepos), func(ctx context.Context, i int) error {
		return b.c.pushImage(ctx, keepRepo(i), keepTag(i), kept[i])
	})
	if err != nil {
		return fmt.Errorf("setup: kept images: %w", err)
	}

	digests := make([]string, o.gcBlobs)
	var total atomic.Int64
	start := time.Now()
	err = parallel(ctx, o.gcBlobs, o.gcClients, func(ctx context.Context, i int) error {
		bl := junkBlob(o.seed, i)
		loc, err := b.c.startUpload(ctx, junkRepo(i))
		if err == nil {
			err = b.c.finishUpload(ctx, loc, bl.digest, bytes.NewReader(bl.data), int64(len(bl.data)))
		}
		if err != nil {
			return fmt.Errorf("unreferenced blob %d: %w", i, err)
		}
		digests[i] = bl.digest
		total.Add(int64(len(bl.data)))
		return nil
	})
	pushEl := time.Since(start)
	pushedAt := time.Now()
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	b.add("gc", "push_blobs_per_s", fmt.Sprintf("push %d blobs of 1–4 KiB, %d clients", o.gcBlobs, o.gcClients),
		float64(o.gcBlobs)/pushEl.Seconds(), "blobs/s", "higher")
	b.logf("  pushed %d unreferenced blobs (%s) in %s", o.gcBlobs, formatBytes(total.Load()), pushEl.Round(time.Millisecond))
	sample := sampleIndices(o.gcBlobs, gcSample)
	if err := b.checkJunk(ctx, junkRepo, digests, sample, true); err != nil {
		return fmt.Errorf("before GC: %w", err)
	}
	if wait := time.Until(pushedAt.Add(o.gcGrace)); wait > 0 {
		b.logf("  waiting %s for the grace period (-gc-grace %s)", wait.Round(time.Millisecond), o.gcGrace)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	syscall.Sync() // the pushes' dirty pages are not flushed while the collector runs

	var col collection
	if o.gcAPI != "" {
		col, err = b.collectOnline(ctx, func(ctx context.Context) error {
			return b.c.getManifest(ctx, keepRepo(0), keepTag(0), kept[0].manifest)
		})
	} else {
		col, err = b.collectOffline(ctx)
	}
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	b.logf("  collector: %s", col.summary)
	b.add("gc", "collect_s", fmt.Sprintf("GC: %d unreferenced blobs, %d images kept", o.gcBlobs, o.gcImages),
		col.elapsed.Seconds(), "s", "lower")
	if col.peakRSS > 0 {
		b.add("gc", "peak_rss_mib", "collector peak RSS", float64(col.peakRSS)/(1<<20), "MiB", "lower")
	}
	if col.rssBefore > 0 {
		b.add("gc", "rss_before_mib", "server RSS before GC (online)", float64(col.rssBefore)/(1<<20), "MiB", "info")
	}
	b.add("gc", "unavailable_s", "registry unavailable during GC", col.down.Seconds(), "s", "info")
	if col.probes > 0 {
		b.logf("  %d manifest pulls served during the collection, slowest %s", col.probes, col.probeMax.Round(time.Microsecond))
	}
	b.add("gc", "removed_blobs", "blobs removed (collector's count)", float64(col.blobs), "blobs", "info")
	if col.blobs < o.gcBlobs {
		return fmt.Errorf("the collector removed %d blobs, want at least the %d unreferenced ones", col.blobs, o.gcBlobs)
	}

	if err := b.checkJunk(ctx, junkRepo, digests, sample, false); err != nil {
		return fmt.Errorf("after GC: %w", err)
	}
	err = parallel(ctx, len(kept), min(o.gcClients, 8), func(ctx context.Context, i int) error {
		if err := b.c.getManifest(ctx, keepRepo(i), keepTag(i), kept[i].manifest); err != nil {
			return err
		}
		for _, bl := range append([]blobData{kept[i].config}, kept[i].layers...) {
			if err := b.c.getBlob(ctx, keepRepo(i), bl); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("after GC, kept image: %w", err)
	}
	b.logf("  after GC: %d sampled unreferenced blobs gone, %d kept images pull intact", len(sample), len(kept))
	return nil
}
