package sbom

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// entry is one tar entry of a test layer.
type entry struct {
	name string
	typ  byte
	body []byte
	link string
	mode int64
}

func file(name, body string) entry {
	return entry{name: name, typ: tar.TypeReg, body: []byte(body), mode: 0o644}
}
func binFile(name string, body []byte, mode int64) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: mode}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: to, mode: 0o777}
}
func hardlink(name, to string) entry {
	return entry{name: name, typ: tar.TypeLink, link: to, mode: 0o644}
}
func whiteout(p string) entry     { return file(whiteoutName(p), "") }
func opaque(dirName string) entry { return file(strings.TrimSuffix(dirName, "/")+"/"+opaqueMarker, "") }
func whiteoutName(p string) string {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1] + whiteoutPrefix + p[i+1:]
}

// tarBytes encodes entries as a tar stream.
func tarBytes(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// build runs Build over layers given as entry lists.
func build(t testing.TB, opts Options, layers ...[]entry) Result {
	t.Helper()
	var ls []func() (io.ReadCloser, error)
	for _, l := range layers {
		ls = append(ls, opener(tarBytes(t, l...)))
	}
	r, err := Build(context.Background(), ls, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

// summary renders packages as "type name version location..." lines for
// comparisons.
func summary(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Type+" "+p.Name+" "+p.Version+" "+strings.Join(p.Locations, ","))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasWarning(r Result, substr string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

func findPackage(r Result, typ, name string) (Package, bool) {
	for _, p := range r.Packages {
		if p.Type == typ && p.Name == name {
			return p, true
		}
	}
	return Package{}, false
}

const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`

const ubuntuOSRelease = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
`

const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
`

const rockyOSRelease = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
`
