package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Metric is one measured number. Key is stable across runs ("push.mibps")
// and is what "bench compare" matches on.
type Metric struct {
	Key      string  `json:"key"`
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Better is "higher" or "lower"; "info" metrics get no ratio.
	Better string `json:"better"`
}

// Report is the result of one run against one registry.
type Report struct {
	Label    string            `json:"label"`
	Addr     string            `json:"addr"`
	Started  time.Time         `json:"started"`
	Settings map[string]string `json:"settings"`
	Metrics  []Metric          `json:"metrics"`
	Errors   []string          `json:"errors,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
}

// bench holds what scenarios share during one run.
type bench struct {
	o      *options
	c      *client // requests bounded by -timeout
	long   *client // no per-request timeout (big blob)
	log    io.Writer
	report *Report

	bigDigestValue string // digest of the big blob, once computed
	bigPushed      bool

	hot     image // the image manifest GET / blob HEAD hit
	hotRepo string
	hotDone bool

	earlierHWM int64 // VmHWM of a server process the gc scenario stopped
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "[%s] "+format+"\n", append([]any{b.o.label}, args...)...)
}

// warn records a deviation that does not invalidate the measurement.
func (b *bench) warn(msg string) {
	b.report.Warnings = append(b.report.Warnings, msg)
	b.logf("  WARNING: %s", msg)
}

// add records a metric and echoes it to the log.
func (b *bench) add(scenario, key, name string, value float64, unit, better string) {
	b.report.Metrics = append(b.report.Metrics, Metric{
		Key: scenario + "." + key, Scenario: scenario, Name: name, Value: value, Unit: unit, Better: better,
	})
	b.logf("  %-10s %-34s %12.2f %s", scenario, name, value, unit)
}

func (b *bench) repo(name string) string { return b.o.prefix + "/" + name }

// foreignLimit is how many CPUs other processes may keep busy on average
// during a scenario before its numbers are flagged as noisy.
const foreignLimit = 0.25

// idleForeignCores measures the CPU other processes use over d while this
// program and the server are idle.
func idleForeignCores(ctx context.Context, pid int, d time.Duration) (float64, error) {
	a, err := takeCPUSnapshot(pid)
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	b, err := takeCPUSnapshot(pid)
	if err != nil {
		return 0, err
	}
	return foreignCores(a, b), nil
}

type scenarioFunc func(ctx context.Context, b *bench) error

var scenarioFuncs = map[string]scenarioFunc{
	"push":        scenarioPush,
	"pull":        scenarioPull,
	"small":       scenarioSmall,
	"manifest":    scenarioManifest,
	"head":        scenarioHead,
	"catalog":     scenarioCatalog,
	"tags":        scenarioTags,
	"gc":          scenarioGC,
	"replication": scenarioReplication,
}

// run executes the selected scenarios in their canonical order; a failing
// scenario is recorded in Report.Errors and the next one still runs.
func run(ctx context.Context, o *options, log io.Writer) *Report {
	rep := &Report{Label: o.label, Addr: o.addr, Started: time.Now().UTC(), Settings: settings(o)}
	c, err := newClient(o.addr, max(o.conns, o.pushClients, o.setupClients, o.tagClients, o.gcClients), o.timeout)
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
		return rep
	}
	defer c.close()
	b := &bench{o: o, c: c, log: log, report: rep}
	status, challenges, err := c.ping(ctx, o.wait)
	if err == nil {
		rep.Settings["auth"], err = c.setupAuth(ctx, status, challenges, o.user, o.password)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
		return rep
	}
	if rep.Settings["auth"] == "none" && o.user != "" {
		b.warn("-user given but the registry asks for no authentication: requests go without credentials, as docker's would")
	}
	b.long = c.withoutTimeout()
	if la, err := loadAverage(); err == nil {
		rep.Settings["loadavg_start"] = fmt.Sprintf("%.2f", la)
	}
	if fc, err := idleForeignCores(ctx, o.pid, time.Second); err == nil && fc > foreignLimit {
		b.warn(fmt.Sprintf("machine busy before the run: other processes kept %.2f of %d CPUs busy; numbers are noisy",
			fc, runtime.NumCPU()))
	}
	selected := splitList(o.scenarios)
	for _, name := range allScenarios {
		if !contains(selected, name) {
			continue
		}
		if ctx.Err() != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: not run: %v", name, ctx.Err()))
			continue
		}
		// Start every scenario with no dirty pages left by the one before (or
		// by the registry benchmarked before this one): both registries then
		// write into a page cache that is not already being flushed.
		syscall.Sync()
		b.logf("scenario %s", name)
		// The gc scenario measures its collector itself (which may be
		// another process than the server, and may restart the server).
		var rss *rssSampler
		pid0 := o.pid
		if o.pid > 0 && name != "gc" {
			rss = startRSS(o.pid, o.rssEvery)
		}
		start := time.Now()
		fetched0 := b.tokenFetches()
		helpers := b.helperPIDs(name)
		snap0, snapErr := takeCPUSnapshot(o.pid, helpers...)
		err := scenarioFuncs[name](ctx, b)
		if o.pid != pid0 {
			b.logf("  (server restarted: other processes' CPU not checked)")
		} else if snap1, err1 := takeCPUSnapshot(o.pid, helpers...); snapErr == nil && err1 == nil {
			if fc := foreignCores(snap0, snap1); fc > foreignLimit {
				b.warn(fmt.Sprintf("%s: other processes (or kernel threads) kept %.2f CPUs busy on average during the scenario; its numbers are noisy", name, fc))
			}
		}
		if rss != nil {
			peak, rerr := rss.Stop()
			if rerr != nil && err == nil {
				err = rerr
			}
			if rerr == nil {
				b.add(name, "peak_rss_mib", "server peak RSS", float64(peak)/(1<<20), "MiB", "lower")
			}
		}
		if err != nil {
			b.logf("  FAILED: %v", err)
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", name, err))
		}
		if n := b.tokenFetches() - fetched0; n > 0 {
			b.logf("  (%d token(s) fetched)", n)
		}
		b.logf("  (%s took %s)", name, time.Since(start).Round(time.Millisecond))
	}
	if o.pid > 0 && ctx.Err() == nil {
		if hwm, err := statusBytes(o.pid, "VmHWM"); err == nil {
			hwm = max(hwm, b.earlierHWM)
			b.add("all", "vmhwm_mib", "server VmHWM (whole run)", float64(hwm)/(1<<20), "MiB", "lower")
		} else {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	return rep
}

// tokenFetches is how many tokens the client has fetched so far.
func (b *bench) tokenFetches() int64 {
	if b.c.auth == nil {
		return 0
	}
	return b.c.auth.fetches()
}

func settings(o *options) map[string]string {
	return map[string]string{
		"scenarios":       o.scenarios,
		"blob_size":       fmt.Sprint(int64(o.blobSize)),
		"images":          fmt.Sprint(o.images),
		"layers":          fmt.Sprint(o.layers),
		"layer_size":      fmt.Sprint(int64(o.layerSize)),
		"push_clients":    fmt.Sprint(o.pushClients),
		"conns":           fmt.Sprint(o.conns),
		"client":          o.client,
		"duration":        o.duration.String(),
		"warmup":          o.warmup.String(),
		"repos":           fmt.Sprint(o.repos),
		"tags":            fmt.Sprint(o.tags),
		"setup_clients":   fmt.Sprint(o.setupClients),
		"tag_clients":     fmt.Sprint(o.tagClients),
		"seed":            fmt.Sprint(o.seed),
		"prefix":          o.prefix,
		"user":            o.user,
		"cpus":            fmt.Sprint(runtime.NumCPU()),
		"gc_blobs":        fmt.Sprint(o.gcBlobs),
		"gc_images":       fmt.Sprint(o.gcImages),
		"gc_clients":      fmt.Sprint(o.gcClients),
		"gc_mode":         gcMode(o),
		"repl_mode":       replMode(o),
		"repl_images":     fmt.Sprint(o.replImages),
		"repl_layers":     fmt.Sprint(o.replLayers),
		"repl_layer_size": fmt.Sprint(int64(o.replLayerSize)),
		"repl_poll":       o.replPoll.String(),
	}
}

// replMode names how the replication scenario replicates: client, berth,
// or none without a destination.
func replMode(o *options) string {
	if o.replDest == "" {
		return "none"
	}
	return o.replMode
}

// helperPIDs are the processes besides the server that a scenario runs
// (and whose CPU is therefore not another process's): the replication
// destination.
func (b *bench) helperPIDs(scenario string) []int {
	if scenario == "replication" && b.o.replDestPID > 0 {
		return []int{b.o.replDestPID}
	}
	return nil
}

// parallel runs fn(i) for i in [0,n) on workers goroutines; the first
// error cancels the rest and is returned.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// gcMode names how the gc scenario collects: online, offline or none.
func gcMode(o *options) string {
	switch {
	case o.gcAPI != "":
		return "online"
	case o.gcCmd != "":
		return "offline"
	}
	return "none"
}
