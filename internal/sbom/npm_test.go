package sbom

import (
	"strings"
	"testing"
)

const npmLockV3 = `{
  "name": "web",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "web", "version": "1.0.0", "dependencies": {"express": "^4.18.2"}, "devDependencies": {"jest": "^29.0.0"}},
    "node_modules/express": {"version": "4.18.2", "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz", "integrity": "sha512-x"},
    "node_modules/@babel/core": {"version": "7.23.0", "dev": true},
    "node_modules/jest": {"version": "29.7.0", "dev": true},
    "node_modules/express/node_modules/debug": {"version": "2.6.9"},
    "node_modules/@types/node": {"version": "20.10.0", "devOptional": true},
    "node_modules/web-shared": {"resolved": "packages/shared", "link": true},
    "packages/shared": {"name": "web-shared", "version": "0.0.1"}
  }
}`

const npmLockV1 = `{
  "name": "legacy",
  "version": "0.1.0",
  "lockfileVersion": 1,
  "requires": true,
  "dependencies": {
    "lodash": {"version": "4.17.20", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz"},
    "mocha": {"version": "8.0.0", "dev": true, "dependencies": {"ms": {"version": "2.1.2", "dev": true}}},
    "send": {"version": "0.17.1", "dependencies": {"ms": {"version": "2.1.1"}}}
  }
}`

func TestNPM(t *testing.T) {
	r := build(t, Options{}, []entry{
		file("srv/web/package-lock.json", npmLockV3),
		file("srv/web/node_modules/express/package.json", `{"name":"express","version":"4.18.2","description":"Fast"}`),
		file("srv/web/node_modules/@types/node/package.json", `{"name":"@types/node","version":"20.10.0"}`),
		file("srv/web/node_modules/express/lib/package.json", `{"name":"not-a-package","version":"9.9.9"}`),
		file("srv/web/node_modules/express/package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/x":{"version":"1.0.0"}}}`),
		file("srv/web/node_modules/.package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/express":{"version":"4.18.2"}}}`),
		file("opt/legacy/package-lock.json", npmLockV1),
		file("usr/lib/node_modules/npm/package.json", `{"name":"npm","version":"10.2.4"}`),
		file("usr/lib/node_modules/npm/node_modules/semver/package.json", `{"name":"semver","version":"7.5.4"}`),
		file("usr/lib/node_modules/bad/package.json", `{"name":`),
	})
	want := []string{
		"npm @types/node 20.10.0 /srv/web/node_modules/@types/node/package.json,/srv/web/package-lock.json",
		"npm debug 2.6.9 /srv/web/package-lock.json",
		"npm express 4.18.2 /srv/web/node_modules/.package-lock.json,/srv/web/node_modules/express/package.json,/srv/web/package-lock.json",
		"npm lodash 4.17.20 /opt/legacy/package-lock.json",
		"npm ms 2.1.1 /opt/legacy/package-lock.json",
		"npm npm 10.2.4 /usr/lib/node_modules/npm/package.json",
		"npm semver 7.5.4 /usr/lib/node_modules/npm/node_modules/semver/package.json",
		"npm send 0.17.1 /opt/legacy/package-lock.json",
	}
	if got := summary(r.Packages); !equalStrings(got, want) {
		t.Fatalf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tests := []struct{ name, purl string }{
		{"@types/node", "pkg:npm/%40types/node@20.10.0"},
		{"express", "pkg:npm/express@4.18.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := findPackage(r, TypeNPM, tt.name)
			if p.PURL != tt.purl || p.Ecosystem != "npm" {
				t.Errorf("%+v, want purl %s", p, tt.purl)
			}
		})
	}
	if !hasWarning(r, "usr/lib/node_modules/bad/package.json") {
		t.Errorf("no warning for the broken package.json: %q", r.Warnings)
	}
}

func TestParseNPMLockNesting(t *testing.T) {
	deep := `{"version":"1.0.0"}`
	for i := 0; i < 200; i++ {
		deep = `{"version":"1.0.0","dependencies":{"a":` + deep + `}}`
	}
	tests := []struct {
		name    string
		data    string
		min     int
		warning string
	}{
		{"deep v1 tree", `{"lockfileVersion":1,"dependencies":{"a":` + deep + `}}`, 100, "nested deeper"},
		{"not json", "\x00\x01", 0, "not a valid"},
		{"wrong types", `{"lockfileVersion":"3","packages":[]}`, 0, "not a valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, warns := parseNPMLock("app/package-lock.json", []byte(tt.data))
			if len(pkgs) < tt.min {
				t.Errorf("%d packages, want at least %d", len(pkgs), tt.min)
			}
			if !strings.Contains(strings.Join(warns, ";"), tt.warning) {
				t.Errorf("warnings %q, want %q", warns, tt.warning)
			}
		})
	}
}
