package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestParseGCResponse(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantBlobs int
		wantErr   string
	}{
		{"counts", `{"manifests":1,"links":2000,"blobs":2001,"bytes":5000000,"seconds":1.5,"dry_run":false}`, 2001, ""},
		{"unknown fields ignored", `{"blobs":3,"extra":true}`, 3, ""},
		{"dry run is no collection", `{"blobs":3,"dry_run":true}`, 0, "dry_run"},
		{"negative count", `{"blobs":-1}`, 0, "negative"},
		{"not JSON", `<html>oops</html>`, 0, "GC answer"},
		{"empty", ``, 0, "GC answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseGCResponse([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || r.Blobs != tt.wantBlobs {
				t.Fatalf("parseGCResponse = %+v, %v; want %d blobs", r, err, tt.wantBlobs)
			}
		})
	}
}

func TestParseCollectorOutput(t *testing.T) {
	many := strings.Repeat("blob eligible for deletion: sha256:abc\n", 1000)
	tests := []struct {
		name        string
		out         string
		wantBlobs   int
		wantSummary string
		wantTail    []string
	}{
		{
			"distribution 2.8",
			"bench/gc/keep0\nbench/gc/keep0: marking manifest sha256:1\n" + many +
				"\n158 blobs marked, 2000 blobs and 0 manifests eligible for deletion\n",
			2000, "158 blobs marked, 2000 blobs and 0 manifests eligible for deletion",
			[]string{"blob eligible for deletion: sha256:abc", "blob eligible for deletion: sha256:abc",
				"blob eligible for deletion: sha256:abc", "blob eligible for deletion: sha256:abc",
				"158 blobs marked, 2000 blobs and 0 manifests eligible for deletion"},
		},
		{
			"summary with a log prefix",
			`time="x" level=info msg="7 blobs marked, 12 blobs and 3 manifests eligible for deletion"`,
			12, `time="x" level=info msg="7 blobs marked, 12 blobs and 3 manifests eligible for deletion"`,
			[]string{`time="x" level=info msg="7 blobs marked, 12 blobs and 3 manifests eligible for deletion"`},
		},
		{
			"failure without summary",
			"failed to garbage collect: error enumerating blobs: filesystem: Path not found\n",
			-1, "", []string{"failed to garbage collect: error enumerating blobs: filesystem: Path not found"},
		},
		{"no output", "", -1, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blobs, summary, tail, err := parseCollectorOutput(strings.NewReader(tt.out))
			if err != nil {
				t.Fatal(err)
			}
			if blobs != tt.wantBlobs || summary != tt.wantSummary {
				t.Errorf("blobs %d summary %q, want %d %q", blobs, summary, tt.wantBlobs, tt.wantSummary)
			}
			if fmt.Sprint(tail) != fmt.Sprint(tt.wantTail) {
				t.Errorf("tail %q, want %q", tail, tt.wantTail)
			}
		})
	}
}

