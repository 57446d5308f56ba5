package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The replication scenario times how long an image pushed to the registry
// under test takes to be servable from a second registry (-repl-dest).
// Images are pushed one at a time, and the next is pushed only once the
// previous one has arrived, so each lag is measured alone.
//
//   - -repl-mode berth: the registry replicates by itself. The bench adds a
//     push replication policy with the event trigger through berth's
//     management API, and after each push is acknowledged polls the
//     destination with HEAD of the manifest until it answers 200 with the
//     pushed digest.
//   - -repl-mode client: the registry has no replication (Distribution 2.8),
//     so its users copy with a client (crane copy, skopeo copy) once the
//     push is done. The bench plays that client, started the moment the
//     push is acknowledged: GET the manifest from the source, copy the
//     blobs (HEAD at the destination, GET from the source streamed into
//     POST + PUT ?digest=, replCopyJobs at a time), PUT the manifest. The
//     lag ends when that PUT is acknowledged.
//
// Either way the lag starts when the manifest PUT of the push returns 201.

// replCopyJobs is how many blobs the client-side copy moves at once: the
// default of go-containerregistry's remote.Write (crane) and of berth's
// own copier.
const replCopyJobs = 4

// replModes are the values of -repl-mode.
var replModes = []string{"client", "berth"}

// lagStats sums up the lags of the images: the median (nearest rank) and
// the slowest.
type lagStats struct {
	n        int
	p50, max time.Duration
}

func summarizeLags(lags []time.Duration) lagStats {
	s := sortDurations(append([]time.Duration(nil), lags...))
	if len(s) == 0 {
		return lagStats{}
	}
	return lagStats{n: len(s), p50: percentile(s, 50), max: s[len(s)-1]}
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// scenarioReplication pushes -repl-images images one at a time and
// measures each one's replication lag to -repl-dest, then checks that
// every image is at the destination intact.
func scenarioReplication(ctx context.Context, b *bench) error {
	o := b.o
	if o.replDest == "" {
		b.warn("replication: not run: no destination registry given (-repl-dest)")
		return nil
	}
	dst, err := newClient(o.replDest, replCopyJobs, o.timeout)
	if err != nil {
		return err
	}
	defer dst.close()
	status, _, err := dst.ping(ctx, o.wait)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("destination %s asks for authentication; the bench needs one that does not", o.replDest)
	}

	imgs := make([]image, o.replImages)
	for i := range imgs {
		imgs[i] = makeImage(o.seed, kindRepl, uint64(i), o.replLayers, int(o.replLayerSize))
	}
	repoOf := func(i int) string { return b.repo(fmt.Sprintf("repl/img-%d", i)) }
	const tag = "v1"

	var policy int64
	if o.replMode == "berth" {
		p, err := b.addReplicationPolicy(ctx)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		policy = p.ID
		b.logf("  replication policy %d: %s → %s, repositories %s, event trigger", p.ID, o.addr, p.URL, p.Repositories)
		defer func() {
			// A fresh context: the policy goes even when the run was cut short.
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := b.adminJSON(dctx, http.MethodDelete, fmt.Sprintf("/api/v1/replication/policies/%d", policy), nil, nil, http.StatusNoContent); err != nil {
				b.warn(fmt.Sprintf("replication: removing the policy: %v", err))
			}
		}()
	}

	lags := make([]time.Duration, 0, len(imgs))
	for i, img := range imgs {
		if err := b.c.pushImage(ctx, repoOf(i), tag, img); err != nil {
			return fmt.Errorf("push image %d: %w", i, err)
		}
		acked := time.Now()
		if o.replMode == "berth" {
			err = waitManifest(ctx, dst, repoOf(i), tag, img.manifest.digest, o.replPoll, o.replTimeout)
		} else {
			err = copyImage(ctx, b.c, dst, repoOf(i), tag)
		}
		lag := time.Since(acked)
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		lags = append(lags, lag)
	}

	if err := verifyReplicas(ctx, dst, imgs, repoOf, tag); err != nil {
		return fmt.Errorf("at the destination: %w", err)
	}
	b.logf("  all %d images at the destination, manifests and blobs intact", len(imgs))

	st := summarizeLags(lags)
	shape := fmt.Sprintf("%d images × %d × %s, one at a time", st.n, o.replLayers, formatBytes(int64(o.replLayerSize)))
	b.add("replication", "lag_p50_ms", "lag p50, "+shape, millis(st.p50), "ms", "lower")
	b.add("replication", "lag_max_ms", fmt.Sprintf("lag max (slowest of %d images)", st.n), millis(st.max), "ms", "lower")
	if o.replMode == "berth" {
		jobLags, err := b.jobLags(ctx, policy, len(imgs))
		switch {
		case err != nil:
			b.warn(fmt.Sprintf("replication: berth's recorded lags: %v", err))
		case len(jobLags) > 0:
			js := summarizeLags(jobLags)
			b.add("replication", "job_lag_p50_ms", fmt.Sprintf("berth's recorded job lag p50 (%d jobs)", js.n), millis(js.p50), "ms", "info")
		}
	}
	return nil
}

