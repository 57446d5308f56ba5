package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ensureHot pushes the image that the manifest GET and blob HEAD
// scenarios hit: 5 layers of 4 KiB, so the manifest is of a typical size.
func (b *bench) ensureHot(ctx context.Context) error {
	if b.hotDone {
		return nil
	}
	b.hot = makeImage(b.o.seed, kindHot, 0, 5, 4<<10)
	b.hotRepo = b.repo("hot")
	if err := b.c.pushImage(ctx, b.hotRepo, "latest", b.hot); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	b.hotDone = true
	return nil
}

// callerFactory makes one worker's request function; the connection it may
// own must give up by deadline, and release closes it.
type callerFactory func(deadline time.Time) (call func(context.Context) error, release func())

// shared wraps a stateless request function (net/http client, whose
// Transport pools the connections) as a callerFactory.
func shared(call func(context.Context) error) callerFactory {
	return func(time.Time) (func(context.Context) error, func()) { return call, func() {} }
}

// rawCaller makes workers that each own one rawConn sending req and check
// each response with check.
func (b *bench) rawCaller(req *rawRequest, head bool, check func(rawResponse) error) callerFactory {
	return func(deadline time.Time) (func(context.Context) error, func()) {
		rc := &rawConn{addr: b.o.addr, deadline: deadline}
		return func(ctx context.Context) error {
			raw, err := req.get(ctx)
			if err != nil {
				return err
			}
			r, err := rc.roundTrip(ctx, raw, head)
			if err != nil {
				return err
			}
			return check(r)
		}, rc.close
	}
}

