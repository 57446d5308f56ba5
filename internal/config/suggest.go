package config

import (
	"reflect"
	"strings"
)

// suggest returns ` (did you mean "x"?)` for an unknown dotted key that is
// close to a known one: a small edit away, or the same last part in another
// section.
func suggest(unknown string) string {
	best, bestDist := "", 3
	last := unknown[strings.LastIndex(unknown, ".")+1:]
	for _, f := range mustFields(reflect.TypeFor[Config]()) {
		if d := editDistance(unknown, f.key); d < bestDist {
			best, bestDist = f.key, d
		}
	}
	if best == "" {
		for _, f := range mustFields(reflect.TypeFor[Config]()) {
			if strings.HasSuffix(f.key, "."+last) && f.key != unknown {
				best = f.key
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
