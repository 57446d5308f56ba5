package sbom

import (
	"strings"
	"testing"
)

const dpkgStatus = `Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Conffiles:
 /etc/debian_version 8bd4f5f1dd9d4d0b2b1a9a0a45e3d5b1
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system.

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6160
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries

Package: libc6
Status: hold ok installed
Architecture: amd64
Source: glibc (2.36-9+deb12u4)
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

Package: vim-tiny
Status: deinstall ok config-files
Architecture: amd64
Source: vim
Version: 2:9.0.1378-2
Description: Vi IMproved - enhanced vi editor - compact version

Package: half
Status: install ok half-installed
Architecture: amd64
Version: 1.0-1
`

func TestDpkgStatus(t *testing.T) {
	tests := []struct {
		name      string
		osRelease string
		want      []string
		eco       string
		purl      string // of libssl3
	}{
		{
			name:      "debian",
			osRelease: debianOSRelease,
			want: []string{
				"deb base-files 12.4+deb12u5 /var/lib/dpkg/status",
				"deb libc6 2.36-9+deb12u4 /var/lib/dpkg/status",
				"deb libssl3 3.0.11-1~deb12u2 /var/lib/dpkg/status",
			},
			eco:  "Debian:12",
			purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
		},
		{
			name:      "ubuntu",
			osRelease: ubuntuOSRelease,
			want: []string{
				"deb base-files 12.4+deb12u5 /var/lib/dpkg/status",
				"deb libc6 2.36-9+deb12u4 /var/lib/dpkg/status",
				"deb libssl3 3.0.11-1~deb12u2 /var/lib/dpkg/status",
			},
			eco:  "Ubuntu:22.04",
			purl: "pkg:deb/ubuntu/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=ubuntu-22.04&upstream=openssl",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, []entry{
				dir("etc/"), file("etc/os-release", tt.osRelease),
				file("var/lib/dpkg/status", dpkgStatus),
			})
			if got := summary(r.Packages); !equalStrings(got, tt.want) {
				t.Fatalf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, p := range r.Packages {
				if p.Ecosystem != tt.eco {
					t.Errorf("%s: ecosystem %q, want %q", p.Name, p.Ecosystem, tt.eco)
				}
			}
			ssl, _ := findPackage(r, TypeDeb, "libssl3")
			if ssl.Source != "openssl" || ssl.PURL != tt.purl {
				t.Errorf("libssl3: source %q purl %q, want openssl %q", ssl.Source, ssl.PURL, tt.purl)
			}
			libc, _ := findPackage(r, TypeDeb, "libc6")
			if libc.Source != "glibc" || !strings.Contains(libc.PURL, "@2.36-9%2Bdeb12u4?") {
				t.Errorf("libc6: source %q purl %q", libc.Source, libc.PURL)
			}
			base, _ := findPackage(r, TypeDeb, "base-files")
			if base.Source != "base-files" {
				t.Errorf("base-files: source %q, want its own name", base.Source)
			}
			if len(r.Warnings) != 0 {
				t.Errorf("warnings: %q", r.Warnings)
			}
		})
	}
}

func TestDpkgDistroless(t *testing.T) {
	r := build(t, Options{}, []entry{
		symlink("etc/os-release", "../usr/lib/os-release"),
		file("usr/lib/os-release", "PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n"),
		file("var/lib/dpkg/status.d/libssl3", "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n"),
		file("var/lib/dpkg/status.d/libssl3.md5sums", "0123456789abcdef  usr/lib/x86_64-linux-gnu/libssl.so.3\n"),
		file("var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"),
	})
	want := []string{
		"deb libssl3 3.0.11-1~deb12u2 /var/lib/dpkg/status.d/libssl3",
		"deb tzdata 2024a-0+deb12u1 /var/lib/dpkg/status.d/tzdata",
	}
	if got := summary(r.Packages); !equalStrings(got, want) {
		t.Fatalf("packages %q, want %q", got, want)
	}
	if r.OS != (OS{ID: "debian", VersionID: "12", PrettyName: "Distroless"}) {
		t.Errorf("OS %+v", r.OS)
	}
	if r.Packages[0].Ecosystem != "Debian:12" || r.Packages[1].Source != "tzdata" {
		t.Errorf("packages %+v", r.Packages)
	}
}

func TestParseDpkgMalformed(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantPkgs int
		warning  string
	}{
		{"binary junk", "\x00\x01\x02\xff\xfe garbage\n\x7fELF\x02\x01\n", 0, "malformed lines"},
		{"junk around a stanza", "\xff\xff\nPackage: a\nStatus: install ok installed\nVersion: 1\n\n\x00\x00", 1, "malformed lines"},
		{"huge line", "Package: a\nStatus: install ok installed\nVersion: 1\nDescription: " + strings.Repeat("x", 2*maxLine) + "\n", 1, "longer than"},
		{"huge name", "Package: " + strings.Repeat("a", 1000) + "\nStatus: install ok installed\nVersion: 1\n", 0, "invalid package name"},
		{"name with control bytes", "Package: a\x01b\nStatus: install ok installed\nVersion: 1\n", 0, "invalid package name"},
		{"no version", "Package: a\nStatus: install ok installed\n", 0, "invalid package name"},
		{"crlf", "Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, warns := parseDpkgStatus([]byte(tt.data), true)
			if len(pkgs) != tt.wantPkgs {
				t.Errorf("%d packages %+v, want %d", len(pkgs), pkgs, tt.wantPkgs)
			}
			got := strings.Join(warns, "; ")
			if tt.warning == "" && got != "" || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings %q, want one containing %q", got, tt.warning)
			}
			for _, p := range pkgs {
				if p.Name != "a" || p.Version != "1" {
					t.Errorf("package %+v", p)
				}
			}
		})
	}
}
