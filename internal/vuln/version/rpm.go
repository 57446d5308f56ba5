package version

import (
	"errors"
	"strings"
)

// rpmVersion is [epoch:]version[-release].
type rpmVersion struct {
	epoch   string // digits; "0" when absent
	version string
	release string // "" when absent
}

func parseRPM(s string) (rpmVersion, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return rpmVersion{}, errors.New("empty version")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return rpmVersion{}, errors.New("whitespace or control character")
		}
	}
	v := rpmVersion{epoch: "0"}
	if e, rest, ok := strings.Cut(s, ":"); ok {
		if !allDigits(e) {
			return rpmVersion{}, errors.New("epoch is not a number")
		}
		v.epoch, s = e, rest
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.version, v.release = s[:i], s[i+1:]
		if v.release == "" {
			return rpmVersion{}, errors.New("empty release")
		}
	} else {
		v.version = s
	}
	if v.version == "" {
		return rpmVersion{}, errors.New("empty version")
	}
	return v, nil
}

// compareRPM compares epochs numerically, then versions, then releases
// with rpmvercmp. A missing release sorts before any release, which
// keeps the order transitive (rpm's dependency matching instead ignores
// the release when one side lacks it).
func compareRPM(a, b rpmVersion) int {
	if c := cmpNum(a.epoch, b.epoch); c != 0 {
		return c
	}
	if c := rpmVerCmp(a.version, b.version); c != 0 {
		return c
	}
	return rpmVerCmp(a.release, b.release)
}

// rpmVerCmp is rpm's segment comparison. Both strings are cut into runs
// of digits and runs of ASCII letters; any other character only separates
// runs, except "~" (sorts before anything, even the end) and "^" (sorts
// after the end but before any further run). A numeric run beats an
// alphabetic one; numeric runs compare by value, alphabetic ones
// byte-wise; when one string runs out, the other wins.
func rpmVerCmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		i = skipRPMSeparators(a, i)
		j = skipRPMSeparators(b, j)
		ac, bc := at(a, i), at(b, j)
		if ac == '~' || bc == '~' {
			if ac != '~' {
				return 1
			}
			if bc != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		if ac == '^' || bc == '^' {
			switch {
			case i >= len(a):
				return -1
			case j >= len(b):
				return 1
			case ac != '^':
				return 1
			case bc != '^':
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		isNum := isDigit(ac)
		ni, nj := rpmRun(a[i:], isNum), rpmRun(b[j:], isNum)
		if nj == 0 {
			// Different kinds of run: a numeric run is newer.
			if isNum {
				return 1
			}
			return -1
		}
		var c int
		if isNum {
			c = cmpNum(a[i:i+ni], b[j:j+nj])
		} else {
			c = strings.Compare(a[i:i+ni], b[j:j+nj])
		}
		if c != 0 {
			return c
		}
		i += ni
		j += nj
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func skipRPMSeparators(s string, i int) int {
	for i < len(s) && !isAlnum(s[i]) && s[i] != '~' && s[i] != '^' {
		i++
	}
	return i
}

// rpmRun returns the length of the run of digits (num) or letters at the
// start of s.
func rpmRun(s string, num bool) int {
	n := 0
	for n < len(s) && ((num && isDigit(s[n])) || (!num && isAlpha(s[n]))) {
		n++
	}
	return n
}
