package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// target is the goal berth is held to for one metric: either a minimum
// ratio to the reference (oriented so >1 is better) or an absolute bound on
// berth's own value.
type target struct {
	minRatio float64 // ratio >= minRatio
	maxValue float64 // berth value < maxValue (strict), when > 0
	maxIncl  bool    // maxValue is inclusive (<=)
	text     string
}

// targets are the project's performance goals (ratio to the reference).
var targets = map[string][]target{
	"push.mibps":              {{minRatio: 3, text: "≥3×"}},
	"pull.mibps":              {{minRatio: 1.3, text: "≥1.3×"}},
	"small.images_per_s":      {{minRatio: 5, text: "≥5×"}},
	"manifest.rps":            {{minRatio: 7, text: "≥7×"}},
	"manifest.p99_us":         {{minRatio: 4, text: "≤¼ of ref (≥4×)"}},
	"manifest.cpu_us_per_req": {{maxValue: 60, maxIncl: true, text: "≤60 µs"}},
	"head.rps":                {{minRatio: 7, text: "≥7×"}},
	"catalog.page100_ms":      {{minRatio: 20, text: "≥20× faster"}},
	"tags.tagging_s":          {{minRatio: 2, text: "≥2× faster"}},
	"push.peak_rss_mib":       {{maxValue: 64, text: "<64 MiB"}},
}

// row is one line of the comparison table.
type row struct {
	scenario, name, unit string
	ref, new             *float64
	ratio                *float64
	target, verdict      string
}

// ratioOf orients a comparison so that > 1 always means new is better:
// new/ref for higher-is-better metrics, ref/new for lower-is-better ones.
func ratioOf(better string, ref, new float64) (float64, bool) {
	switch better {
	case "higher":
		if ref <= 0 {
			return 0, false
		}
		return new / ref, true
	case "lower":
		if new <= 0 {
			return 0, false
		}
		return ref / new, true
	}
	return 0, false
}

// verdict says whether the targets for key are met.
func verdict(ts []target, ratio *float64, newVal *float64) string {
	if len(ts) == 0 {
		return ""
	}
	for _, t := range ts {
		switch {
		case t.maxValue > 0:
			if newVal == nil {
				return "n/a"
			}
			if *newVal > t.maxValue || (!t.maxIncl && *newVal == t.maxValue) {
				return "MISS"
			}
		default:
			if ratio == nil {
				return "n/a"
			}
			if *ratio < t.minRatio {
				return "MISS"
			}
		}
	}
	return "ok"
}

// buildRows pairs the metrics of two reports by key, in the reference's
// order, then any keys only the candidate has.
func buildRows(ref, cand *Report) []row {
	type pair struct {
		m        Metric
		ref, new *float64
	}
	var order []string
	pairs := map[string]*pair{}
	add := func(ms []Metric, isRef bool) {
		for _, m := range ms {
			p, ok := pairs[m.Key]
			if !ok {
				p = &pair{m: m}
				pairs[m.Key] = p
				order = append(order, m.Key)
			}
			v := m.Value
			if isRef {
				p.ref = &v
			} else {
				p.new = &v
			}
		}
	}
	add(ref.Metrics, true)
	add(cand.Metrics, false)
	rows := make([]row, 0, len(order))
	for _, k := range order {
		p := pairs[k]
		r := row{scenario: p.m.Scenario, name: p.m.Name, unit: p.m.Unit, ref: p.ref, new: p.new}
		if p.ref != nil && p.new != nil {
			if v, ok := ratioOf(p.m.Better, *p.ref, *p.new); ok {
				r.ratio = &v
			}
		}
		var texts []string
		for _, t := range targets[k] {
			texts = append(texts, t.text)
		}
		r.target = strings.Join(texts, ", ")
		r.verdict = verdict(targets[k], r.ratio, r.new)
		rows = append(rows, r)
	}
	return rows
}

func fmtNum(v *float64) string {
	if v == nil {
		return "—"
	}
	a := math.Abs(*v)
	switch {
	case a >= 1000:
		return fmt.Sprintf("%.0f", *v)
	case a >= 100:
		return fmt.Sprintf("%.1f", *v)
	default:
		return fmt.Sprintf("%.2f", *v)
	}
}

func fmtRatio(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f×", *v)
}

// table renders rows as cells: header first.
func table(rows []row, refLabel, newLabel string) [][]string {
	out := [][]string{{"scenario", "metric", "unit", refLabel, newLabel, "ratio", "target", "met"}}
	for _, r := range rows {
		out = append(out, []string{r.scenario, r.name, r.unit, fmtNum(r.ref), fmtNum(r.new), fmtRatio(r.ratio), r.target, r.verdict})
	}
	return out
}

const ratioNote = "ratio > 1 means berth is better: berth/reference for throughput (MiB/s, images/s, req/s); " +
	"reference/berth for latency, time, CPU and RSS. Absolute targets (CPU/req, RSS) apply to berth's own value."