// waitManifest polls dst with HEAD of repo:tag every poll until it answers
// 200 with digest, for at most timeout. 404 and server errors (5xx) are
// "not yet"; any other answer is an error.
func waitManifest(ctx context.Context, dst *client, repo, tag, digest string, poll, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen := "nothing (404)"
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, dst.url("/v2/"+repo+"/manifests/"+tag).String(), nil)
		req.Header["Accept"] = dockerAccept
		resp, err := dst.hc.Do(req)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			_, _ = drain(resp)
			switch code := resp.StatusCode; {
			case code == http.StatusOK:
				got := resp.Header.Get("Docker-Content-Digest")
				if got == digest {
					return nil
				}
				seen = "digest " + got
			case code == http.StatusNotFound:
			case code >= 500:
				// docker-registry answered a poll racing the write of
				// the tag with 500 once (its filesystem driver writes link
				// files in place); only an error that lasts until the
				// timeout fails the scenario.
				seen = fmt.Sprintf("status %d", code)
			default:
				return statusError(resp, http.StatusOK, http.StatusNotFound)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s:%s not at the destination with %s after %s (last seen: %s)", repo, tag, digest, timeout, seen)
		case <-t.C:
		}
	}
}

// copyImage copies repo:tag from src to dst as a client-side copy tool
// does: the manifest is read first, the blobs are copied (skipping those
// dst has), the manifest is written last.
func copyImage(ctx context.Context, src, dst *client, repo, tag string) error {
	m, err := fetchManifest(ctx, src, repo, tag)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	var man ociManifest
	if err := json.Unmarshal(m.data, &man); err != nil {
		return fmt.Errorf("source manifest %s:%s: %w", repo, tag, err)
	}
	if man.MediaType != mtOCIManifest {
		return fmt.Errorf("source manifest %s:%s is a %q, the bench copies only OCI image manifests", repo, tag, man.MediaType)
	}
	blobs := append([]descriptor{man.Config}, man.Layers...)
	err = parallel(ctx, len(blobs), replCopyJobs, func(ctx context.Context, i int) error {
		return copyBlob(ctx, src, dst, repo, blobs[i])
	})
	if err != nil {
		return err
	}
	return dst.putManifest(ctx, repo, tag, m)
}

// fetchManifest GETs repo:ref and checks that its content has the digest
// the registry names.
func fetchManifest(ctx context.Context, c *client, repo, ref string) (blobData, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/"+repo+"/manifests/"+ref).String(), nil)
	req.Header["Accept"] = dockerAccept
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return blobData{}, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	_ = resp.Body.Close()
	if err != nil {
		return blobData{}, fmt.Errorf("GET manifest %s:%s: %w", repo, ref, err)
	}
	m := newBlob(data)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != m.digest {
		return blobData{}, fmt.Errorf("GET manifest %s:%s: Docker-Content-Digest %s, content hashes to %s", repo, ref, got, m.digest)
	}
	return m, nil
}

// copyBlob copies one blob unless dst has it: the source's GET body is
// streamed into the destination's upload (POST, then PUT ?digest= with the
// whole body), which checks the digest.
func copyBlob(ctx context.Context, src, dst *client, repo string, d descriptor) error {
	ok, err := dst.blobExists(ctx, repo, d.Digest)
	if err != nil || ok {
		return err
	}
	loc, err := dst.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, src.url("/v2/"+repo+"/blobs/"+d.Digest).String(), nil)
	resp, err := src.do(req, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ContentLength != d.Size {
		return fmt.Errorf("GET blob %s: Content-Length %d, the manifest says %d", d.Digest, resp.ContentLength, d.Size)
	}
	return dst.finishUpload(ctx, loc, d.Digest, resp.Body, d.Size)
}

// verifyReplicas checks that every image is at dst: the manifest with its
// digest and each blob byte for byte.
func verifyReplicas(ctx context.Context, dst *client, imgs []image, repoOf func(int) string, tag string) error {
	return parallel(ctx, len(imgs), replCopyJobs, func(ctx context.Context, i int) error {
		img := imgs[i]
		if err := dst.getManifest(ctx, repoOf(i), tag, img.manifest); err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		for _, bl := range append([]blobData{img.config}, img.layers...) {
			if err := dst.getBlob(ctx, repoOf(i), bl); err != nil {
				return fmt.Errorf("image %d: %w", i, err)
			}
		}
		return nil
	})
}

// replicationPattern is the repositories glob of the policy the bench adds
// in berth mode: everything under <prefix>/repl.
func replicationPattern(prefix string) string { return prefix + "/repl/**" }

// replicationPolicyName derives a policy name from the prefix (no slashes
// or spaces allowed in it).
func replicationPolicyName(prefix string) string {
	return strings.NewReplacer("/", "-", " ", "-").Replace(prefix) + "-repl"
}
