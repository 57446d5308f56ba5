package osv

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/vuln/version"
)

func mustParse(t *testing.T, data string) Vulnerability {
	t.Helper()
	v, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return v
}

func TestParseFields(t *testing.T) {
	v := mustParse(t, goRecord)
	if v.ID != "GO-2023-2102" || len(v.Aliases) != 2 || v.Aliases[0] != "CVE-2023-39325" {
		t.Errorf("id/aliases = %q %q", v.ID, v.Aliases)
	}
	if want := time.Date(2023, 10, 11, 22, 14, 46, 0, time.UTC); !v.Published.Equal(want) {
		t.Errorf("published = %v, want %v", v.Published, want)
	}
	if v.Withdrawn != nil {
		t.Errorf("withdrawn = %v, want nil", v.Withdrawn)
	}
	if len(v.Affected) != 2 || v.Affected[1].Package.Name != "golang.org/x/net" || len(v.Affected[1].Ranges) != 2 {
		t.Fatalf("affected = %+v", v.Affected)
	}
	if r := v.Affected[0].Ranges[0]; r.Type != RangeSemVer || len(r.Events) != 4 || r.Events[2].Introduced != "1.21.0-0" {
		t.Errorf("range = %+v", r)
	}
	if !strings.Contains(string(v.DatabaseSpecific), "pkg.go.dev") || !strings.Contains(string(v.Affected[0].EcosystemSpecific), "net/http") {
		t.Errorf("database_specific / ecosystem_specific not kept")
	}
	if len(v.References) != 1 || v.References[0].Type != "REPORT" {
		t.Errorf("references = %+v", v.References)
	}
	w := mustParse(t, withdrawnRecord)
	if w.Withdrawn == nil || w.Withdrawn.Year() != 2023 {
		t.Errorf("withdrawn = %v", w.Withdrawn)
	}
	n := mustParse(t, npmGHSARecord)
	if len(n.Severity) != 1 || n.Severity[0].Type != "CVSS_V3" || !strings.HasPrefix(n.Severity[0].Score, "CVSS:3.1/") {
		t.Errorf("severity = %+v", n.Severity)
	}
}

