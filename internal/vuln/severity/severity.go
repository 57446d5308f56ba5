package severity

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/vuln/osv"
)

// Level is a qualitative severity; levels are ordered, None lowest.
type Level int

// The levels, in increasing order.
const (
	None Level = iota
	Low
	Medium
	High
	Critical
)

var levelNames = [...]string{None: "NONE", Low: "LOW", Medium: "MEDIUM", High: "HIGH", Critical: "CRITICAL"}

// String returns the level's upper-case name ("LOW", …).
func (l Level) String() string {
	if l >= None && l <= Critical {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// MarshalText encodes the level as its name.
func (l Level) MarshalText() ([]byte, error) {
	if l < None || l > Critical {
		return nil, fmt.Errorf("severity: invalid level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText decodes a name ParseLevel accepts.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseLevel reads a severity word, case-insensitively: "none", "low",
// "medium", "high", "critical", and the synonyms used by advisory
// databases: "moderate" (GitHub) = Medium, "important" (Red Hat) = High,
// "negligible" (Ubuntu) and "unimportant" (Debian) = Low, "not yet
// assigned" (Debian) = None. Debian's trailing asterisks ("low**") are
// ignored.
func ParseLevel(s string) (Level, error) {
	w := strings.ToLower(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), "*")))
	switch w {
	case "none", "not yet assigned":
		return None, nil
	case "low", "negligible", "unimportant":
		return Low, nil
	case "medium", "moderate":
		return Medium, nil
	case "high", "important":
		return High, nil
	case "critical":
		return Critical, nil
	}
	return None, fmt.Errorf("severity: unknown level %q", s)
}

// FromScore grades a CVSS score: 0 None, 0.1–3.9 Low, 4.0–6.9 Medium,
// 7.0–8.9 High, 9.0–10.0 Critical.
func FromScore(score float64) Level {
	switch {
	case score >= 9.0:
		return Critical
	case score >= 7.0:
		return High
	case score >= 4.0:
		return Medium
	case score > 0:
		return Low
	}
	return None
}

// Of grades v: its level and the CVSS v3 base score behind it (0 when the
// level does not come from a CVSS vector). See the package documentation
// for the order of sources.
func Of(v osv.Vulnerability) (Level, float64) {
	if score, ok := bestCVSS3(v); ok {
		return FromScore(score), score
	}
	if l, ok := levelField(v.DatabaseSpecific, "severity"); ok {
		return l, 0
	}
	for _, s := range v.Severity {
		if strings.EqualFold(s.Type, "Ubuntu") {
			if l, err := ParseLevel(s.Score); err == nil {
				return l, 0
			}
		}
	}
	best, found := None, false
	for _, a := range v.Affected {
		for _, field := range []string{"severity", "urgency"} {
			if l, ok := levelField(a.EcosystemSpecific, field); ok {
				found = true
				best = max(best, l)
			}
		}
	}
	if found {
		return best, 0
	}
	return None, 0
}

// bestCVSS3 returns the highest base score of the record's and its
// affected packages' valid CVSS_V3 vectors.
func bestCVSS3(v osv.Vulnerability) (float64, bool) {
	best, found := 0.0, false
	consider := func(list []osv.Severity) {
		for _, s := range list {
			if s.Type != "CVSS_V3" {
				continue
			}
			if score, err := CVSS3BaseScore(s.Score); err == nil {
				best, found = max(best, score), true
			}
		}
	}
	consider(v.Severity)
	for _, a := range v.Affected {
		consider(a.Severity)
	}
	return best, found
}

// levelField reads a string field of a JSON object as a level.
func levelField(raw json.RawMessage, field string) (Level, bool) {
	if len(raw) == 0 {
		return None, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return None, false
	}
	var s string
	if json.Unmarshal(obj[field], &s) != nil {
		return None, false
	}
	l, err := ParseLevel(s)
	return l, err == nil
}
