package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted; it returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// sortDurations sorts d in place and returns it.
func sortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

// nextLink returns the target of the rel="next" entry of an RFC 8288 Link
// header, resolved against base. ok is false when there is none.
func nextLink(header string, base *url.URL) (next *url.URL, ok bool, err error) {
	for _, part := range splitLinks(header) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.HasPrefix(part, "<") {
			return nil, false, fmt.Errorf("malformed Link entry %q", part)
		}
		end := strings.IndexByte(part, '>')
		if end < 0 {
			return nil, false, fmt.Errorf("malformed Link entry %q", part)
		}
		target := part[1:end]
		isNext := false
		for _, param := range strings.Split(part[end+1:], ";") {
			k, v, found := strings.Cut(strings.TrimSpace(param), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					isNext = true
				}
			}
		}
		if !isNext {
			continue
		}
		u, err := url.Parse(target)
		if err != nil {
			return nil, false, fmt.Errorf("Link target %q: %w", target, err)
		}
		if base != nil {
			u = base.ResolveReference(u)
		}
		return u, true, nil
	}
	return nil, false, nil
}

// splitLinks splits a Link header on the commas that separate entries,
// ignoring commas inside <...> or quoted strings.
func splitLinks(h string) []string {
	var parts []string
	inURL, inQuote, start := false, false, 0
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '<' && !inQuote:
			inURL = true
		case c == '>' && !inQuote:
			inURL = false
		case c == '"' && !inURL:
			inQuote = !inQuote
		case c == ',' && !inURL && !inQuote:
			parts = append(parts, h[start:i])
			start = i + 1
		}
	}
	return append(parts, h[start:])
}

// byteSize is a flag.Value holding a byte count written as 123, 64KiB,
// 64k, 1GiB, 1g (all suffixes binary: k = 1024).
type byteSize int64

func (b *byteSize) String() string { return formatBytes(int64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
	{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
	{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10},
	{"b", 1},
}

// parseSize parses a byte count with an optional binary unit suffix.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, errors.New("empty size")
	}
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n := v * float64(mult)
	if n > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return int64(n), nil
}

// formatBytes renders n with a binary unit: 512 B, 64.0 KiB, 1.0 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, suffix := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		if math.Abs(v) < unit || suffix == "TiB" {
			return fmt.Sprintf("%.1f %s", v, suffix)
		}
	}
	return fmt.Sprintf("%d B", n) // unreachable
}

// mibPerSec is the throughput of moving n bytes in d.
func mibPerSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// micros converts a duration to float microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
