package version

import (
	"errors"
	"strings"
)

// semVersion is MAJOR.MINOR.PATCH[.FOURTH][-PRERELEASE][+BUILD]; the build
// metadata is dropped since it never affects precedence.
type semVersion struct {
	core [4]string // digits; missing components are "0"
	pre  []string  // dot-separated identifiers; nil for a release
}

// parseSemVer accepts semver.org 2.0 versions, leniently: a leading "v"
// or "V" (Go modules), one to four numeric components (Go's "v1", NuGet's
// "1.2.3.4"), and leading zeros. Build metadata ("+incompatible",
// "+build.5") is validated and ignored.
func parseSemVer(s string) (semVersion, error) {
	s = strings.TrimSpace(s)
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	var v semVersion
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if err := semIdentifiers(s[i+1:]); err != nil {
			return v, errors.New("build metadata: " + err.Error())
		}
		s = s[:i]
	}
	core := s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		core = s[:i]
		pre := s[i+1:]
		if err := semIdentifiers(pre); err != nil {
			return v, errors.New("pre-release: " + err.Error())
		}
		v.pre = strings.Split(pre, ".")
	}
	parts := strings.Split(core, ".")
	if len(parts) > len(v.core) {
		return v, errors.New("too many numeric components")
	}
	for i := range v.core {
		v.core[i] = "0"
		if i < len(parts) {
			if !allDigits(parts[i]) {
				return v, errors.New("numeric component is not a number")
			}
			v.core[i] = parts[i]
		}
	}
	return v, nil
}

// semIdentifiers checks a non-empty dot-separated list of non-empty
// [0-9A-Za-z-] identifiers.
func semIdentifiers(s string) error {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return errors.New("empty identifier")
		}
		for i := 0; i < len(id); i++ {
			if !isAlnum(id[i]) && id[i] != '-' {
				return errors.New("invalid character in identifier")
			}
		}
	}
	return nil
}

func compareSemVer(a, b semVersion) int {
	for i := range a.core {
		if c := cmpNum(a.core[i], b.core[i]); c != 0 {
			return c
		}
	}
	// A release sorts after all of its pre-releases.
	switch {
	case a.pre == nil && b.pre == nil:
		return 0
	case a.pre == nil:
		return 1
	case b.pre == nil:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = cmpNum(x, y)
		case xn:
			c = -1 // numeric identifiers sort before alphanumeric ones
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return len(a.pre) - len(b.pre)
}