func TestParseFixtures(t *testing.T) {
	for name, data := range map[string]string{
		"debian": debianRecord, "alpine": alpineRecord, "go": goRecord, "pypi": pypiRecord,
		"npm": npmGHSARecord, "withdrawn": withdrawnRecord, "unsorted": unsortedRecord,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(data)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"not json", `{"id":`, "osv:"},
		{"array", `[]`, "osv:"},
		{"no id", `{"affected":[{"package":{"ecosystem":"npm","name":"x"}}]}`, "no id"},
		{"no affected", `{"id":"X-1"}`, "no affected package"},
		{"affected without name", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm"}}]}`, "no affected package"},
		{"affected without ecosystem", `{"id":"X-1","affected":[{"package":{"name":"x"}}]}`, "no affected package"},
		{"event with two fields", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}`, "exactly one"},
		{"empty event", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{}]}]}]}`, "exactly one"},
		{"no introduced", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]}]}`, "no introduced"},
		{"unknown range type", `{"id":"X-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"DATE","events":[{"introduced":"0"}]}]}]}`, "unknown range type"},
		{"bad time", `{"id":"X-1","modified":"yesterday","affected":[{"package":{"ecosystem":"npm","name":"x"}}]}`, "osv:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEcosystemMatches(t *testing.T) {
	tests := []struct {
		record, pkg string
		want        bool
	}{
		{"Debian:12", "Debian:12", true},
		{"Debian:12", "Debian:11", false},
		{"Debian:12", "Debian", false},
		{"Debian", "Debian:12", true},
		{"Debian", "Debian", true},
		{"Debian", "Ubuntu:22.04:LTS", false},
		{"Ubuntu:22.04:LTS", "Ubuntu:22.04:LTS", true},
		{"Ubuntu:Pro:22.04:LTS", "Ubuntu:22.04:LTS", false},
		{"Alpine:v3.19", "Alpine:v3.19", true},
		{"Alpine:v3.19", "Alpine:3.19", true},
		{"Alpine:v3.19", "Alpine:v3.18", false},
		{"Alpine:v3.19", "Alpine:v3.1", false},
		{"Alpine", "Alpine:v3.20", true},
		{"npm", "npm", true},
		{"npm", "NPM", true},
		{"PyPI", "pypi", true},
		{"Go", "npm", false},
		{"Debian", "Debianx", false},
	}
	for _, tt := range tests {
		t.Run(tt.record+"_"+tt.pkg, func(t *testing.T) {
			if got := EcosystemMatches(tt.record, tt.pkg); got != tt.want {
				t.Errorf("EcosystemMatches(%q, %q) = %v, want %v", tt.record, tt.pkg, got, tt.want)
			}
		})
	}
}

func TestNormalizePyPI(t *testing.T) {
	tests := map[string]string{
		"Django": "django", "Foo_Bar.baz": "foo-bar-baz", "foo--bar": "foo-bar",
		"foo._-bar": "foo-bar", "zope.interface": "zope-interface", "-foo": "-foo", "foo.": "foo-",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := NormalizePyPI(in); got != want {
				t.Errorf("NormalizePyPI(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestNameMatches(t *testing.T) {
	tests := []struct {
		eco, record, pkg string
		want             bool
	}{
		{"PyPI", "Foo_Bar.baz", "foo-bar-baz", true},
		{"PyPI", "Foo_Bar.baz", "FOO__BAR-BAZ", true},
		{"PyPI", "foobar", "foo-bar", false},
		{"npm", "lodash", "lodash", true},
		{"npm", "lodash", "Lodash", false},
		{"npm", "@babel/core", "@babel/core", true},
		{"Go", "golang.org/x/net", "golang.org/x/net", true},
		{"Go", "golang.org/x/net", "golang.org/x/net/http2", false},
		{"Debian:12", "libfoo", "libfoo", true},
	}
	for _, tt := range tests {
		t.Run(tt.eco+"_"+tt.record+"_"+tt.pkg, func(t *testing.T) {
			if got := NameMatches(tt.eco, tt.record, tt.pkg); got != tt.want {
				t.Errorf("NameMatches(%q, %q, %q) = %v, want %v", tt.eco, tt.record, tt.pkg, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{debianRecord, alpineRecord, goRecord, pypiRecord, npmGHSARecord, withdrawnRecord, unsortedRecord, `{}`, `{"id":"x"}`} {
		f.Add([]byte(s), "npm", "lodash", "1.0.0")
	}
	f.Fuzz(func(t *testing.T, data []byte, eco, name, ver string) {
		v, err := Parse(data)
		if err != nil {
			return
		}
		affected, fixed, _ := v.Affects(eco, name, ver)
		if !affected && fixed != "" {
			t.Fatalf("not affected but fixed = %q", fixed)
		}
	})
}

// FuzzAffects evaluates the fixtures against arbitrary versions: no
// panic, no fixed version without a hit, and a reported fixed version is
// always above the package's.
func FuzzAffects(f *testing.F) {
	records := []string{debianRecord, alpineRecord, goRecord, pypiRecord, npmGHSARecord, unsortedRecord}
	for i, v := range []string{"1.2.3-1", "3.1.4-r4", "v1.21.0", "2.0rc1", "4.17.20", "5.0", "1:0.1", "1.21.0-0"} {
		f.Add(uint8(i), v)
	}
	parsed := make([]Vulnerability, len(records))
	for i, r := range records {
		v, err := Parse([]byte(r))
		if err != nil {
			f.Fatal(err)
		}
		parsed[i] = v
	}
	f.Fuzz(func(t *testing.T, which uint8, ver string) {
		v := parsed[int(which)%len(parsed)]
		for _, a := range v.Affected {
			affected, fixed, _ := v.Affects(a.Package.Ecosystem, a.Package.Name, ver)
			if !affected && fixed != "" {
				t.Fatalf("%s: not affected but fixed = %q", v.ID, fixed)
			}
			if fixed == "" {
				continue
			}
			scheme, _ := version.Of(a.Package.Ecosystem)
			if c, err := version.Compare(scheme, ver, fixed); err != nil || c >= 0 {
				t.Fatalf("%s: %q affected with fixed %q not above it (%d, %v)", v.ID, ver, fixed, c, err)
			}
		}
	})
}
