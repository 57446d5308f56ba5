package osv

import (
	"fmt"
	"sort"
	"strings"

	"github.com/berth-registry/berth/internal/vuln/version"
)

// Affects reports whether version of the package name in ecosystem (as OSV
// names it, e.g. "Debian:12", "Alpine:v3.19", "PyPI") is affected by v,
// and the fixed version to report: the smallest "fixed" event above
// version in the ranges that affect it, "" when there is none. A
// withdrawn record affects nothing. An error means a version (the
// package's or the record's) does not parse in the scheme; ranges that
// could be evaluated still count, so affected may be true with an error.
func (v Vulnerability) Affects(ecosystem, name, ver string) (affected bool, fixed string, err error) {
	if v.Withdrawn != nil {
		return false, "", nil
	}
	scheme, known := version.Of(ecosystem)
	var errs []error
	for i, a := range v.Affected {
		if !EcosystemMatches(a.Package.Ecosystem, ecosystem) || !NameMatches(ecosystem, a.Package.Name, name) {
			continue
		}
		hit, fix, err := a.affects(scheme, known, ver)
		if err != nil {
			errs = append(errs, fmt.Errorf("affected[%d]: %w", i, err))
		}
		if !hit {
			continue
		}
		affected = true
		if fix != "" && (fixed == "" || less(scheme, fix, fixed)) {
			fixed = fix
		}
	}
	if len(errs) > 0 {
		err = fmt.Errorf("osv: %s: %w", v.ID, joinErrors(errs))
	}
	return affected, fixed, err
}

func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%w (and %d more: %s)", errs[0], len(errs)-1, strings.Join(msgs[1:], "; "))
}

func less(scheme version.Ecosystem, a, b string) bool {
	c, err := version.Compare(scheme, a, b)
	return err == nil && c < 0
}

// affects evaluates one affected entry: its explicit versions, then each
// ECOSYSTEM or SEMVER range.
func (a Affected) affects(scheme version.Ecosystem, known bool, ver string) (bool, string, error) {
	listedHit, rangeHit := false, false
	for _, listed := range a.Versions {
		if listed == ver {
			listedHit = true
			break
		}
		if known {
			if c, err := version.Compare(scheme, listed, ver); err == nil && c == 0 {
				listedHit = true
				break
			}
		}
	}
	var (
		fixed    string
		firstErr error
	)
	for _, r := range a.Ranges {
		rs := scheme
		switch r.Type {
		case RangeEcosystem:
		case RangeSemVer:
			rs = version.SemVer
		default:
			continue // GIT ranges name commits, not versions
		}
		in, fix, err := r.affects(rs, ver)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in {
			rangeHit = true
			if fix != "" && (fixed == "" || less(rs, fix, fixed)) {
				fixed = fix
			}
		}
	}
	if listedHit && !rangeHit {
		// Listed explicitly but in no range: report the smallest fixed
		// event above the version, if any range has one.
		fixed = a.fixedAbove(scheme, ver)
	}
	return listedHit || rangeHit, fixed, firstErr
}

// fixedAbove returns the smallest "fixed" event of any evaluable range
// that is above ver.
func (a Affected) fixedAbove(scheme version.Ecosystem, ver string) string {
	best := ""
	for _, r := range a.Ranges {
		rs := scheme
		switch r.Type {
		case RangeEcosystem:
		case RangeSemVer:
			rs = version.SemVer
		default:
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && less(rs, ver, e.Fixed) && (best == "" || less(rs, e.Fixed, best)) {
				best = e.Fixed
			}
		}
	}
	return best
}

// event is a range event reduced to its kind and version.
type event struct {
	kind int // eventIntroduced…eventLimit; also the tie-break order
	ver  string
}

const (
	eventIntroduced = iota
	eventLastAffected
	eventFixed
	eventLimit
)

