package severity

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/berth-registry/berth/internal/vuln/osv"
)

func TestLevelString(t *testing.T) {
	tests := map[Level]string{None: "NONE", Low: "LOW", Medium: "MEDIUM", High: "HIGH", Critical: "CRITICAL", 7: "Level(7)"}
	for l, want := range tests {
		t.Run(want, func(t *testing.T) {
			if got := l.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestLevelOrder(t *testing.T) {
	order := []Level{None, Low, Medium, High, Critical}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("%v >= %v", order[i-1], order[i])
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"high", High, true}, {"HIGH", High, true}, {"High", High, true},
		{"low", Low, true}, {"medium", Medium, true}, {"critical", Critical, true}, {"none", None, true},
		{"moderate", Medium, true}, {"MODERATE", Medium, true}, {"important", High, true},
		{"unimportant", Low, true}, {"negligible", Low, true}, {"not yet assigned", None, true},
		{"medium**", Medium, true}, {" low* ", Low, true},
		{"", None, false}, {"severe", None, false}, {"unknown", None, false}, {"*", None, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseLevel(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestLevelText(t *testing.T) {
	for _, l := range []Level{None, Low, Medium, High, Critical} {
		t.Run(l.String(), func(t *testing.T) {
			b, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			var back Level
			if err := json.Unmarshal(b, &back); err != nil || back != l {
				t.Errorf("round trip of %s = %v, %v", b, back, err)
			}
		})
	}
	if _, err := json.Marshal(Level(9)); err == nil {
		t.Error("Marshal(Level(9)) = nil error")
	}
	var l Level
	if err := json.Unmarshal([]byte(`"bogus"`), &l); err == nil {
		t.Error(`Unmarshal("bogus") = nil error`)
	}
}

func TestFromScore(t *testing.T) {
	tests := []struct {
		score float64
		want  Level
	}{
		{0, None}, {0.1, Low}, {3.9, Low}, {4.0, Medium}, {6.9, Medium},
		{7.0, High}, {8.9, High}, {9.0, Critical}, {10, Critical},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatFloat(tt.score, 'f', 1, 64), func(t *testing.T) {
			if got := FromScore(tt.score); got != tt.want {
				t.Errorf("FromScore(%v) = %v, want %v", tt.score, got, tt.want)
			}
		})
	}
}

const ghsaCVSS = `{
  "id": "GHSA-35jh-r3h4-6jhm",
  "aliases": ["CVE-2021-23337"],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}],
  "database_specific": {"cwe_ids": ["CWE-77"], "severity": "HIGH", "github_reviewed": true}
}`

const ghsaNoCVSS = `{
  "id": "GHSA-p6mc-m468-83gw",
  "affected": [{"package": {"ecosystem": "npm", "name": "lodash"}}],
  "database_specific": {"severity": "MODERATE", "github_reviewed": true}
}`

const debianUrgency = `{
  "id": "DEBIAN-CVE-2023-0001",
  "affected": [
    {"package": {"ecosystem": "Debian:11", "name": "foo"}, "ecosystem_specific": {"urgency": "unimportant"}},
    {"package": {"ecosystem": "Debian:12", "name": "foo"}, "ecosystem_specific": {"urgency": "medium**"}}
  ]
}`

const debianNYA = `{
  "id": "DEBIAN-CVE-2023-0002",
  "affected": [{"package": {"ecosystem": "Debian:12", "name": "foo"}, "ecosystem_specific": {"urgency": "not yet assigned"}}]
}`

const ubuntuPriority = `{
  "id": "UBUNTU-CVE-2023-0003",
  "severity": [{"type": "Ubuntu", "score": "negligible"}],
  "affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "foo"}}]
}`

const affectedCVSS = `{
  "id": "RHSA-2024:0001",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"}],
  "affected": [
    {"package": {"ecosystem": "Red Hat", "name": "a"}, "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"}]},
    {"package": {"ecosystem": "Red Hat", "name": "b"}, "ecosystem_specific": {"severity": "critical"}}
  ],
  "database_specific": {"severity": "low"}
}`

const v4Only = `{
  "id": "GHSA-v4v4-v4v4-v4v4",
  "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
  "affected": [{"package": {"ecosystem": "npm", "name": "x"}}]
}`

const badVectorFallsThrough = `{
  "id": "GHSA-bad0-bad0-bad0",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L"}],
  "affected": [{"package": {"ecosystem": "npm", "name": "x"}}],
  "database_specific": {"severity": "CRITICAL"}
}`

const nothing = `{
  "id": "OSV-2020-1",
  "affected": [{"package": {"ecosystem": "OSS-Fuzz", "name": "x"}, "ecosystem_specific": {"severity": 5}}],
  "database_specific": {"severity": ["HIGH"]}
}`

func TestOf(t *testing.T) {
	tests := []struct {
		name, record string
		level        Level
		score        float64
	}{
		{"ghsa with cvss", ghsaCVSS, High, 7.2},
		{"ghsa database_specific only", ghsaNoCVSS, Medium, 0},
		{"debian urgency, highest of affected", debianUrgency, Medium, 0},
		{"debian not yet assigned", debianNYA, None, 0},
		{"ubuntu priority", ubuntuPriority, Low, 0},
		{"highest cvss of record and affected", affectedCVSS, Medium, 5.5},
		{"cvss v4 only is not graded", v4Only, None, 0},
		{"invalid vector falls through", badVectorFallsThrough, Critical, 0},
		{"unusable fields", nothing, None, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := osv.Parse([]byte(tt.record))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			level, score := Of(v)
			if level != tt.level || score != tt.score {
				t.Errorf("Of = %v, %v; want %v, %v", level, score, tt.level, tt.score)
			}
		})
	}
}
