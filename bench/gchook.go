package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// How the gc scenario makes a registry collect its garbage. The bench only
// drives an address, so the way in comes from flags:
//
//   - online (-gc-api PATH): POST PATH on -addr with -user/-password as
//     Basic credentials while the server keeps serving; the collector is
//     the server, its peak RSS is sampled from -pid during the request;
//   - offline (-gc-cmd CMD, -gc-restart CMD): the bench stops the server
//     (SIGTERM to -pid, then waits until it has exited), runs CMD with
//     sh -c as its child (the collector: its wall time is the collection
//     time, its peak RSS the ru_maxrss wait4 reports, which covers its
//     own children too), then runs the restart command, which starts the
//     server again and prints its new PID on the last line of its output;
//     the bench waits for GET /v2/ and goes on with the new PID.
//
// Only the collection is timed: stopping and restarting the server are not.

// collection is what one garbage collection did and cost.
type collection struct {
	elapsed   time.Duration
	peakRSS   int64         // bytes
	rssBefore int64         // server RSS just before an online run (0: offline)
	down      time.Duration // registry unavailable: server stopped until it answers again
	probes    int           // requests served while an online collection ran
	probeMax  time.Duration // the slowest of them
	blobs     int           // blobs the collector reports it removed
	summary   string
}

// gcResponse is the JSON berth's POST /api/v1/system/gc answers with.
type gcResponse struct {
	Manifests int     `json:"manifests"`
	Links     int     `json:"links"`
	Blobs     int     `json:"blobs"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	DryRun    bool    `json:"dry_run"`
}

// parseGCResponse decodes and sanity-checks an online GC answer.
func parseGCResponse(body []byte) (gcResponse, error) {
	var r gcResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("GC answer: %w: %.200q", err, body)
	}
	if r.DryRun {
		return r, errors.New("GC answer says dry_run: nothing was removed")
	}
	if r.Blobs < 0 || r.Links < 0 || r.Manifests < 0 || r.Bytes < 0 {
		return r, fmt.Errorf("GC answer has negative counts: %+v", r)
	}
	return r, nil
}

// collectOnline runs the online collection: one POST, timed, with the
// server's RSS sampled meanwhile, and probe (a pull of a kept manifest)
// run every 100 ms to check that the registry keeps serving.
func (b *bench) collectOnline(ctx context.Context, probe func(context.Context) error) (collection, error) {
	var c collection
	if b.o.pid > 0 {
		v, err := statusBytes(b.o.pid, "VmRSS")
		if err != nil {
			return c, err
		}
		c.rssBefore = v
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.long.url(b.o.gcAPI).String(), strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if b.o.user != "" {
		req.SetBasicAuth(b.o.user, b.o.password)
	}
	var rss *rssSampler
	if b.o.pid > 0 {
		rss = startRSS(b.o.pid, b.o.rssEvery)
	}
	pctx, stopProbes := context.WithCancel(ctx)
	probeDone := make(chan error, 1)
	go func() { probeDone <- runProbes(pctx, probe, &c) }()
	start := time.Now()
	resp, err := b.long.do(req, http.StatusOK)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}
	c.elapsed = time.Since(start)
	stopProbes()
	if perr := <-probeDone; perr != nil && err == nil {
		err = fmt.Errorf("the registry failed a request while collecting: %w", perr)
	}
	if rss != nil {
		peak, rerr := rss.Stop()
		if rerr != nil && err == nil {
			err = rerr
		}
		c.peakRSS = peak
	}
	if err != nil {
		return c, fmt.Errorf("POST %s: %w", b.o.gcAPI, err)
	}
	r, err := parseGCResponse(body)
	if err != nil {
		return c, err
	}
	c.blobs = r.Blobs
	c.summary = fmt.Sprintf("removed %d manifests, %d blob links, %d blobs (%s); server says %.2f s",
		r.Manifests, r.Links, r.Blobs, formatBytes(r.Bytes), r.Seconds)
	return c, nil
}

// runProbes calls probe every 100 ms until ctx ends, counting the calls
// and keeping the slowest in c; the first failure ends it.
func runProbes(ctx context.Context, probe func(context.Context) error, c *collection) error {
	if probe == nil {
		return nil
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		err := probe(ctx)
		if ctx.Err() != nil {
			return nil // the collection ended while this probe ran
		}
		if err != nil {
			return err
		}
		c.probes++
		c.probeMax = max(c.probeMax, time.Since(start))
	}
}

// distSummary matches the last line docker-registry garbage-collect
// prints: "N blobs marked, M blobs and K manifests eligible for deletion".
var distSummary = regexp.MustCompile(`(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion`)

// parseCollectorOutput scans an offline collector's output for
// Distribution's summary line and returns the blobs it deleted (-1 when
// there is no such line) and the last few lines, for errors.
func parseCollectorOutput(r io.Reader) (blobs int, summary string, tail []string, err error) {
	blobs = -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := distSummary.FindStringSubmatch(line); m != nil {
			blobs, _ = strconv.Atoi(m[2])
			summary = strings.TrimSpace(line)
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(tail) == 5 {
			tail = tail[1:]
		}
		tail = append(tail, line)
	}
	return blobs, summary, tail, sc.Err()
}

// parsePIDOutput takes the PID a restart command printed on the last
// non-empty line of its output.
func parsePIDOutput(out string) (int, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	pid, err := strconv.Atoi(last)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("restart command printed %q, want the new server PID on its last line", last)
	}
	return pid, nil
}

// parseStatState returns the state letter (R, S, Z, …) from the contents
// of /proc/PID/stat.
func parseStatState(stat string) (string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", errors.New("malformed stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) == 0 {
		return "", errors.New("malformed stat: no state")
	}
	return f[0], nil
}

// exited reports whether pid has exited: gone, or a zombie its parent
// has not reaped yet (the server is run.sh's child, not ours).
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	st, err := parseStatState(string(b))
	return err == nil && (st == "Z" || st == "X")
}

// stopServer sends SIGTERM to pid and waits up to 30 s for it to exit.
func stopServer(ctx context.Context, pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop server %d: %w", pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !exited(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("server %d still running 30 s after SIGTERM", pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// collectOffline stops the server, runs the collector (timed), restarts
// the server and switches -pid to the new process. The server's VmHWM
// before the stop is kept for the whole-run figure.
func (b *bench) collectOffline(ctx context.Context) (collection, error) {
	var c collection
	if hwm, err := statusBytes(b.o.pid, "VmHWM"); err == nil {
		b.earlierHWM = max(b.earlierHWM, hwm)
	}
	stopped := time.Now()
	if err := stopServer(ctx, b.o.pid); err != nil {
		return c, err
	}
	b.logf("  server stopped; running %s", b.o.gcCmd)
	cmd := exec.CommandContext(ctx, "sh", "-c", b.o.gcCmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	type parsed struct {
		blobs   int
		summary string
		tail    []string
		err     error
	}
	done := make(chan parsed, 1)
	go func() {
		var p parsed
		p.blobs, p.summary, p.tail, p.err = parseCollectorOutput(pr)
		_, _ = io.Copy(io.Discard, pr)
		done <- p
	}()
	start := time.Now()
	runErr := cmd.Run()
	c.elapsed = time.Since(start)
	_ = pw.Close()
	p := <-done
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			c.peakRSS = ru.Maxrss * 1024 // KiB on Linux
		}
	}
	restartErr := b.restartServer(ctx)
	c.down = time.Since(stopped)
	if runErr != nil {
		return c, fmt.Errorf("%s: %w; last output: %s", b.o.gcCmd, runErr, strings.Join(p.tail, " | "))
	}
	if restartErr != nil {
		return c, restartErr
	}
	if p.err != nil {
		return c, fmt.Errorf("reading the collector's output: %w", p.err)
	}
	if p.blobs < 0 {
		return c, fmt.Errorf("the collector printed no summary line (want %q); last output: %s",
			"N blobs marked, M blobs and K manifests eligible for deletion", strings.Join(p.tail, " | "))
	}
	c.blobs, c.summary = p.blobs, p.summary
	return c, nil
}

// restartServer runs -gc-restart, adopts the PID it prints and waits for
// the registry to answer.
func (b *bench) restartServer(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", b.o.gcRestart)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("restart %q: %w", b.o.gcRestart, err)
	}
	pid, err := parsePIDOutput(string(out))
	if err != nil {
		return err
	}
	b.logf("  server restarted as PID %d", pid)
	b.o.pid = pid
	if _, _, err := b.c.ping(ctx, b.o.wait); err != nil {
		return fmt.Errorf("after restart: %w", err)
	}
	return nil
}
