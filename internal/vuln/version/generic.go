package version

import (
	"errors"
	"strings"
)

// genericToken is a run of digits (num) or of letters (lower-cased).
type genericToken struct {
	num  bool
	text string
	rank int // for words: pre-release qualifiers rank below other words
}

type genericVersion []genericToken

// Well-known qualifiers, normalised and ranked (Maven-like): alpha <
// beta < milestone < rc < snapshot < any other word. "ga", "final" and
// "release" mean the release itself and are dropped.
var genericWords = map[string]struct {
	norm string
	rank int
}{
	"a": {"alpha", 1}, "alpha": {"alpha", 1},
	"b": {"beta", 2}, "beta": {"beta", 2},
	"m": {"milestone", 3}, "milestone": {"milestone", 3},
	"rc": {"rc", 4}, "cr": {"rc", 4}, "pre": {"rc", 4}, "preview": {"rc", 4},
	"snapshot": {"snapshot", 5},
}

const genericOtherRank = 6

// parseGeneric cuts s into runs of digits and runs of letters, dropping
// every other character. It fails only when s holds no letter or digit.
func parseGeneric(s string) (genericVersion, error) {
	var v genericVersion
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isDigit(c):
			n := digitRun(s[i:])
			v = append(v, genericToken{num: true, text: s[i : i+n]})
			i += n
		case isAlpha(c):
			n := 0
			for i+n < len(s) && isAlpha(s[i+n]) {
				n++
			}
			w := strings.ToLower(s[i : i+n])
			i += n
			if w == "ga" || w == "final" || w == "release" {
				continue
			}
			t := genericToken{text: w, rank: genericOtherRank}
			if k, ok := genericWords[w]; ok {
				t.text, t.rank = k.norm, k.rank
			}
			v = append(v, t)
		default:
			i++
		}
	}
	if len(v) == 0 {
		return nil, errors.New("no letters or digits")
	}
	return dropZeros(v), nil
}

func isZero(t genericToken) bool { return t.num && strings.Trim(t.text, "0") == "" }

// dropZeros removes zero numbers (but the first token) that stand before
// a word or the end, so 1.0.0 == 1 and 1.0-rc1 == 1-rc1.
func dropZeros(v genericVersion) genericVersion {
	out := append(make(genericVersion, 0, len(v)), v[0])
	for i := 1; i < len(v); i++ {
		if isZero(v[i]) {
			j := i
			for j < len(v) && isZero(v[j]) {
				j++
			}
			if j == len(v) || !v[j].num {
				i = j - 1
				continue
			}
		}
		out = append(out, v[i])
	}
	return out
}

// compareGeneric compares token by token: at one position a word sorts
// before the end of the version, which sorts before a number (so 1.0-rc1
// < 1.0 < 1.0.1, and 1.0a < 1.0 as RubyGems would have it).
func compareGeneric(a, b genericVersion) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		ka, kb := genericKind(a, i), genericKind(b, i)
		if ka != kb {
			return ka - kb
		}
		if ka == 1 {
			continue // both ended: unreachable, kept for clarity
		}
		x, y := a[i], b[i]
		var c int
		if x.num {
			c = cmpNum(x.text, y.text)
		} else if c = x.rank - y.rank; c == 0 {
			c = strings.Compare(x.text, y.text)
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// genericKind is 0 for a word, 1 for the end, 2 for a number.
func genericKind(v genericVersion, i int) int {
	switch {
	case i >= len(v):
		return 1
	case v[i].num:
		return 2
	}
	return 0
}