func TestParsePIDOutput(t *testing.T) {
	tests := []struct {
		out  string
		want int
	}{
		{"1234\n", 1234},
		{"starting registry\n  567  \n\n", 567},
		{"", 0},
		{"started\n", 0},
		{"0\n", 0},
		{"-5\n", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.out), func(t *testing.T) {
			got, err := parsePIDOutput(tt.out)
			if got != tt.want || (err == nil) != (tt.want > 0) {
				t.Errorf("parsePIDOutput = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestParseStatState(t *testing.T) {
	tests := []struct {
		stat, want string
		wantErr    bool
	}{
		{"4050 (docker-registry) S 1 4050 0 0", "S", false},
		{"77 (a) Z) Z 1 2 3", "Z", false},
		{"77 (weird name) R 1", "R", false},
		{"no parens", "", true},
		{"1 (x)", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.stat, func(t *testing.T) {
			got, err := parseStatState(tt.stat)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("parseStatState = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestExited(t *testing.T) {
	if exited(os.Getpid()) {
		t.Fatal("this process reported as exited")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if exited(pid) {
		t.Fatal("running child reported as exited")
	}
	_ = cmd.Process.Kill()
	// Not reaped yet: a zombie counts as exited.
	deadline := time.Now().Add(5 * time.Second)
	for !exited(pid) {
		if time.Now().After(deadline) {
			t.Fatal("killed child (zombie) never reported as exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if !exited(pid) {
		t.Error("reaped child not reported as exited")
	}
}

func TestSampleIndices(t *testing.T) {
	tests := []struct {
		n, k int
		want string // "" when only the shape is checked
	}{
		{0, 5, "[]"},
		{10, 0, "[]"},
		{3, 5, "[0 1 2]"},
		{10, 1, "[0]"},
		{10, 2, "[0 9]"},
		{10, 4, "[0 3 6 9]"},
		{100000, 200, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d", tt.k, tt.n), func(t *testing.T) {
			got := sampleIndices(tt.n, tt.k)
			if tt.want != "" {
				if fmt.Sprint(got) != tt.want && !(tt.want == "[]" && len(got) == 0) {
					t.Errorf("sampleIndices = %v, want %s", got, tt.want)
				}
				return
			}
			if len(got) != tt.k || got[0] != 0 || got[len(got)-1] != tt.n-1 {
				t.Fatalf("sampleIndices(%d, %d): len %d, first %d, last %d", tt.n, tt.k, len(got), got[0], got[len(got)-1])
			}
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("not increasing at %d: %d after %d", i, got[i], got[i-1])
				}
			}
		})
	}
}

func TestGCData(t *testing.T) {
	seen := map[string]bool{}
	for i := range 500 {
		b := junkBlob(1, i)
		if n := len(b.data); n < gcMinBlob || n > gcMaxBlob {
			t.Fatalf("blob %d: %d bytes, want 1–4 KiB", i, n)
		}
		if seen[b.digest] {
			t.Fatalf("blob %d repeats a digest", i)
		}
		seen[b.digest] = true
		if i == 7 && junkBlob(1, 7).digest != b.digest {
			t.Fatal("junkBlob is not deterministic")
		}
	}
	if junkBlob(1, 0).digest == junkBlob(2, 0).digest {
		t.Error("the seed does not change the blobs")
	}
	imgs := gcKeptImages(1, 20)
	layers, manifests := map[string]int{}, map[string]bool{}
	for _, img := range imgs {
		manifests[img.manifest.digest] = true
		for _, l := range img.layers {
			layers[l.digest]++
		}
	}
	if len(manifests) != 20 {
		t.Errorf("%d distinct manifests, want 20", len(manifests))
	}
	if len(layers) != gcSharedLayers+20 {
		t.Errorf("%d distinct layers, want %d shared + 20 own", len(layers), gcSharedLayers)
	}
	shared := 0
	for _, n := range layers {
		if n > 1 {
			shared++
		}
	}
	if shared != gcSharedLayers {
		t.Errorf("%d layers used by several images, want %d", shared, gcSharedLayers)
	}
}

func TestParseOptionsGC(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(o *options) error
	}{
		{"defaults", nil, "", func(o *options) error {
			if o.gcBlobs != 100000 || o.gcImages != 50 || o.gcClients != 32 || gcMode(o) != "none" {
				return fmt.Errorf("blobs %d images %d clients %d mode %s", o.gcBlobs, o.gcImages, o.gcClients, gcMode(o))
			}
			return nil
		}},
		{"quick scales the blobs down", []string{"-quick"}, "", func(o *options) error {
			if o.gcBlobs != 2000 {
				return fmt.Errorf("gc-blobs %d, want 2000", o.gcBlobs)
			}
			return nil
		}},
		{"explicit count wins over quick", []string{"-quick", "-gc-blobs", "50"}, "", func(o *options) error {
			if o.gcBlobs != 50 {
				return fmt.Errorf("gc-blobs %d, want 50", o.gcBlobs)
			}
			return nil
		}},
		{"online", []string{"-gc-api", "/api/v1/system/gc", "-gc-grace", "2s"}, "", func(o *options) error {
			if gcMode(o) != "online" || o.gcGrace != 2*time.Second {
				return fmt.Errorf("mode %s grace %s", gcMode(o), o.gcGrace)
			}
			return nil
		}},
		{"offline", []string{"-pid", "42", "-gc-cmd", "gc x", "-gc-restart", "sh r.sh"}, "", func(o *options) error {
			if gcMode(o) != "offline" {
				return fmt.Errorf("mode %s", gcMode(o))
			}
			return nil
		}},
		{"both ways", []string{"-pid", "42", "-gc-api", "/gc", "-gc-cmd", "x", "-gc-restart", "y"}, "exclude", nil},
		{"api not a path", []string{"-gc-api", "http://x/gc"}, "path", nil},
		{"offline without restart", []string{"-pid", "42", "-gc-cmd", "x"}, "-gc-restart", nil},
		{"restart without offline", []string{"-gc-restart", "y"}, "goes with", nil},
		{"offline without pid", []string{"-gc-cmd", "x", "-gc-restart", "y"}, "-pid", nil},
		{"zero blobs", []string{"-gc-blobs", "0"}, "positive", nil},
		{"negative grace", []string{"-gc-grace", "-1s"}, "positive", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(o); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGCRowsAndLine(t *testing.T) {
	gcMetrics := func(collect, rss float64) []Metric {
		return []Metric{
			{Key: "gc.collect_s", Scenario: "gc", Name: "GC", Value: collect, Unit: "s", Better: "lower"},
			{Key: "gc.peak_rss_mib", Scenario: "gc", Name: "collector peak RSS", Value: rss, Unit: "MiB", Better: "lower"},
			{Key: "gc.removed_blobs", Scenario: "gc", Name: "removed", Value: 100, Unit: "blobs", Better: "info"},
		}
	}
	ref := &Report{Label: "reference", Metrics: gcMetrics(30, 120),
		Settings: map[string]string{"gc_mode": "offline", "gc_blobs": "100000", "gc_clients": "32", "gc_images": "50"}}
	cand := &Report{Label: "berth", Metrics: gcMetrics(10, 60), Settings: map[string]string{"gc_mode": "online"}}
	rows := buildRows(ref, cand)
	tests := []struct {
		row       int
		wantRatio float64 // 0: none
	}{
		{0, 3}, // time: reference / berth
		{1, 2}, // RSS: reference / berth
		{2, 0}, // info: no ratio
	}
	for _, tt := range tests {
		t.Run(rows[tt.row].name, func(t *testing.T) {
			r := rows[tt.row].ratio
			switch {
			case tt.wantRatio == 0 && r != nil:
				t.Errorf("ratio %v, want none", *r)
			case tt.wantRatio != 0 && (r == nil || *r != tt.wantRatio):
				t.Errorf("ratio %v, want %v", r, tt.wantRatio)
			}
		})
	}

	lines := []struct {
		name      string
		ref, cand *Report
		want      []string // substrings; nil: no line
	}{
		{"both collected", ref, cand, []string{"reference: offline", "berth: online", "collection only"}},
		{"no gc metrics", &Report{Label: "a"}, &Report{Label: "b"}, nil},
		{"mode not recorded", &Report{Label: "a", Metrics: gcMetrics(1, 1)}, &Report{Label: "b"}, []string{"a: not recorded", "b: not recorded"}},
	}
	for _, tt := range lines {
		t.Run(tt.name, func(t *testing.T) {
			checkLine(t, "gcLine", gcLine(tt.ref, tt.cand), tt.want, nil)
		})
	}
}

func TestSettingsLine(t *testing.T) {
	base := map[string]string{"cpus": "2", "blob_size": "1073741824", "images": "200", "layers": "10",
		"layer_size": "65536", "push_clients": "8", "conns": "64", "client": "std", "duration": "20s",
		"repos": "5000", "tags": "5000", "gc_blobs": "100000", "gc_clients": "32", "gc_images": "50"}
	tests := []struct {
		name        string
		scenarios   string
		want, avoid []string
	}{
		{"gc only", "gc", []string{"GC of 100000 unreferenced blobs", "32 clients", "50 images kept"},
			[]string{"blob 1.0 GiB", "repositories", "connections"}},
		{"all", "push,pull,small,manifest,head,catalog,tags,gc",
			[]string{"blob 1.0 GiB", "200 images × 10 × 64.0 KiB by 8 clients", "64 connections (std client) for 20s",
				"5000 repositories", "5000 tags", "GC of 100000"}, nil},
		{"older report without scenarios", "", []string{"blob 1.0 GiB", "5000 tags"}, nil},
		{"head only", "head", []string{"64 connections"}, []string{"GC", "blob", "tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := map[string]string{"scenarios": tt.scenarios}
			for k, v := range base {
				st[k] = v
			}
			got := settingsLine(&Report{Settings: st})
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("settingsLine = %q, missing %q", got, w)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(got, a) {
					t.Errorf("settingsLine = %q, should not mention %q", got, a)
				}
			}
		})
	}
	if got := settingsLine(&Report{}); got != "" {
		t.Errorf("settingsLine without settings = %q", got)
	}
}

// gcTestBench is a bench against a test server.
func gcTestBench(t *testing.T, srv *httptest.Server, o *options) *bench {
	t.Helper()
	o.addr = strings.TrimPrefix(srv.URL, "http://")
	o.wait, o.rssEvery = 5*time.Second, 10*time.Millisecond
	c, err := newClient(o.addr, 4, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return &bench{o: o, c: c, long: c.withoutTimeout(), log: io.Discard, report: &Report{}}
}

func TestCollectOnline(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantBlobs int
		wantErr   string
	}{
		{"ok", 200, `{"manifests":0,"links":5,"blobs":5,"bytes":100,"seconds":0.1}`, 5, ""},
		{"busy", 409, `{"errors":[{"code":"BUSY"}]}`, 0, "409"},
		{"dry", 200, `{"blobs":5,"dry_run":true}`, 0, "dry_run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth, gotMethod string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotMethod = r.Method + " " + r.URL.Path
				if u, p, ok := r.BasicAuth(); ok {
					gotAuth = u + ":" + p
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			b := gcTestBench(t, srv, &options{gcAPI: "/api/v1/system/gc", user: "admin", password: "pw", pid: os.Getpid()})
			probed := 0
			c, err := b.collectOnline(context.Background(), func(context.Context) error { probed++; return nil })
			if gotMethod != "POST /api/v1/system/gc" || gotAuth != "admin:pw" {
				t.Errorf("request %q with credentials %q", gotMethod, gotAuth)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.blobs != tt.wantBlobs || c.peakRSS <= 0 || c.rssBefore <= 0 || c.elapsed <= 0 || c.probes != probed {
				t.Errorf("collection %+v (probed %d)", c, probed)
			}
		})
	}
}

// TestCollectOffline runs the offline hook end to end with stand-ins: a
// sleeping child as the "server", a shell collector that prints
// Distribution's summary, and a restart command that starts another
// sleeper and prints its PID.
func TestCollectOffline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	tests := []struct {
		name      string
		collector string
		wantBlobs int
		wantErr   string
	}{
		{"summary", `echo marking; echo "3 blobs marked, 7 blobs and 0 manifests eligible for deletion"`, 7, ""},
		{"collector fails", `echo "failed to garbage collect: boom"; exit 1`, 0, "boom"},
		{"no summary", `echo done`, 0, "no summary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := exec.Command("sleep", "60")
			if err := server.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { _ = server.Wait() }()
			pidFile := dir + "/pid-" + strings.ReplaceAll(tt.name, " ", "-")
			restart := fmt.Sprintf(`sleep 60 >/dev/null 2>&1 </dev/null & echo $! >%s; echo restarted; echo $!`, pidFile)
			b := gcTestBench(t, srv, &options{pid: server.Process.Pid, gcCmd: tt.collector, gcRestart: restart})
			c, err := b.collectOffline(context.Background())
			newPID := b.o.pid
			if newPID == server.Process.Pid {
				t.Error("the bench did not switch to the restarted server's PID")
			} else {
				t.Cleanup(func() { _ = syscallKill(newPID) })
				if data, _ := os.ReadFile(pidFile); strings.TrimSpace(string(data)) != fmt.Sprint(newPID) {
					t.Errorf("new PID %d, restart command wrote %q", newPID, data)
				}
			}
			if !exited(server.Process.Pid) {
				t.Error("the old server was not stopped")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.blobs != tt.wantBlobs || c.peakRSS <= 0 || c.elapsed <= 0 || c.down < c.elapsed {
				t.Errorf("collection %+v", c)
			}
		})
	}
}

func TestRunProbes(t *testing.T) {
	tests := []struct {
		name       string
		failAt     int // 0: never
		wantErr    bool
		wantProbes int // minimum
	}{
		{"all served", 0, false, 2},
		{"a failure ends it", 2, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
			defer cancel()
			n := 0
			var c collection
			err := runProbes(ctx, func(context.Context) error {
				n++
				if n == tt.failAt {
					return fmt.Errorf("probe %d failed", n)
				}
				return nil
			}, &c)
			if (err != nil) != tt.wantErr || c.probes < tt.wantProbes {
				t.Errorf("err %v, %d probes; want error %v, at least %d probes", err, c.probes, tt.wantErr, tt.wantProbes)
			}
		})
	}
}

// syscallKill ends a stand-in server started by a restart command.
func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