func writeText(w io.Writer, cells [][]string) {
	widths := make([]int, len(cells[0]))
	for _, r := range cells {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for n, r := range cells {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			total := 0
			for _, wd := range widths {
				total += wd + 2
			}
			fmt.Fprintln(w, strings.Repeat("-", total-2))
		}
	}
}

func writeMarkdown(w io.Writer, cells [][]string, ref, cand *Report) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for n, r := range cells {
		parts := make([]string, len(r))
		for i, c := range r {
			parts[i] = esc(c)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(parts, " | "))
		if n == 0 {
			fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(r)))
		}
	}
	fmt.Fprintf(w, "\n%s\n", ratioNote)
	if line := settingsLine(ref, cand); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	if line := authLine(ref, cand); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	if line := gcLine(ref, cand); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	if line := replLine(ref, cand); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	if line := ceilingLine(ref, cand); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	for _, rep := range []*Report{ref, cand} {
		for _, e := range rep.Errors {
			fmt.Fprintf(w, "\n- **%s FAILED**: %s", rep.Label, esc(e))
		}
		for _, e := range rep.Warnings {
			fmt.Fprintf(w, "\n- %s warning: %s", rep.Label, esc(e))
		}
	}
	fmt.Fprintln(w)
}

// settingsLine describes the run from whichever report has settings: the
// sizes of the scenarios it ran (all of them for reports that do not
// record which).
func settingsLine(reps ...*Report) string {
	for _, r := range reps {
		st := r.Settings
		if len(st) == 0 {
			continue
		}
		size := func(k string) string {
			n, err := parseSize(st[k])
			if err != nil {
				return st[k]
			}
			return formatBytes(n)
		}
		ran := func(names ...string) bool {
			if st["scenarios"] == "" {
				return true
			}
			for _, n := range names {
				if contains(splitList(st["scenarios"]), n) {
					return true
				}
			}
			return false
		}
		var parts []string
		if ran("push", "pull") {
			parts = append(parts, "blob "+size("blob_size"))
		}
		if ran("small") {
			parts = append(parts, fmt.Sprintf("%s images × %s × %s by %s clients",
				st["images"], st["layers"], size("layer_size"), st["push_clients"]))
		}
		if ran("manifest", "head") {
			parts = append(parts, fmt.Sprintf("%s connections (%s client) for %s", st["conns"], st["client"], st["duration"]))
		}
		if ran("catalog") {
			parts = append(parts, st["repos"]+" repositories")
		}
		if ran("tags") {
			parts = append(parts, st["tags"]+" tags")
		}
		if ran("gc") && st["gc_blobs"] != "" {
			parts = append(parts, fmt.Sprintf("GC of %s unreferenced blobs of 1–4 KiB (pushed by %s clients) with %s images kept",
				st["gc_blobs"], st["gc_clients"], st["gc_images"]))
		}
		if ran("replication") && st["repl_images"] != "" {
			parts = append(parts, fmt.Sprintf("replication of %s images × %s × %s, one at a time",
				st["repl_images"], st["repl_layers"], size("repl_layer_size")))
		}
		return fmt.Sprintf("Measured %s on %s CPUs (client and server on the same machine): %s.",
			r.Started.Format("2006-01-02 15:04 MST"), st["cpus"], strings.Join(parts, "; "))
	}
	return ""
}

// authModes names the bench's -json "auth" settings.
var authModes = map[string]string{
	"none":   "no authentication",
	"bearer": "Bearer tokens (fetched per repository and cached, as docker does)",
	"basic":  "Basic credentials on every request",
}

// authLine says how the client authenticated to each registry, when any
// report records it.
func authLine(reps ...*Report) string {
	var parts []string
	authed := false
	for _, r := range reps {
		mode := r.Settings["auth"]
		if mode != "" && mode != "none" {
			authed = true
		}
		text, ok := authModes[mode]
		if !ok {
			text = "not recorded"
		}
		if u := r.Settings["user"]; u != "" && mode != "none" {
			text += " as " + u
		}
		parts = append(parts, r.Label+": "+text)
	}
	if !authed {
		return ""
	}
	return "Authentication: " + strings.Join(parts, "; ") + "."
}

// gcModes names the bench's -json "gc_mode" settings.
var gcModes = map[string]string{
	"online":  "online (the server collects while it serves; its RSS is the collector's)",
	"offline": "offline (server stopped, a separate collector process, then restarted)",
	"none":    "not run",
}

// gcLine says how each registry collected garbage, when a report has gc
// metrics.
func gcLine(reps ...*Report) string {
	ran := false
	for _, r := range reps {
		for _, m := range r.Metrics {
			ran = ran || m.Scenario == "gc"
		}
	}
	if !ran {
		return ""
	}
	var parts []string
	for _, r := range reps {
		text, ok := gcModes[r.Settings["gc_mode"]]
		if !ok {
			text = "not recorded"
		}
		parts = append(parts, r.Label+": "+text)
	}
	return "GC: " + strings.Join(parts, "; ") + ". GC time is the collection only."
}

