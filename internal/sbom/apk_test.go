package sbom

import (
	"strings"
	"testing"
)

const apkInstalled = `C:Q1Ef4Tr7B6ZyH2Kn5Ar3G6Ys4x8p0=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:663552
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1700000000
c:4fe9c1a2b3c4d5e6f708192a3b4c5d6e7f809112
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1xyz=

C:Q1abc=
P:libcrypto3
V:3.1.4-r5
A:x86_64
o:openssl
p:so:libcrypto.so.3=3
F:lib
R:libcrypto.so.3

P:busybox-binsh
V:1.36.1-r15
A:x86_64
o:busybox
`

func TestAPK(t *testing.T) {
	tests := []struct {
		name      string
		osRelease string
		eco       string
		distro    string
	}{
		{"alpine", alpineOSRelease, "Alpine:v3.19", "alpine-3.19.1"},
		{"wolfi", "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=20230201\n", "Wolfi", "wolfi-20230201"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, []entry{
				file("etc/os-release", tt.osRelease),
				file("lib/apk/db/installed", apkInstalled),
			})
			want := []string{
				"apk busybox-binsh 1.36.1-r15 /lib/apk/db/installed",
				"apk libcrypto3 3.1.4-r5 /lib/apk/db/installed",
				"apk musl 1.2.4_git20230717-r4 /lib/apk/db/installed",
			}
			if got := summary(r.Packages); !equalStrings(got, want) {
				t.Fatalf("packages %q, want %q", got, want)
			}
			c, _ := findPackage(r, TypeAPK, "libcrypto3")
			wantPURL := "pkg:apk/" + r.OS.ID + "/libcrypto3@3.1.4-r5?arch=x86_64&distro=" + tt.distro + "&upstream=openssl"
			if c.Source != "openssl" || c.Ecosystem != tt.eco || c.PURL != wantPURL {
				t.Errorf("libcrypto3 %+v, want source openssl, ecosystem %s, purl %s", c, tt.eco, wantPURL)
			}
			m, _ := findPackage(r, TypeAPK, "musl")
			if m.Source != "musl" || strings.Contains(m.PURL, "upstream") {
				t.Errorf("musl %+v", m)
			}
		})
	}
}

func TestParseAPKMalformed(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    int
		warning string
	}{
		{"junk", "\x00\x00\x00\xff", 0, "malformed"},
		{"provides is not the name", "p:so:libc.so=1\nV:1\n", 0, "invalid"},
		{"huge version", "P:a\nV:" + strings.Repeat("1", 300) + "\n", 0, "invalid"},
		{"no trailing newline", "P:a\nV:1", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, warns := parseAPK([]byte(tt.data))
			if len(pkgs) != tt.want {
				t.Errorf("packages %+v, want %d", pkgs, tt.want)
			}
			got := strings.Join(warns, ";")
			if tt.warning == "" && got != "" || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}
