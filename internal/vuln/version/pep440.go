package version

import (
	"errors"
	"strings"
)

// pepVersion is a normalised PEP 440 version.
type pepVersion struct {
	epoch   string
	release []string // trailing zeros removed, so 1.0 == 1.0.0 == 1
	pre     string   // "a", "b" or "rc"; "" for none
	preN    string
	post    bool
	postN   string
	dev     bool
	devN    string
	local   []string // nil for none
}

// Pre-release spellings, longest first so "alpha" is not read as "a".
var pepPre = []struct{ spelling, norm string }{
	{"preview", "rc"}, {"alpha", "a"}, {"beta", "b"}, {"pre", "rc"},
	{"rc", "rc"}, {"a", "a"}, {"b", "b"}, {"c", "rc"},
}

var pepPost = []string{"post", "rev", "r"}

func isPepSep(c byte) bool { return c == '.' || c == '-' || c == '_' }

// pepP is a small cursor over the lower-cased version string.
type pepP struct{ s string }

// number reads an optional run of digits.
func (p *pepP) number() (string, bool) {
	n := digitRun(p.s)
	if n == 0 {
		return "", false
	}
	d := p.s[:n]
	p.s = p.s[n:]
	return d, true
}

// word reads one of words, optionally preceded by a separator, and an
// optional number optionally preceded by a separator ("0" when missing).
func (p *pepP) word(words ...string) (w, n string, ok bool) {
	rest := p.s
	if rest != "" && isPepSep(rest[0]) {
		rest = rest[1:]
	}
	for _, cand := range words {
		if strings.HasPrefix(rest, cand) {
			w, rest = cand, rest[len(cand):]
			break
		}
	}
	if w == "" {
		return "", "", false
	}
	n = "0"
	if k := digitRun(rest); k > 0 {
		n, rest = rest[:k], rest[k:]
	} else if len(rest) > 1 && isPepSep(rest[0]) && isDigit(rest[1]) {
		k := digitRun(rest[1:])
		n, rest = rest[1:1+k], rest[1+k:]
	}
	p.s = rest
	return w, n, true
}

func parsePEP440(s string) (pepVersion, error) {
	var v pepVersion
	p := &pepP{s: strings.ToLower(strings.TrimSpace(s))}
	if strings.HasPrefix(p.s, "v") {
		p.s = p.s[1:]
	}
	v.epoch = "0"
	if n := digitRun(p.s); n > 0 && n < len(p.s) && p.s[n] == '!' {
		v.epoch, p.s = p.s[:n], p.s[n+1:]
	}
	first, ok := p.number()
	if !ok {
		return v, errors.New("no release number")
	}
	v.release = []string{first}
	for len(p.s) > 1 && p.s[0] == '.' && isDigit(p.s[1]) {
		p.s = p.s[1:]
		d, _ := p.number()
		v.release = append(v.release, d)
	}
	for len(v.release) > 1 && strings.Trim(v.release[len(v.release)-1], "0") == "" {
		v.release = v.release[:len(v.release)-1]
	}
	if len(v.release) == 1 && strings.Trim(v.release[0], "0") == "" {
		v.release = []string{"0"}
	}

	spellings := make([]string, len(pepPre))
	for i, sp := range pepPre {
		spellings[i] = sp.spelling
	}
	if w, n, ok := p.word(spellings...); ok {
		for _, sp := range pepPre {
			if sp.spelling == w {
				v.pre = sp.norm
			}
		}
		v.preN = n
	}
	// Post release: "-N" (implicit) or [sep]post|rev|r[sep][N].
	if len(p.s) > 1 && p.s[0] == '-' && isDigit(p.s[1]) {
		p.s = p.s[1:]
		v.post = true
		v.postN, _ = p.number()
	} else if _, n, ok := p.word(pepPost...); ok {
		v.post, v.postN = true, n
	}
	if _, n, ok := p.word("dev"); ok {
		v.dev, v.devN = true, n
	}
	if strings.HasPrefix(p.s, "+") {
		local := p.s[1:]
		p.s = ""
		v.local = strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '-' || r == '_' })
		if local == "" || isPepSep(local[0]) || isPepSep(local[len(local)-1]) ||
			len(v.local) != strings.Count(local, ".")+strings.Count(local, "-")+strings.Count(local, "_")+1 {
			return v, errors.New("malformed local version")
		}
		for _, seg := range v.local {
			for i := 0; i < len(seg); i++ {
				if !isDigit(seg[i]) && !isLower(seg[i]) {
					return v, errors.New("invalid character in local version")
				}
			}
		}
	}
	if p.s != "" {
		return v, errors.New("unexpected " + quoteShort(p.s))
	}
	return v, nil
}

func quoteShort(s string) string {
	if len(s) > 20 {
		s = s[:20] + "…"
	}
	return "\"" + s + "\""
}

// pepPart compares one optional part: rank orders absent-as-lowest (-1),
// present (0) and absent-as-highest (1); n breaks ties between present
// parts.
func pepPart(rankA, rankB int, na, nb string) int {
	if rankA != rankB {
		return rankA - rankB
	}
	if rankA != 0 {
		return 0
	}
	return cmpNum(na, nb)
}

func comparePEP440(a, b pepVersion) int {
	if c := cmpNum(a.epoch, b.epoch); c != 0 {
		return c
	}
	for i := 0; i < len(a.release) || i < len(b.release); i++ {
		x, y := "0", "0"
		if i < len(a.release) {
			x = a.release[i]
		}
		if i < len(b.release) {
			y = b.release[i]
		}
		if c := cmpNum(x, y); c != 0 {
			return c
		}
	}
	// Pre-release: a bare dev release (1.0.dev1) sorts before every
	// pre-release of its version; no pre-release sorts after them all.
	preRank := func(v pepVersion) int {
		switch {
		case v.pre == "" && !v.post && v.dev:
			return -1
		case v.pre == "":
			return 1
		}
		return 0
	}
	ra, rb := preRank(a), preRank(b)
	if ra != rb {
		return ra - rb
	}
	if ra == 0 {
		if c := strings.Compare(a.pre, b.pre); c != 0 { // "a" < "b" < "rc"
			return c
		}
		if c := cmpNum(a.preN, b.preN); c != 0 {
			return c
		}
	}
	if c := pepPart(presentLow(a.post), presentLow(b.post), a.postN, b.postN); c != 0 {
		return c
	}
	if c := pepPart(presentHigh(a.dev), presentHigh(b.dev), a.devN, b.devN); c != 0 {
		return c
	}
	return compareLocal(a.local, b.local)
}

func presentLow(present bool) int {
	if present {
		return 0
	}
	return -1
}

func presentHigh(present bool) int {
	if present {
		return 0
	}
	return 1
}

// compareLocal orders local version labels: none sorts first; segments
// compare numerically when both are numbers, a number beats a word, words
// compare as strings; a longer label wins when one is a prefix of the
// other.
func compareLocal(a, b []string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		an, bn := allDigits(a[i]), allDigits(b[i])
		var c int
		switch {
		case an && bn:
			c = cmpNum(a[i], b[i])
		case an:
			c = 1
		case bn:
			c = -1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
