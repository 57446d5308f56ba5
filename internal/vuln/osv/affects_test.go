package osv

import "testing"

type affectsCase struct {
	eco, name, version string
	affected           bool
	fixed              string
	wantErr            bool
}

func checkAffects(t *testing.T, record string, cases []affectsCase) {
	t.Helper()
	v := mustParse(t, record)
	for _, tc := range cases {
		t.Run(tc.eco+"/"+tc.name+"@"+tc.version, func(t *testing.T) {
			affected, fixed, err := v.Affects(tc.eco, tc.name, tc.version)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Affects error = %v, want error %v", err, tc.wantErr)
			}
			if affected != tc.affected || fixed != tc.fixed {
				t.Errorf("Affects(%q, %q, %q) = %v, %q; want %v, %q", tc.eco, tc.name, tc.version, affected, fixed, tc.affected, tc.fixed)
			}
		})
	}
}

func TestAffectsDebian(t *testing.T) {
	checkAffects(t, debianRecord, []affectsCase{
		{"Debian:12", "libfoo", "1.2.3-1", true, "1.2.3-1+deb12u1", false},
		{"Debian:12", "libfoo", "1.2.2-1", true, "1.2.3-1+deb12u1", false},
		{"Debian:12", "libfoo", "1.2.3~rc1-1", true, "1.2.3-1+deb12u1", false},
		{"Debian:12", "libfoo", "0.1-1", true, "1.2.3-1+deb12u1", false},
		{"Debian:12", "libfoo", "1.2.3-1+deb12u1", false, "", false},
		{"Debian:12", "libfoo", "1.2.3-1+deb12u2", false, "", false},
		{"Debian:12", "libfoo", "1.2.3-2", false, "", false},
		{"Debian:12", "libfoo", "1:0.1-1", false, "", false},
		{"Debian:11", "libfoo", "1.2.3-1", false, "", false},
		{"Debian", "libfoo", "1.2.3-1", false, "", false},
		{"Ubuntu:22.04:LTS", "libfoo", "1.2.3-1", false, "", false},
		{"Debian:12", "libfoo2", "1.2.3-1", false, "", false},
		{"Debian:12", "libfoo", "not a version!", false, "", true},
	})
}

func TestAffectsAlpine(t *testing.T) {
	checkAffects(t, alpineRecord, []affectsCase{
		{"Alpine:v3.19", "openssl", "3.1.4-r4", true, "3.1.4-r5", false},
		{"Alpine:v3.19", "openssl", "3.1.4-r0", true, "3.1.4-r5", false},
		{"Alpine:v3.19", "openssl", "3.1.4", true, "3.1.4-r5", false},
		{"Alpine:v3.19", "openssl", "3.1.4_rc1-r9", true, "3.1.4-r5", false},
		{"Alpine:v3.19", "openssl", "3.1.4-r5", false, "", false},
		{"Alpine:v3.19", "openssl", "3.1.4-r10", false, "", false},
		{"Alpine:v3.19", "openssl", "3.1.5-r0", false, "", false},
		{"Alpine:3.19", "openssl", "3.1.4-r4", true, "3.1.4-r5", false},
		{"Alpine:v3.18", "openssl", "3.1.4-r4", false, "", false},
		{"Alpine:v3.19", "libssl3", "3.1.4-r4", false, "", false},
		{"Alpine:v3.19", "openssl", "3.1.4-1", false, "", true},
	})
}

func TestAffectsGo(t *testing.T) {
	checkAffects(t, goRecord, []affectsCase{
		{"Go", "golang.org/x/net", "v0.16.0", true, "0.17.0", false},
		{"Go", "golang.org/x/net", "0.16.0", true, "0.17.0", false},
		{"Go", "golang.org/x/net", "v0.0.0-20230101000000-abcdef123456", true, "0.17.0", false},
		{"Go", "golang.org/x/net", "v0.17.0-rc.1", true, "0.17.0", false},
		{"Go", "golang.org/x/net", "v0.17.0", false, "", false},
		{"Go", "golang.org/x/net", "v0.17.1-0.20231010000000-abcdef123456", false, "", false},
		{"Go", "golang.org/x/net", "v0.18.0", false, "", false},
		{"Go", "stdlib", "v1.20.9", true, "1.20.10", false},
		{"Go", "stdlib", "1.19.0", true, "1.20.10", false},
		{"Go", "stdlib", "v1.20.10", false, "", false},
		{"Go", "stdlib", "1.20.11", false, "", false},
		{"Go", "stdlib", "v1.21.0-rc.2", true, "1.21.3", false},
		{"Go", "stdlib", "v1.21.0", true, "1.21.3", false},
		{"Go", "stdlib", "v1.21.2", true, "1.21.3", false},
		{"Go", "stdlib", "v1.21.3", false, "", false},
		{"Go", "stdlib", "v1.22.0", false, "", false},
		{"Go", "golang.org/x/crypto", "v0.1.0", false, "", false},
		{"npm", "golang.org/x/net", "0.1.0", false, "", false},
		{"Go", "golang.org/x/net", "b225e7ca", false, "", true},
	})
}

