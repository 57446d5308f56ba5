package sbom

import (
	"strings"
	"testing"
)

const pyMeta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: x\n\nLong description\nName: not-this\n"

func pyMetadata(name, version string) string {
	return strings.Replace(strings.Replace(pyMeta, "%s", name, 1), "%s", version, 1)
}

func TestWhiteouts(t *testing.T) {
	base := []entry{
		dir("etc/"), file("etc/os-release", debianOSRelease),
		file("var/lib/dpkg/status", dpkgStatus),
		file("usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA", pyMetadata("requests", "2.28.1")),
		file("usr/lib/python3/dist-packages/idna-3.3.dist-info/METADATA", pyMetadata("idna", "3.3")),
		file("usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA", pyMetadata("six", "1.16.0")),
		file("app/node_modules/left-pad/package.json", `{"name":"left-pad","version":"1.3.0"}`),
	}
	tests := []struct {
		name   string
		layers [][]entry
		want   []string
	}{
		{
			name: "whiteout deletes a directory and a new status replaces the old",
			layers: [][]entry{base, {
				whiteout("usr/lib/python3/dist-packages/requests-2.28.1.dist-info"),
				file("var/lib/dpkg/status", "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.13-1~deb12u1\nArchitecture: amd64\n"),
			}},
			want: []string{
				"deb libssl3 3.0.13-1~deb12u1 /var/lib/dpkg/status",
				"npm left-pad 1.3.0 /app/node_modules/left-pad/package.json",
				"python idna 3.3 /usr/lib/python3/dist-packages/idna-3.3.dist-info/METADATA",
				"python six 1.16.0 /usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
			},
		},
		{
			name: "opaque directory hides lower content but keeps its own layer's",
			layers: [][]entry{base, {
				dir("usr/lib/python3/dist-packages/"),
				file("usr/lib/python3/dist-packages/urllib3-2.0.7.dist-info/METADATA", pyMetadata("urllib3", "2.0.7")),
				opaque("usr/lib/python3/dist-packages"),
				whiteout("var/lib/dpkg/status"),
				whiteout("app"),
			}},
			want: []string{
				"python six 1.16.0 /usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
				"python urllib3 2.0.7 /usr/lib/python3/dist-packages/urllib3-2.0.7.dist-info/METADATA",
			},
		},
		{
			name: "a file replaces a directory, a directory replaces a file",
			layers: [][]entry{base, {
				file("usr/local/lib/python3.11", "not a directory any more"),
				dir("var/lib/dpkg/status/"),
			}},
			want: []string{
				"npm left-pad 1.3.0 /app/node_modules/left-pad/package.json",
				"python idna 3.3 /usr/lib/python3/dist-packages/idna-3.3.dist-info/METADATA",
				"python requests 2.28.1 /usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
			},
		},
		{
			name: "deleted then re-added in a later layer",
			layers: [][]entry{base, {whiteout("app"), whiteout("var")}, {
				file("app/node_modules/left-pad/package.json", `{"name":"left-pad","version":"1.3.1"}`),
			}},
			want: []string{
				"npm left-pad 1.3.1 /app/node_modules/left-pad/package.json",
				"python idna 3.3 /usr/lib/python3/dist-packages/idna-3.3.dist-info/METADATA",
				"python requests 2.28.1 /usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA",
				"python six 1.16.0 /usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
			},
		},
		{
			name: "root opaque marker clears everything below",
			layers: [][]entry{base, {
				file(".wh..wh..opq", ""),
				file("usr/lib/python3/dist-packages/idna-3.7.dist-info/METADATA", pyMetadata("idna", "3.7")),
			}},
			want: []string{
				"python idna 3.7 /usr/lib/python3/dist-packages/idna-3.7.dist-info/METADATA",
			},
		},
		{
			name: "hard link to a candidate, then the original is deleted",
			layers: [][]entry{{
				file("usr/lib/python3/dist-packages/a-1.dist-info/METADATA", pyMetadata("a", "1")),
				hardlink("usr/lib/python3/dist-packages/b-1.dist-info/METADATA", "usr/lib/python3/dist-packages/a-1.dist-info/METADATA"),
			}, {whiteout("usr/lib/python3/dist-packages/a-1.dist-info")}},
			want: []string{
				"python a 1 /usr/lib/python3/dist-packages/b-1.dist-info/METADATA",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, tt.layers...)
			if got := summary(r.Packages); !equalStrings(got, tt.want) {
				t.Fatalf("packages:\n%s\nwant:\n%s\nwarnings %q", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), r.Warnings)
			}
		})
	}
}

func TestOSDetection(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]entry
		want   OS
	}{
		{"etc/os-release", [][]entry{{file("etc/os-release", debianOSRelease)}}, OS{"debian", "12", "Debian GNU/Linux 12 (bookworm)"}},
		{"relative symlink to usr/lib", [][]entry{{
			symlink("etc/os-release", "../usr/lib/os-release"),
			file("usr/lib/os-release", ubuntuOSRelease),
		}}, OS{"ubuntu", "22.04", "Ubuntu 22.04.4 LTS"}},
		{"absolute symlink through merged-usr lib", [][]entry{{
			symlink("lib", "usr/lib"),
			file("usr/lib/os-release", rockyOSRelease),
			symlink("etc/os-release", "/lib/os-release"),
		}}, OS{"rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)"}},
		{"symlink loop falls back", [][]entry{{
			symlink("etc/os-release", "os-release2"),
			symlink("etc/os-release2", "os-release"),
			file("etc/debian_version", "11.9\n"),
		}}, OS{"debian", "11", "Debian GNU/Linux 11.9"}},
		{"usr/lib when etc is deleted", [][]entry{{
			file("etc/os-release", debianOSRelease),
			file("usr/lib/os-release", alpineOSRelease),
		}, {whiteout("etc/os-release")}}, OS{"alpine", "3.19.1", "Alpine Linux v3.19"}},
		{"alpine-release", [][]entry{{file("etc/alpine-release", "3.18.6\n")}}, OS{"alpine", "3.18.6", "Alpine Linux v3.18"}},
		{"debian_version codename only", [][]entry{{file("etc/debian_version", "bookworm/sid\n")}}, OS{"debian", "", "Debian GNU/Linux bookworm/sid"}},
		{"nothing", [][]entry{{file("etc/hostname", "x")}}, OS{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, tt.layers...)
			if r.OS != tt.want {
				t.Errorf("OS %+v, want %+v", r.OS, tt.want)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	kv := parseOSRelease([]byte("# comment\nID=\"quoted\\\"id\"\nNAME='single'\nBAD LINE\nVERSION_ID=1\x00\nEMPTY=\n"))
	tests := []struct{ key, want string }{
		{"ID", `quoted"id`},
		{"NAME", "single"},
		{"VERSION_ID", ""},
		{"EMPTY", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if kv[tt.key] != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, kv[tt.key], tt.want)
			}
		})
	}
}
