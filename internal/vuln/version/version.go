package version

import (
	"fmt"
	"strings"
)

// Ecosystem is a version-ordering scheme.
type Ecosystem int

// The version schemes.
const (
	// Generic orders numeric and alphabetic runs; separators are ignored.
	Generic Ecosystem = iota
	// Dpkg is Debian's and Ubuntu's scheme.
	Dpkg
	// Apk is Alpine's (and Wolfi's, Chainguard's) scheme.
	Apk
	// RPM is the scheme of Red Hat, SUSE and their relatives.
	RPM
	// SemVer is semantic versioning 2.0 (npm, Go modules, crates.io, …).
	SemVer
	// PEP440 is Python's scheme.
	PEP440
)

var ecosystemNames = [...]string{
	Generic: "generic",
	Dpkg:    "dpkg",
	Apk:     "apk",
	RPM:     "rpm",
	SemVer:  "semver",
	PEP440:  "pep440",
}

// String returns the scheme's lower-case name.
func (e Ecosystem) String() string {
	if e >= 0 && int(e) < len(ecosystemNames) {
		return ecosystemNames[e]
	}
	return fmt.Sprintf("Ecosystem(%d)", int(e))
}

// Compare orders two versions of ecosystem eco: -1 when a sorts before b,
// 0 when they are equivalent, 1 when a sorts after b. It returns an error
// when either does not parse in that scheme, or eco is not a scheme.
func Compare(eco Ecosystem, a, b string) (int, error) {
	switch eco {
	case Dpkg:
		return compareWith(parseDpkg, compareDpkg, eco, a, b)
	case Apk:
		return compareWith(parseApk, compareApk, eco, a, b)
	case RPM:
		return compareWith(parseRPM, compareRPM, eco, a, b)
	case SemVer:
		return compareWith(parseSemVer, compareSemVer, eco, a, b)
	case PEP440:
		return compareWith(parsePEP440, comparePEP440, eco, a, b)
	case Generic:
		return compareWith(parseGeneric, compareGeneric, eco, a, b)
	}
	return 0, fmt.Errorf("version: unknown scheme %v", eco)
}

// Validate reports whether v parses in the scheme eco.
func Validate(eco Ecosystem, v string) error {
	_, err := Compare(eco, v, v)
	return err
}

func compareWith[T any](parse func(string) (T, error), cmp func(T, T) int, eco Ecosystem, a, b string) (int, error) {
	pa, err := parse(a)
	if err != nil {
		return 0, &ParseError{Scheme: eco, Version: a, Reason: err.Error()}
	}
	pb, err := parse(b)
	if err != nil {
		return 0, &ParseError{Scheme: eco, Version: b, Reason: err.Error()}
	}
	return sign(cmp(pa, pb)), nil
}

// ParseError reports a version that does not parse in a scheme.
type ParseError struct {
	Scheme  Ecosystem
	Version string
	Reason  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("version: %q is not a valid %v version: %s", e.Version, e.Scheme, e.Reason)
}

// Of maps an OSV ecosystem name (optionally with a ":release" suffix, e.g.
// "Debian:12", "Alpine:v3.19", "Ubuntu:22.04:LTS") to its version scheme.
// Maven and RubyGems have schemes of their own that are approximated by
// Generic; ok is true for them. An unknown ecosystem maps to Generic with
// ok false.
func Of(osvEcosystem string) (eco Ecosystem, ok bool) {
	base, _, _ := strings.Cut(strings.TrimSpace(osvEcosystem), ":")
	switch strings.ToLower(strings.TrimSpace(base)) {
	case "debian", "ubuntu":
		return Dpkg, true
	case "alpine", "wolfi", "chainguard", "alpaquita", "bellsoft hardened containers":
		return Apk, true
	case "red hat", "rocky linux", "almalinux", "opensuse", "suse", "mageia", "photon os", "openeuler":
		return RPM, true
	case "go", "npm", "crates.io", "nuget", "packagist", "hex", "pub", "bitnami":
		return SemVer, true
	case "pypi":
		return PEP440, true
	case "maven", "rubygems":
		// Approximations: Maven's ComparableVersion and RubyGems'
		// Gem::Version are close to, not identical with, Generic.
		return Generic, true
	}
	return Generic, false
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlpha(c byte) bool { return isLower(c) || isUpper(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// cmpNum compares two non-empty strings of ASCII digits by numeric value,
// whatever their length (no overflow) and leading zeros.
func cmpNum(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// digitRun returns the length of the run of ASCII digits at the start of s.
func digitRun(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