func TestAffectsPyPIVersionsList(t *testing.T) {
	checkAffects(t, pypiRecord, []affectsCase{
		{"PyPI", "foo-bar-baz", "1.0", true, "", false},
		{"PyPI", "foo-bar-baz", "1.0.0", true, "", false},
		{"PyPI", "FOO_BAR_BAZ", "1.1", true, "", false},
		{"PyPI", "foo.bar.baz", "2.0RC1", true, "", false},
		{"PyPI", "foo-bar-baz", "2.0", true, "", false},
		{"PyPI", "foo-bar-baz", "1.2", false, "", false},
		{"PyPI", "foo-bar-baz", "2.0.post1", false, "", false},
		{"PyPI", "foobarbaz", "1.0", false, "", false},
		{"npm", "foo-bar-baz", "1.0", false, "", false},
	})
}

func TestAffectsNPM(t *testing.T) {
	checkAffects(t, npmGHSARecord, []affectsCase{
		{"npm", "lodash", "4.17.20", true, "4.17.21", false},
		{"npm", "lodash", "1.0.0", true, "4.17.21", false},
		{"npm", "lodash", "4.17.21", false, "", false},
		{"npm", "lodash", "4.17.21-pre", true, "4.17.21", false},
		{"npm", "lodash", "5.0.0-alpha.1", true, "", false},
		{"npm", "lodash", "5.0.0-alpha.3", true, "", false},
		{"npm", "lodash", "5.0.0-alpha.4", false, "", false},
		{"npm", "lodash", "5.0.0", false, "", false},
		{"npm", "lodash-es", "4.17.0", true, "4.17.21", false},
		{"npm", "Lodash", "4.17.0", false, "", false},
	})
}

func TestAffectsWithdrawn(t *testing.T) {
	checkAffects(t, withdrawnRecord, []affectsCase{
		{"npm", "lodash", "4.17.20", false, "", false},
		{"npm", "lodash", "0.0.1", false, "", false},
	})
}

func TestAffectsUnsortedEventsAndLimit(t *testing.T) {
	checkAffects(t, unsortedRecord, []affectsCase{
		{"PyPI", "tool", "0.5", true, "1.0", false},
		{"PyPI", "tool", "1.0", false, "", false},
		{"PyPI", "tool", "1.2", false, "", false},
		{"PyPI", "tool", "1.5", true, "2.0", false},
		{"PyPI", "tool", "1.9.9", true, "2.0", false},
		{"PyPI", "tool", "2.0", false, "", false},
		{"PyPI", "tool", "3.0", true, "", false},
		{"PyPI", "tool", "3.2", true, "", false},
		{"PyPI", "tool", "3.2.post1", false, "", false},
		{"PyPI", "tool", "3.3", false, "", false},
		{"PyPI", "tool", "5.0", true, "5.2", false},
		{"PyPI", "tool", "5.1", false, "", false}, // at the limit: outside the range
		{"PyPI", "tool", "5.3", false, "", false},
	})
}

func TestAffectsSmallestFixedAcrossEntries(t *testing.T) {
	const rec = `{"id":"X-2","affected":[
	  {"package":{"ecosystem":"Debian","name":"curl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"7.88.1-10+deb12u5"}]}]},
	  {"package":{"ecosystem":"Debian:12","name":"curl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"7.0-1"},{"fixed":"7.88.1-10+deb12u2"}]}]},
	  {"package":{"ecosystem":"Debian:11","name":"curl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"7.74.0-1.3+deb11u1"}]}]}
	]}`
	checkAffects(t, rec, []affectsCase{
		{"Debian:12", "curl", "7.88.1-10", true, "7.88.1-10+deb12u2", false},
		{"Debian:12", "curl", "7.88.1-10+deb12u3", true, "7.88.1-10+deb12u5", false},
		{"Debian:12", "curl", "6.0-1", true, "7.88.1-10+deb12u5", false},
		{"Debian:11", "curl", "7.74.0-1.3", true, "7.74.0-1.3+deb11u1", false},
		{"Debian:13", "curl", "8.0-1", false, "", false},
	})
}

func TestAffectsBadRecordVersion(t *testing.T) {
	const rec = `{"id":"X-3","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},"ranges":[
	  {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0 beta"}]},
	  {"type":"ECOSYSTEM","events":[{"introduced":"2.0"},{"fixed":"2.1"}]}
	]}]}`
	checkAffects(t, rec, []affectsCase{
		{"Debian:12", "foo", "0.5", false, "", true},
		{"Debian:12", "foo", "2.0.1", true, "2.1", true},
	})
}

func TestAffectsVersionsListWithRanges(t *testing.T) {
	const rec = `{"id":"X-4","affected":[{"package":{"ecosystem":"PyPI","name":"pkg"},
	  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"1.1"}]}],
	  "versions":["0.9","1.0","1.0.1"]}]}`
	checkAffects(t, rec, []affectsCase{
		{"PyPI", "pkg", "0.9", true, "1.1", false},   // listed only
		{"PyPI", "pkg", "1.0.1", true, "1.1", false}, // listed and in range
		{"PyPI", "pkg", "1.0.5", true, "1.1", false}, // in range only
		{"PyPI", "pkg", "0.8", false, "", false},
		{"PyPI", "pkg", "1.1", false, "", false},
	})
}