// affects evaluates one range in scheme following the OSV algorithm, and
// returns the smallest "fixed" event above ver when ver is affected.
func (r Range) affects(scheme version.Ecosystem, ver string) (bool, string, error) {
	if err := version.Validate(scheme, ver); err != nil {
		return false, "", err
	}
	events := make([]event, 0, len(r.Events))
	for _, e := range r.Events {
		var ev event
		switch {
		case e.Introduced != "":
			ev = event{eventIntroduced, e.Introduced}
		case e.LastAffected != "":
			ev = event{eventLastAffected, e.LastAffected}
		case e.Fixed != "":
			ev = event{eventFixed, e.Fixed}
		case e.Limit != "":
			ev = event{eventLimit, e.Limit}
		default:
			continue
		}
		if ev.kind == eventIntroduced && ev.ver == "0" {
			events = append(events, ev)
			continue
		}
		if ev.kind == eventLimit && ev.ver == "*" {
			continue // no limit
		}
		if err := version.Validate(scheme, ev.ver); err != nil {
			return false, "", err
		}
		events = append(events, ev)
	}
	sort.SliceStable(events, func(i, j int) bool { return eventLess(scheme, events[i], events[j]) })

	limited, belowLimit := false, false
	for _, e := range events {
		if e.kind == eventLimit {
			limited = true
			if less(scheme, ver, e.ver) {
				belowLimit = true
			}
		}
	}
	if limited && !belowLimit {
		return false, "", nil
	}
	affected := false
	for _, e := range events {
		switch e.kind {
		case eventIntroduced:
			if e.ver == "0" || !less(scheme, ver, e.ver) {
				affected = true
			}
		case eventFixed:
			if !less(scheme, ver, e.ver) {
				affected = false
			}
		case eventLastAffected:
			if less(scheme, e.ver, ver) {
				affected = false
			}
		}
	}
	if !affected {
		return false, "", nil
	}
	for _, e := range events { // sorted: the first fixed above ver is the smallest
		if e.kind == eventFixed && less(scheme, ver, e.ver) {
			return true, e.ver, nil
		}
	}
	return true, "", nil
}

// eventLess orders events by version, "introduced: 0" first; events at
// the same version are ordered introduced, last_affected, fixed, limit.
func eventLess(scheme version.Ecosystem, a, b event) bool {
	az := a.kind == eventIntroduced && a.ver == "0"
	bz := b.kind == eventIntroduced && b.ver == "0"
	switch {
	case az && bz:
		return false
	case az:
		return true
	case bz:
		return false
	}
	c, _ := version.Compare(scheme, a.ver, b.ver) // both validated
	if c != 0 {
		return c < 0
	}
	return a.kind < b.kind
}

// EcosystemMatches reports whether a record's ecosystem applies to a
// package's: the base names must be equal, and a record naming a release
// ("Debian:12") applies to that release only, while one without
// ("Debian") applies to every release. Names compare case-insensitively;
// Alpine releases match with or without their "v" ("v3.19", "3.19").
func EcosystemMatches(record, pkg string) bool {
	rb, rr, _ := strings.Cut(strings.TrimSpace(record), ":")
	pb, pr, _ := strings.Cut(strings.TrimSpace(pkg), ":")
	if !strings.EqualFold(rb, pb) {
		return false
	}
	if rr == "" {
		return true
	}
	if strings.EqualFold(rb, "Alpine") {
		rr = strings.TrimPrefix(strings.ToLower(rr), "v")
		pr = strings.TrimPrefix(strings.ToLower(pr), "v")
	}
	return strings.EqualFold(rr, pr)
}

// NameMatches reports whether a record's package name is the package's
// name: PyPI names compare after PEP 503 normalisation, every other
// ecosystem's names exactly.
func NameMatches(ecosystem, record, pkg string) bool {
	base, _, _ := strings.Cut(strings.TrimSpace(ecosystem), ":")
	if strings.EqualFold(base, "PyPI") {
		return NormalizePyPI(record) == NormalizePyPI(pkg)
	}
	return record == pkg
}

// NormalizePyPI is PEP 503's name normalisation: lower case, with every
// run of "-", "_" and "." replaced by one "-".
func NormalizePyPI(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			if !sep {
				b.WriteByte('-')
			}
			sep = true
			continue
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}