// replModeText describes the bench's -json "repl_mode" settings; %s is
// the destination polling interval.
var replModeText = map[string]string{
	"client": "no replication of its own: the bench copies each image as a client would (crane copy), starting the moment the push is acknowledged",
	"berth":  "berth's push replication (a policy with the event trigger, default settings); arrival seen by polling the destination every %s",
	"none":   "not run",
}

// replLine says how each registry replicated, when a report has
// replication metrics.
func replLine(reps ...*Report) string {
	ran := false
	for _, r := range reps {
		for _, m := range r.Metrics {
			ran = ran || m.Scenario == "replication"
		}
	}
	if !ran {
		return ""
	}
	var parts []string
	for _, r := range reps {
		text, ok := replModeText[r.Settings["repl_mode"]]
		if !ok {
			text = "not recorded"
		}
		if strings.Contains(text, "%s") {
			text = fmt.Sprintf(text, r.Settings["repl_poll"])
		}
		parts = append(parts, r.Label+": "+text)
	}
	return "Replication to a second docker-registry: " + strings.Join(parts, "; ") +
		". Lag is from the push's manifest PUT answer to the image being servable at the destination."
}

// ceilingLine says how fast the pull could be at best: the rate the
// bench's verifying client reads from a server that writes from memory,
// measured in the candidate's slot (the reference's when the candidate has
// none), over the reference's pull.
func ceilingLine(ref, cand *Report) string {
	pull, ok := metricValue(ref, "pull.mibps")
	if !ok || pull <= 0 {
		return ""
	}
	ceiling, ok := metricValue(cand, "pull.ceiling_mibps")
	slot := cand.Label
	if !ok {
		ceiling, ok = metricValue(ref, "pull.ceiling_mibps")
		slot = ref.Label
	}
	if !ok {
		return ""
	}
	line := fmt.Sprintf("Pull ceiling: the bench's verifying client reads %.0f MiB/s from a server inside the bench that writes from memory (%s's slot); "+
		"with %s pulling at %.0f MiB/s, no registry can reach more than %.2f× in this run.", ceiling, slot, ref.Label, pull, ceiling/pull)
	for _, t := range targets["pull.mibps"] {
		if t.minRatio > 0 && ceiling/pull < t.minRatio {
			line += fmt.Sprintf(" The %s target is out of reach here.", t.text)
		}
	}
	return line
}

// metricValue is the value of metric key in r.
func metricValue(r *Report, key string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Key == key {
			return m.Value, true
		}
	}
	return 0, false
}

// loadReport reads a -json report; a missing or broken one becomes an empty
// report carrying the error, so the table still prints.
func loadReport(path, label string) *Report {
	rep := &Report{Label: label}
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, rep)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("no usable report (%v)", err))
	}
	rep.Label = label
	return rep
}

// runCompare implements "bench compare -ref A.json -new B.json [-md out.md]".
func runCompare(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	refPath := fs.String("ref", "", "reference registry's -json report")
	newPath := fs.String("new", "", "berth's -json report")
	refLabel := fs.String("ref-label", "reference", "column name of the reference")
	newLabel := fs.String("new-label", "berth", "column name of berth")
	md := fs.String("md", "", "also write the table as Markdown to this file")
	noTargets := fs.Bool("no-targets", false, "leave out the target columns (for comparisons other than berth vs the reference)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *refPath == "" || *newPath == "" {
		return errors.New("-ref and -new are required")
	}
	ref, cand := loadReport(*refPath, *refLabel), loadReport(*newPath, *newLabel)
	cells := table(buildRows(ref, cand), *refLabel, *newLabel)
	if *noTargets {
		for i := range cells {
			cells[i] = cells[i][:len(cells[i])-2]
		}
	}
	writeText(stdout, cells)
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, ratioNote)
	if line := authLine(ref, cand); line != "" {
		fmt.Fprintln(stdout, line)
	}
	if line := gcLine(ref, cand); line != "" {
		fmt.Fprintln(stdout, line)
	}
	if line := replLine(ref, cand); line != "" {
		fmt.Fprintln(stdout, line)
	}
	if line := ceilingLine(ref, cand); line != "" {
		fmt.Fprintln(stdout, line)
	}
	for _, rep := range []*Report{ref, cand} {
		for _, e := range rep.Errors {
			fmt.Fprintf(stdout, "%s FAILED: %s\n", rep.Label, e)
		}
		for _, e := range rep.Warnings {
			fmt.Fprintf(stdout, "%s warning: %s\n", rep.Label, e)
		}
	}
	if *md != "" {
		f, err := os.Create(*md)
		if err != nil {
			return err
		}
		writeMarkdown(f, cells, ref, cand)
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
