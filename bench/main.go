package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings of one benchmark run.
type options struct {
	addr, label, scenarios, prefix string
	client                         string
	user, password                 string
	pid                            int
	jsonOut, quick                 bool
	seed                           uint64

	blobSize, layerSize             byteSize
	images, layers, pushClients     int
	conns                           int
	duration, warmup                time.Duration
	repos, tags                     int
	setupClients, tagClients        int
	wait, timeout, rssEvery, budget time.Duration

	gcBlobs, gcImages, gcClients int
	gcAPI, gcCmd, gcRestart      string
	gcGrace                      time.Duration

	replDest, replMode     string
	replDestPID            int
	replImages, replLayers int
	replLayerSize          byteSize
	replPoll, replTimeout  time.Duration
}

var allScenarios = []string{"push", "pull", "small", "manifest", "head", "catalog", "tags", "gc", "replication"}

// quickDefaults are applied by -quick to every flag not set explicitly.
var quickDefaults = map[string]string{
	"blob-size":   "64MiB",
	"images":      "40",
	"duration":    "3s",
	"warmup":      "300ms",
	"repos":       "300",
	"tags":        "300",
	"gc-blobs":    "2000",
	"repl-images": "5",
}

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:5000", "registry host:port (plain HTTP)")
	fs.IntVar(&o.pid, "pid", 0, "PID of the registry process, for RSS and CPU sampling (0 = none)")
	fs.StringVar(&o.label, "label", "registry", "name of the registry in the report")
	fs.StringVar(&o.user, "user", "", "user name for a registry that asks for authentication (empty: none); tokens are fetched as docker does")
	fs.StringVar(&o.password, "password", "", "password of -user")
	fs.BoolVar(&o.jsonOut, "json", false, "write the report as JSON on stdout (progress goes to stderr)")
	fs.StringVar(&o.scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios to run")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: scale sizes, counts and durations down")
	fs.StringVar(&o.prefix, "prefix", "bench", "repository name prefix (use a new one to rerun on a used registry)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of all generated content")
	o.blobSize = 1 << 30
	fs.Var(&o.blobSize, "blob-size", "size of the big blob (push/pull)")
	o.layerSize = 64 << 10
	fs.Var(&o.layerSize, "layer-size", "size of each small-image layer")
	fs.IntVar(&o.images, "images", 200, "small images to push")
	fs.IntVar(&o.layers, "layers", 10, "layers per small image")
	fs.IntVar(&o.pushClients, "push-clients", 8, "concurrent clients pushing small images")
	fs.StringVar(&o.client, "client", "std", "HTTP client of the manifest/head load: std (net/http) or raw (minimal HTTP/1.1, less client CPU)")
	fs.IntVar(&o.conns, "conns", 64, "concurrent connections for manifest GET / blob HEAD")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of manifest GET / blob HEAD")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before manifest GET / blob HEAD")
	fs.IntVar(&o.repos, "repos", 5000, "repositories created for catalog paging")
	fs.IntVar(&o.tags, "tags", 5000, "tags created in one repository for tag-list paging")
	fs.IntVar(&o.setupClients, "setup-clients", 16, "concurrent clients creating the catalog repositories")
	fs.IntVar(&o.tagClients, "tag-clients", 8, "concurrent clients tagging (timed)")
	fs.IntVar(&o.gcBlobs, "gc-blobs", 100000, "unreferenced blobs (1–4 KiB) pushed for the gc scenario")
	fs.IntVar(&o.gcImages, "gc-images", 50, "images (with shared layers) the gc scenario's collection must keep")
	fs.IntVar(&o.gcClients, "gc-clients", 32, "concurrent clients pushing the gc scenario's blobs")
	fs.StringVar(&o.gcAPI, "gc-api", "", "online GC: POST this path (e.g. /api/v1/system/gc) with -user/-password as Basic credentials")
	fs.StringVar(&o.gcCmd, "gc-cmd", "", "offline GC: stop -pid, run this command (sh -c; timed, its peak RSS measured), then -gc-restart")
	fs.StringVar(&o.gcRestart, "gc-restart", "", "offline GC: command (sh -c) that starts the registry again and prints its PID on the last line")
	fs.DurationVar(&o.gcGrace, "gc-grace", 0, "wait this long after the gc scenario's last push before collecting (the registry's GC grace period)")
	fs.StringVar(&o.replDest, "repl-dest", "", "replication: destination registry host:port (plain HTTP, no authentication); without it the scenario is skipped")
	fs.IntVar(&o.replDestPID, "repl-dest-pid", 0, "replication: PID of the destination registry, whose CPU is then not counted as other processes' (0 = none)")
	fs.StringVar(&o.replMode, "repl-mode", "client", "replication: client (the bench copies each image right after its push, as crane copy would) or berth (berth's push replication policy with the event trigger, added with -user/-password)")
	fs.IntVar(&o.replImages, "repl-images", 20, "replication: images pushed one at a time")
	fs.IntVar(&o.replLayers, "repl-layers", 3, "replication: layers per image")
	o.replLayerSize = 1 << 20
	fs.Var(&o.replLayerSize, "repl-layer-size", "replication: size of each layer")
	fs.DurationVar(&o.replPoll, "repl-poll", 5*time.Millisecond, "replication, berth mode: how often the destination is asked for the pushed manifest")
	fs.DurationVar(&o.replTimeout, "repl-timeout", time.Minute, "replication: longest wait for one image to arrive before the scenario fails")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "how long to wait for GET /v2/ to answer 200")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "timeout of each small request")
	fs.DurationVar(&o.rssEvery, "rss-interval", 50*time.Millisecond, "VmRSS sampling interval")
	fs.DurationVar(&o.budget, "budget", 30*time.Minute, "hard limit on the whole run")
	return fs
}

