package version

import (
	"errors"
	"strings"
)

// dpkgVersion is [epoch:]upstream[-revision] (Debian Policy §5.6.12).
type dpkgVersion struct {
	epoch    string // digits; "0" when absent
	upstream string
	revision string // "" when absent, which sorts like "0"
}

func parseDpkg(s string) (dpkgVersion, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return dpkgVersion{}, errors.New("empty version")
	}
	v := dpkgVersion{epoch: "0"}
	if e, rest, ok := strings.Cut(s, ":"); ok {
		if e == "" {
			return dpkgVersion{}, errors.New("empty epoch")
		}
		if !allDigits(e) {
			return dpkgVersion{}, errors.New("epoch is not a number")
		}
		v.epoch, s = e, rest
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.upstream, v.revision = s[:i], s[i+1:]
		if v.revision == "" {
			return dpkgVersion{}, errors.New("empty revision")
		}
	} else {
		v.upstream = s
	}
	if v.upstream == "" {
		return dpkgVersion{}, errors.New("empty upstream version")
	}
	// dpkg only warns when the upstream version does not start with a
	// digit; such versions still compare, so they are accepted here.
	for i := 0; i < len(v.upstream); i++ {
		if c := v.upstream[i]; !isAlnum(c) && !strings.ContainsRune(".+-~", rune(c)) {
			return dpkgVersion{}, errors.New("invalid character in upstream version")
		}
	}
	for i := 0; i < len(v.revision); i++ {
		if c := v.revision[i]; !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return dpkgVersion{}, errors.New("invalid character in revision")
		}
	}
	return v, nil
}

func compareDpkg(a, b dpkgVersion) int {
	if c := cmpNum(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := dpkgVerRevCmp(a.upstream, b.upstream); c != 0 {
		return c
	}
	return dpkgVerRevCmp(a.revision, b.revision)
}

// dpkgOrder is the weight of one character of a non-digit part: "~" sorts
// before the end of the part, which sorts before letters, which sort
// before every other character.
func dpkgOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case c == '~':
		return -1
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	}
	return int(c) + 256
}

// dpkgVerRevCmp compares two upstream versions or two revisions: they are
// split into alternating non-digit and digit parts; non-digit parts are
// compared character by character with dpkgOrder, digit parts numerically.
func dpkgVerRevCmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := dpkgOrder(a, i), dpkgOrder(b, j)
			if ac != bc {
				return ac - bc
			}
			// Equal weights: both are the same non-digit character.
			i++
			j++
		}
		ni, nj := digitRun(a[i:]), digitRun(b[j:])
		if c := cmpNum("0"+a[i:i+ni], "0"+b[j:j+nj]); c != 0 {
			return c
		}
		i += ni
		j += nj
	}
	return 0
}
