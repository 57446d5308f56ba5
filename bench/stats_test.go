package main

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even is lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is max", hundred, 100, 100 * time.Millisecond},
		{"p0 is min", hundred, 0, 1 * time.Millisecond},
		{"p99 of 10 is max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSortDurations(t *testing.T) {
	got := sortDurations([]time.Duration{3, 1, 2})
	if got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("sortDurations = %v", got)
	}
}

func TestNextLink(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:5000/v2/_catalog?n=100")
	tests := []struct {
		name    string
		header  string
		want    string // "" = no next link
		wantErr bool
	}{
		{"none", "", "", false},
		{"distribution style", `</v2/_catalog?last=a%2Fb&n=100>; rel="next"`, "http://127.0.0.1:5000/v2/_catalog?last=a%2Fb&n=100", false},
		{"unquoted rel", `</v2/_catalog?last=x&n=1>; rel=next`, "http://127.0.0.1:5000/v2/_catalog?last=x&n=1", false},
		{"absolute URL kept", `<http://other:1/v2/_catalog?last=x>; rel="next"`, "http://other:1/v2/_catalog?last=x", false},
		{"relative path resolved", `<_catalog?last=x>; rel="next"`, "http://127.0.0.1:5000/v2/_catalog?last=x", false},
		{"next among several", `</a>; rel="prev", </b?x=1,2>; rel="next"`, "http://127.0.0.1:5000/b?x=1,2", false},
		{"multi-valued rel", `</c>; rel="last next"`, "http://127.0.0.1:5000/c", false},
		{"only prev", `</a>; rel="prev"`, "", false},
		{"missing angle brackets", `/v2/_catalog; rel="next"`, "", true},
		{"unterminated", `</v2/_catalog; rel="next"`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok, err := nextLink(tt.header, base)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if ok != (tt.want != "") {
				t.Fatalf("ok = %v, want link %q", ok, tt.want)
			}
			if ok && u.String() != tt.want {
				t.Errorf("next = %q, want %q", u, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"123", 123, false},
		{"64KiB", 64 << 10, false},
		{"64k", 64 << 10, false},
		{"1GiB", 1 << 30, false},
		{"1g", 1 << 30, false},
		{"1.5MiB", 3 << 19, false},
		{" 2 MB ", 2 << 20, false},
		{"512b", 512, false},
		{"", 0, true},
		{"abc", 0, true},
		{"-1k", 0, true},
		{"1TiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSize(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{64 << 10, "64.0 KiB"},
		{1536 << 10, "1.5 MiB"},
		{1 << 30, "1.0 GiB"},
		{5 << 40, "5.0 TiB"},
		{5000 << 40, "5000.0 TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := formatBytes(tt.in); got != tt.want {
				t.Errorf("formatBytes(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMibPerSec(t *testing.T) {
	if got := mibPerSec(1<<30, 2*time.Second); got != 512 {
		t.Errorf("mibPerSec = %v, want 512", got)
	}
	if got := mibPerSec(1, 0); got != 0 {
		t.Errorf("mibPerSec with zero duration = %v, want 0", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields after comm: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime ...
	tail := " S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 8"
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "1234 (registry)" + tail, 175, false},
		{"comm with spaces and parens", "1234 (a (b) c)" + tail, 175, false},
		{"no paren", "1234 registry" + tail, 0, true},
		{"truncated", "1234 (x) S 1 2", 0, true},
		{"non-numeric utime", "1 (x) S 1 2 3 4 5 6 7 8 9 10 zz 25", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ticks = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tregistry\nVmHWM:\t   65536 kB\nVmRSS:\t   1024 kB\n"
	tests := []struct {
		field   string
		want    int64
		wantErr bool
	}{
		{"VmRSS", 1 << 20, false},
		{"VmHWM", 64 << 20, false},
		{"VmSwap", 0, true},
		{"Name", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			got, err := parseStatusKB(status, tt.field)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("%s = %d, want %d", tt.field, got, tt.want)
			}
		})
	}
}

func TestRatioAndVerdict(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name        string
		better      string
		ref, new    float64
		ts          []target
		wantRatio   float64
		wantVerdict string
	}{
		{"throughput 3x meets ≥3", "higher", 100, 300, []target{{minRatio: 3}}, 3, "ok"},
		{"throughput 2x misses ≥3", "higher", 100, 200, []target{{minRatio: 3}}, 2, "MISS"},
		{"latency quartered meets ≥4", "lower", 400, 100, []target{{minRatio: 4}}, 4, "ok"},
		{"slower time misses", "lower", 1, 2, []target{{minRatio: 2}}, 0.5, "MISS"},
		{"absolute bound met", "lower", 900, 60, []target{{maxValue: 60, maxIncl: true}}, 15, "ok"},
		{"strict bound at limit misses", "lower", 100, 64, []target{{maxValue: 64}}, 100.0 / 64, "MISS"},
		{"no target", "higher", 1, 2, nil, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := ratioOf(tt.better, tt.ref, tt.new)
			if !ok || r != tt.wantRatio {
				t.Fatalf("ratioOf = %v, %v, want %v", r, ok, tt.wantRatio)
			}
			if got := verdict(tt.ts, &r, f(tt.new)); got != tt.wantVerdict {
				t.Errorf("verdict = %q, want %q", got, tt.wantVerdict)
			}
		})
	}
	if _, ok := ratioOf("higher", 0, 5); ok {
		t.Error("ratio against a zero reference should be undefined")
	}
	if got := verdict([]target{{minRatio: 2}}, nil, nil); got != "n/a" {
		t.Errorf("verdict without values = %q, want n/a", got)
	}
}

func TestBuildRows(t *testing.T) {
	ref := &Report{Metrics: []Metric{
		{Key: "push.mibps", Scenario: "push", Name: "push", Value: 100, Unit: "MiB/s", Better: "higher"},
		{Key: "tags.tagging_s", Scenario: "tags", Name: "tag", Value: 10, Unit: "s", Better: "lower"},
	}}
	cand := &Report{Metrics: []Metric{
		{Key: "tags.tagging_s", Scenario: "tags", Name: "tag", Value: 2, Unit: "s", Better: "lower"},
		{Key: "extra.x", Scenario: "extra", Name: "x", Value: 1, Unit: "", Better: "higher"},
	}}
	rows := buildRows(ref, cand)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	if rows[0].new != nil || rows[0].ratio != nil || rows[0].verdict != "n/a" {
		t.Errorf("push row with no berth value: %+v", rows[0])
	}
	if rows[1].ratio == nil || *rows[1].ratio != 5 || rows[1].verdict != "ok" {
		t.Errorf("tagging row: ratio %v verdict %q, want 5 ok", rows[1].ratio, rows[1].verdict)
	}
	if rows[2].scenario != "extra" || rows[2].ref != nil {
		t.Errorf("candidate-only row: %+v", rows[2])
	}
	var sb strings.Builder
	ref.Settings = map[string]string{"blob_size": "1073741824", "cpus": "2"}
	writeMarkdown(&sb, table(rows, "reference", "berth"), ref, &Report{Label: "berth", Errors: []string{"a|b"}})
	if !strings.Contains(sb.String(), `**berth FAILED**: a\|b`) || !strings.Contains(sb.String(), "| 5.00× |") ||
		!strings.Contains(sb.String(), "blob 1.0 GiB") {
		t.Errorf("markdown missing failure or ratio:\n%s", sb.String())
	}
}

func TestCheckListing(t *testing.T) {
	want := []string{"p/a", "p/b", "p/c"}
	tests := []struct {
		name        string
		got         []string
		pages       int
		wantWarning bool
		wantErr     bool
	}{
		{"complete with others", []string{"o/x", "p/a", "p/b", "p/c", "q"}, 3, false, false},
		{"missing one", []string{"p/a", "p/c"}, 1, false, true},
		{"duplicate", []string{"p/a", "p/a", "p/b", "p/c"}, 1, false, true},
		{"unsorted single page warns", []string{"p/c", "p/a", "p/b"}, 1, true, false},
		{"unsorted across pages fails", []string{"p/c", "p/a", "p/b"}, 2, false, true},
		{"wrong entry", []string{"p/a", "p/b", "p/d"}, 1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warning, err := checkListing(tt.got, "p/", want, tt.pages)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if (warning != "") != tt.wantWarning {
				t.Errorf("warning = %q, want one: %v", warning, tt.wantWarning)
			}
		})
	}
}

func TestRandStreamDeterministic(t *testing.T) {
	read := func(seed [32]byte, n int64) []byte {
		b, err := io.ReadAll(newRandStream(seed, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := read(seedFor(1, 2), 100_000), read(seedFor(1, 2), 100_000)
	if len(a) != 100_000 || string(a) != string(b) {
		t.Fatalf("same seed gave different streams (len %d)", len(a))
	}
	if string(read(seedFor(1, 3), 100_000)) == string(a) {
		t.Fatal("different seeds gave the same stream")
	}
	// The bytes must not depend on how the stream is read.
	for _, chunk := range []int{1, 3, 7, 8, 13, 4096} {
		r := newRandStream(seedFor(1, 2), 100_000)
		var got []byte
		buf := make([]byte, chunk)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
		}
		if string(got) != string(a) {
			t.Fatalf("reading in %d-byte chunks gave a different stream", chunk)
		}
	}
	d1, err := streamDigest(seedFor(1, 2), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if d1 != newBlob(a).digest {
		t.Errorf("streamDigest %s != digest of the stream %s", d1, newBlob(a).digest)
	}
}

func TestParseOptionsQuick(t *testing.T) {
	o, err := parseOptions([]string{"-quick", "-repos", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.blobSize != 64<<20 || o.duration != 3*time.Second || o.repos != 7 {
		t.Errorf("quick: blob %d duration %s repos %d", o.blobSize, o.duration, o.repos)
	}
	if _, err := parseOptions([]string{"-scenarios", "push,nope"}, io.Discard); err == nil {
		t.Error("unknown scenario accepted")
	}
	full, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if full.blobSize != 1<<30 || full.conns != 64 || full.duration != 20*time.Second {
		t.Errorf("defaults: blob %d conns %d duration %s", full.blobSize, full.conns, full.duration)
	}
}

func TestRandStreamIncompressible(t *testing.T) {
	data := randBlob(seedFor(9), 1<<20).data
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	if buf.Len() < len(data) {
		t.Errorf("1 MiB of generated data deflated to %d bytes", buf.Len())
	}
}

func TestParseProcStatBusy(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"typical", "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n", 156, false},
		{"not cpu line", "intr 1 2 3\n", 0, true},
		{"short", "cpu 1 2 3\n", 0, true},
		{"garbage", "cpu 1 2 x 4 5 6 7 8\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatBusy(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("busy = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestForeignCores(t *testing.T) {
	t0 := time.Unix(0, 0)
	a := cpuSnapshot{at: t0, total: 10 * time.Second, server: 2 * time.Second, own: time.Second}
	b := cpuSnapshot{at: t0.Add(10 * time.Second), total: 25 * time.Second, server: 7 * time.Second, own: 6 * time.Second}
	if got := foreignCores(a, b); got != 0.5 {
		t.Errorf("foreignCores = %v, want 0.5", got)
	}
	if got := foreignCores(b, b); got != 0 {
		t.Errorf("foreignCores over no time = %v, want 0", got)
	}
}

func TestPipelinedSHA256(t *testing.T) {
	for _, n := range []int64{0, 1, 1 << 20, 3<<20 + 17} {
		want, err := streamDigest(seedFor(5, uint64(n)), n)
		if err != nil {
			t.Fatal(err)
		}
		sum, got, err := pipelinedSHA256(newRandStream(seedFor(5, uint64(n)), n))
		if err != nil || got != n {
			t.Fatalf("n=%d: read %d, err %v", n, got, err)
		}
		if d := "sha256:" + hex.EncodeToString(sum); d != want {
			t.Errorf("n=%d: digest %s, want %s", n, d, want)
		}
	}
}
