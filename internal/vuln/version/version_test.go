package version

import (
	"errors"
	"fmt"
	"testing"
)

// pair is one comparison case: Compare(a, b) must be want, and
// Compare(b, a) must be -want.
type pair struct {
	a, b string
	want int
}

func checkPairs(t *testing.T, eco Ecosystem, cases []pair) {
	t.Helper()
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s_vs_%s", tc.a, tc.b), func(t *testing.T) {
			got, err := Compare(eco, tc.a, tc.b)
			if err != nil {
				t.Fatalf("Compare(%v, %q, %q): %v", eco, tc.a, tc.b, err)
			}
			if got != tc.want {
				t.Errorf("Compare(%v, %q, %q) = %d, want %d", eco, tc.a, tc.b, got, tc.want)
			}
			back, err := Compare(eco, tc.b, tc.a)
			if err != nil {
				t.Fatalf("Compare(%v, %q, %q): %v", eco, tc.b, tc.a, err)
			}
			if back != -tc.want {
				t.Errorf("Compare(%v, %q, %q) = %d, want %d", eco, tc.b, tc.a, back, -tc.want)
			}
		})
	}
}

// checkLadder checks that versions are in strictly ascending order, every
// pair of them.
func checkLadder(t *testing.T, eco Ecosystem, ladder []string) {
	t.Helper()
	for i := range ladder {
		for j := range ladder {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			got, err := Compare(eco, ladder[i], ladder[j])
			if err != nil {
				t.Fatalf("Compare(%v, %q, %q): %v", eco, ladder[i], ladder[j], err)
			}
			if got != want {
				t.Errorf("Compare(%v, %q, %q) = %d, want %d", eco, ladder[i], ladder[j], got, want)
			}
		}
	}
}

func checkInvalid(t *testing.T, eco Ecosystem, bad []string) {
	t.Helper()
	for _, v := range bad {
		t.Run(fmt.Sprintf("invalid_%q", v), func(t *testing.T) {
			if _, err := Compare(eco, v, "1"); err == nil {
				t.Errorf("Compare(%v, %q, \"1\") = nil error, want an error", eco, v)
			} else {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Version != v || pe.Scheme != eco {
					t.Errorf("error %v is not a ParseError for %q", err, v)
				}
			}
			if _, err := Compare(eco, "1", v); err == nil {
				t.Errorf("Compare(%v, \"1\", %q) = nil error, want an error", eco, v)
			}
			if err := Validate(eco, v); err == nil {
				t.Errorf("Validate(%v, %q) = nil", eco, v)
			}
		})
	}
}

// fuzzOrder is the body of every comparator's fuzz target: no panic, and
// a consistent order (reflexive, antisymmetric, transitive) on whatever
// parses.
func fuzzOrder(f *testing.F, eco Ecosystem, seeds []string) {
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)], seeds[(i+3)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, err := Compare(eco, a, b)
		if err != nil {
			_, _ = Compare(eco, b, c)
			return
		}
		if aa, _ := Compare(eco, a, a); aa != 0 {
			t.Fatalf("Compare(%q, %q) = %d, want 0", a, a, aa)
		}
		if ba, _ := Compare(eco, b, a); ba != -ab {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		bc, err := Compare(eco, b, c)
		if err != nil {
			return
		}
		ac, _ := Compare(eco, a, c)
		if (ab <= 0 && bc <= 0 && ac > 0) || (ab >= 0 && bc >= 0 && ac < 0) {
			t.Fatalf("not transitive: %q ? %q = %d, %q ? %q = %d, %q ? %q = %d", a, b, ab, b, c, bc, a, c, ac)
		}
	})
}

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		want Ecosystem
		ok   bool
	}{
		{"Debian", Dpkg, true},
		{"Debian:12", Dpkg, true},
		{"Ubuntu", Dpkg, true},
		{"Ubuntu:22.04:LTS", Dpkg, true},
		{"Ubuntu:Pro:18.04:LTS", Dpkg, true},
		{"Alpine", Apk, true},
		{"Alpine:v3.19", Apk, true},
		{"Wolfi", Apk, true},
		{"Chainguard", Apk, true},
		{"Red Hat", RPM, true},
		{"Red Hat:enterprise_linux:9::appstream", RPM, true},
		{"Rocky Linux", RPM, true},
		{"Rocky Linux:9", RPM, true},
		{"AlmaLinux", RPM, true},
		{"AlmaLinux:8", RPM, true},
		{"openSUSE", RPM, true},
		{"SUSE", RPM, true},
		{"SUSE:Linux Enterprise Server 15 SP5", RPM, true},
		{"Mageia", RPM, true},
		{"Photon OS", RPM, true},
		{"Photon OS:5.0", RPM, true},
		{"Go", SemVer, true},
		{"npm", SemVer, true},
		{"crates.io", SemVer, true},
		{"NuGet", SemVer, true},
		{"Packagist", SemVer, true},
		{"Hex", SemVer, true},
		{"Pub", SemVer, true},
		{"PyPI", PEP440, true},
		{"Maven", Generic, true},
		{"RubyGems", Generic, true},
		{"pypi", PEP440, true},
		{"GIT", Generic, false},
		{"", Generic, false},
		{"Haiku", Generic, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Of(tt.name)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Of(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCompareUnknownScheme(t *testing.T) {
	for _, eco := range []Ecosystem{-1, 42} {
		t.Run(eco.String(), func(t *testing.T) {
			if _, err := Compare(eco, "1", "1"); err == nil {
				t.Errorf("Compare(%v) = nil error", eco)
			}
		})
	}
}

func TestEcosystemString(t *testing.T) {
	tests := map[Ecosystem]string{Dpkg: "dpkg", Apk: "apk", RPM: "rpm", SemVer: "semver", PEP440: "pep440", Generic: "generic", 9: "Ecosystem(9)"}
	for eco, want := range tests {
		t.Run(want, func(t *testing.T) {
			if got := eco.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestCmpNum(t *testing.T) {
	tests := []pair{
		{"0", "0", 0}, {"0", "000", 0}, {"1", "01", 0}, {"9", "10", -1},
		{"99999999999999999999999", "99999999999999999999998", 1},
		{"100000000000000000000000000", "9", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+"_"+tc.b, func(t *testing.T) {
			if got := cmpNum(tc.a, tc.b); got != tc.want {
				t.Errorf("cmpNum(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}