// loadAuth readies the Authorization value of scopes for a load phase: the
// token is fetched (or renewed) now if it would otherwise be renewed before
// the phase ends, so the timed loop fetches none unless it outlasts a
// token's lifetime (then one worker renews it while the others go on with
// the old token).
func (b *bench) loadAuth(ctx context.Context, scopes []string) (*liveAuth, error) {
	if b.c.auth != nil {
		until := time.Now().Add(b.o.warmup + b.o.duration + 10*time.Second)
		if err := b.c.auth.prepare(ctx, scopes, until); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	la := newLiveAuth(b.c.auth, scopes)
	if _, err := la.get(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return la, nil
}

// prefetch readies the token a request to target needs, valid until
// until, so a timed read (a pull, a listing) does not fetch it.
func (b *bench) prefetch(ctx context.Context, method, target string, until time.Time) error {
	if b.c.auth == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return err
	}
	if err := b.c.auth.prepare(ctx, requestScopes(req), until); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// setAuth puts la's current value on req.
func setAuth(ctx context.Context, req *http.Request, la *liveAuth) error {
	av, err := la.get(ctx)
	if err != nil {
		return err
	}
	if av.value != "" {
		req.Header["Authorization"] = []string{av.value}
	}
	return nil
}

// rawStatus turns a non-200 raw response into an error like statusError.
func rawStatus(method, path string, r rawResponse) error {
	if r.status == http.StatusOK {
		return nil
	}
	return fmt.Errorf("%s %s: status %d, want [200]: %s", method, path, r.status, strings.TrimSpace(string(r.body)))
}

// loadResult is what one timed load phase measured.
type loadResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	cpu      time.Duration // server CPU used during the phase
	hasCPU   bool
	ownCPU   time.Duration // this program's CPU during the phase
}

// hammer runs one request function on -conns goroutines for d. Every call
// must succeed: the first error stops the phase and is returned.
// A request still unanswered timeout after the phase ends fails it. Each
// worker gets its own call function from newCall (and its own connection
// with -client raw); release is called when the worker ends.
func hammer(ctx context.Context, conns int, d, timeout time.Duration, newCall callerFactory) ([]time.Duration, time.Duration, error) {
	deadline := time.Now().Add(d + timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var (
		stop     atomic.Bool
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, conns)
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call, release := newCall(deadline)
			defer release()
			mine := make([]time.Duration, 0, 4096)
			for !stop.Load() {
				t0 := time.Now()
				if err := call(ctx); err != nil {
					once.Do(func() { firstErr = err; stop.Store(true); cancel() })
					break
				}
				mine = append(mine, time.Since(t0))
			}
			lat[w] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, elapsed, firstErr
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return all, elapsed, nil
}

// load warms up, then measures call under -conns connections for
// -duration, with the server's CPU time read before and after.
func (b *bench) load(ctx context.Context, call callerFactory) (loadResult, error) {
	var r loadResult
	if b.o.warmup > 0 {
		if _, _, err := hammer(ctx, b.o.conns, b.o.warmup, b.o.timeout, call); err != nil {
			return r, fmt.Errorf("warm-up: %w", err)
		}
	}
	var cpu0 time.Duration
	if b.o.pid > 0 {
		var err error
		if cpu0, err = cpuTime(b.o.pid); err != nil {
			return r, err
		}
	}
	own0, ownErr := cpuTime(os.Getpid())
	lat, el, err := hammer(ctx, b.o.conns, b.o.duration, b.o.timeout, call)
	if err != nil {
		return r, err
	}
	if b.o.pid > 0 {
		cpu1, err := cpuTime(b.o.pid)
		if err != nil {
			return r, err
		}
		r.cpu, r.hasCPU = cpu1-cpu0, true
	}
	if own1, err := cpuTime(os.Getpid()); err == nil && ownErr == nil {
		r.ownCPU = own1 - own0
	}
	if len(lat) == 0 {
		return r, fmt.Errorf("no request completed in %s", b.o.duration)
	}
	sortDurations(lat)
	r.requests, r.elapsed = len(lat), el
	r.p50, r.p99 = percentile(lat, 50), percentile(lat, 99)
	return r, nil
}

func (b *bench) addLoad(scenario, what string, r loadResult) {
	b.logf("  %d requests in %s", r.requests, r.elapsed.Round(time.Millisecond))
	b.add(scenario, "rps", fmt.Sprintf("%s, %d conns: req/s", what, b.o.conns), float64(r.requests)/r.elapsed.Seconds(), "req/s", "higher")
	b.add(scenario, "p50_us", what+": p50 latency", micros(r.p50), "µs", "lower")
	b.add(scenario, "p99_us", what+": p99 latency", micros(r.p99), "µs", "lower")
	if r.hasCPU {
		b.add(scenario, "cpu_us_per_req", what+": server CPU per request", micros(r.cpu)/float64(r.requests), "µs", "lower")
	}
	if r.ownCPU > 0 {
		b.add(scenario, "client_cpu_us_per_req", what+": bench client CPU per request", micros(r.ownCPU)/float64(r.requests), "µs", "info")
	}
}

func scenarioManifest(ctx context.Context, b *bench) error {
	if err := b.ensureHot(ctx); err != nil {
		return err
	}
	path := "/v2/" + b.hotRepo + "/manifests/latest"
	target := b.c.url(path).String()
	want := b.hot.manifest
	la, err := b.loadAuth(ctx, []string{repoScope(b.hotRepo, "pull,push")})
	if err != nil {
		return err
	}
	call := shared(func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		req.Header["Accept"] = dockerAccept
		if err := setAuth(ctx, req, la); err != nil {
			return err
		}
		resp, err := b.long.do(req, http.StatusOK)
		if err != nil {
			return err
		}
		n, err := drain(resp)
		if err != nil {
			return err
		}
		return checkManifestResponse(resp, n, want)
	})
	if b.o.client == "raw" {
		req := newRawRequest(la, func(authorization string) []byte {
			return buildRawRequest(http.MethodGet, b.o.addr, path, dockerAccept, authorization)
		})
		call = b.rawCaller(req, false, func(r rawResponse) error {
			if err := rawStatus(http.MethodGet, path, r); err != nil {
				return err
			}
			if r.bodyLen != int64(len(want.data)) || r.digest != want.digest {
				return fmt.Errorf("GET manifest: %d bytes, digest %q; want %d, %s", r.bodyLen, r.digest, len(want.data), want.digest)
			}
			return nil
		})
	}
	r, err := b.load(ctx, call)
	if err != nil {
		return err
	}
	b.addLoad("manifest", "manifest GET by tag", r)
	return nil
}

func scenarioHead(ctx context.Context, b *bench) error {
	if err := b.ensureHot(ctx); err != nil {
		return err
	}
	layer := b.hot.layers[0]
	path := "/v2/" + b.hotRepo + "/blobs/" + layer.digest
	target := b.c.url(path).String()
	wantLen := strconv.Itoa(len(layer.data))
	la, err := b.loadAuth(ctx, []string{repoScope(b.hotRepo, "pull,push")})
	if err != nil {
		return err
	}
	call := shared(func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
		if err := setAuth(ctx, req, la); err != nil {
			return err
		}
		resp, err := b.long.do(req, http.StatusOK)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if got := resp.Header.Get("Content-Length"); got != wantLen {
			return fmt.Errorf("HEAD blob: Content-Length %q, want %s", got, wantLen)
		}
		if got := resp.Header.Get("Docker-Content-Digest"); got != layer.digest {
			return fmt.Errorf("HEAD blob: Docker-Content-Digest %q, want %s", got, layer.digest)
		}
		return nil
	})
	if b.o.client == "raw" {
		req := newRawRequest(la, func(authorization string) []byte {
			return buildRawRequest(http.MethodHead, b.o.addr, path, nil, authorization)
		})
		call = b.rawCaller(req, true, func(r rawResponse) error {
			if err := rawStatus(http.MethodHead, path, r); err != nil {
				return err
			}
			if r.contentLength != int64(len(layer.data)) || r.digest != layer.digest {
				return fmt.Errorf("HEAD blob: Content-Length %d, digest %q; want %d, %s", r.contentLength, r.digest, len(layer.data), layer.digest)
			}
			return nil
		})
	}
	r, err := b.load(ctx, call)
	if err != nil {
		return err
	}
	b.addLoad("head", "blob HEAD", r)
	return nil
}
