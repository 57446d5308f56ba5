package osv

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Vulnerability is one OSV record.
type Vulnerability struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Aliases          []string        `json:"aliases,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Modified         time.Time       `json:"modified,omitzero"`
	Published        time.Time       `json:"published,omitzero"`
	Withdrawn        *time.Time      `json:"withdrawn,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	References       []Reference     `json:"references,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Severity is a scored severity: Type is "CVSS_V2", "CVSS_V3", "CVSS_V4"
// or "Ubuntu"; Score is a CVSS vector or, for "Ubuntu", a priority word.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package with its affected versions.
type Affected struct {
	Package           Package         `json:"package"`
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Package names a package within an ecosystem ("Debian:12", "PyPI", …).
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Purl      string `json:"purl,omitempty"`
}

// Range types.
const (
	RangeEcosystem = "ECOSYSTEM"
	RangeSemVer    = "SEMVER"
	RangeGit       = "GIT"
)

// Range is a list of version events of one type.
type Range struct {
	Type             string          `json:"type"`
	Repo             string          `json:"repo,omitempty"`
	Events           []Event         `json:"events"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// Event is one range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about the vulnerability.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Parse decodes and validates one OSV record: it must have an id, at
// least one affected package with both an ecosystem and a name, and
// well-formed ranges (a known type, events each with exactly one field,
// and at least one "introduced" event).
func Parse(data []byte) (Vulnerability, error) {
	var v Vulnerability
	if err := json.Unmarshal(data, &v); err != nil {
		return Vulnerability{}, fmt.Errorf("osv: %w", err)
	}
	if err := v.Validate(); err != nil {
		return Vulnerability{}, err
	}
	return v, nil
}

// Validate checks what Parse checks.
func (v Vulnerability) Validate() error {
	if v.ID == "" {
		return errors.New("osv: record has no id")
	}
	named := false
	for i, a := range v.Affected {
		if a.Package.Ecosystem != "" && a.Package.Name != "" {
			named = true
		}
		for j, r := range a.Ranges {
			if err := r.validate(); err != nil {
				return fmt.Errorf("osv: %s: affected[%d].ranges[%d]: %w", v.ID, i, j, err)
			}
		}
	}
	if !named {
		return fmt.Errorf("osv: %s: no affected package with an ecosystem and a name", v.ID)
	}
	return nil
}

func (r Range) validate() error {
	switch r.Type {
	case RangeEcosystem, RangeSemVer, RangeGit:
	default:
		return fmt.Errorf("unknown range type %q", r.Type)
	}
	introduced := false
	for k, e := range r.Events {
		n := 0
		for _, f := range []string{e.Introduced, e.Fixed, e.LastAffected, e.Limit} {
			if f != "" {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("events[%d] has %d fields set, want exactly one", k, n)
		}
		if e.Introduced != "" {
			introduced = true
		}
	}
	if !introduced {
		return errors.New("no introduced event")
	}
	return nil
}