// parseOptions parses args and applies -quick to unset flags.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickDefaults {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	if (o.user == "") != (o.password == "") {
		return nil, fmt.Errorf("-user and -password go together")
	}
	if o.client != "std" && o.client != "raw" {
		return nil, fmt.Errorf("-client must be std or raw, not %q", o.client)
	}
	for _, s := range splitList(o.scenarios) {
		if !contains(allScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ","))
		}
	}
	if o.blobSize <= 0 || o.layerSize <= 0 || o.images <= 0 || o.conns <= 0 || o.pushClients <= 0 ||
		o.repos <= 0 || o.tags <= 0 || o.setupClients <= 0 || o.tagClients <= 0 || o.duration <= 0 ||
		o.gcBlobs <= 0 || o.gcImages <= 0 || o.gcClients <= 0 || o.gcGrace < 0 {
		return nil, fmt.Errorf("sizes, counts and durations must be positive")
	}
	if err := checkGCHooks(o); err != nil {
		return nil, err
	}
	if err := checkReplication(o); err != nil {
		return nil, err
	}
	return o, nil
}

// checkGCHooks validates the gc scenario's way to collect: online or
// offline, not both; offline needs the restart command and the PID to stop.
func checkGCHooks(o *options) error {
	switch {
	case o.gcAPI != "" && o.gcCmd != "":
		return fmt.Errorf("-gc-api and -gc-cmd exclude each other")
	case o.gcAPI != "" && !strings.HasPrefix(o.gcAPI, "/"):
		return fmt.Errorf("-gc-api is a path on -addr, starting with /, not %q", o.gcAPI)
	case o.gcCmd != "" && o.gcRestart == "":
		return fmt.Errorf("-gc-cmd needs -gc-restart (the registry is stopped while it runs)")
	case o.gcRestart != "" && o.gcCmd == "":
		return fmt.Errorf("-gc-restart goes with -gc-cmd")
	case o.gcCmd != "" && o.pid <= 0:
		return fmt.Errorf("-gc-cmd needs -pid: the registry is stopped by its PID before the collector runs")
	}
	return nil
}

// checkReplication validates the replication scenario's settings.
func checkReplication(o *options) error {
	if !contains(replModes, o.replMode) {
		return fmt.Errorf("-repl-mode must be client or berth, not %q", o.replMode)
	}
	if o.replImages <= 0 || o.replLayers <= 0 || o.replLayerSize <= 0 || o.replPoll <= 0 || o.replTimeout <= 0 || o.replDestPID < 0 {
		return fmt.Errorf("-repl-images, -repl-layers, -repl-layer-size, -repl-poll and -repl-timeout must be positive")
	}
	if o.replDest == "" {
		return nil
	}
	if host, port, err := net.SplitHostPort(o.replDest); err != nil || host == "" || port == "" {
		return fmt.Errorf("-repl-dest is host:port, not %q", o.replDest)
	}
	if o.replDest == o.addr {
		return fmt.Errorf("-repl-dest must be another registry than -addr")
	}
	if o.replMode == "berth" && o.user == "" {
		return fmt.Errorf("-repl-mode berth needs -user and -password (a system admin adds the replication policy)")
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "compare":
			if err := runCompare(os.Args[2:], os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "bench compare:", err)
				os.Exit(1)
			}
			return
		case "freeport":
			port, err := freePort()
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench freeport:", err)
				os.Exit(1)
			}
			fmt.Println(port)
			return
		}
	}
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.budget)
	defer cancel()

	rep := run(ctx, o, os.Stderr)
	if o.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if len(rep.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "\nbench: %d scenario(s) FAILED against %s:\n", len(rep.Errors), o.label)
		for _, e := range rep.Errors {
			fmt.Fprintln(os.Stderr, "  FAIL", e)
		}
		os.Exit(1)
	}
}

// freePort asks the kernel for an unused loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
