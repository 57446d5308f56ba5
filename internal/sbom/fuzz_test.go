package sbom

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// Each parser must return (never panic) on any input and keep what it
// returns within its bounds.
func checkFound(t *testing.T, fs []found) {
	for _, f := range fs {
		if !validToken(f.Name, maxPathLen) || len(f.Version) > maxVersionLen {
			t.Fatalf("invalid package %+v", f)
		}
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add([]byte(dpkgStatus))
	f.Add([]byte("Package: a\nVersion: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _ := parseDpkgStatus(data, true)
		checkFound(t, fs)
		fs, _ = parseDpkgStatus(data, false)
		checkFound(t, fs)
	})
}

func FuzzParseAPK(f *testing.F) {
	f.Add([]byte(apkInstalled))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _ := parseAPK(data)
		checkFound(t, fs)
	})
}

func FuzzParseRPMHeader(f *testing.F) {
	f.Add(rpmPackage("openssl-libs", "3.0.7", "24.el9", 1, "x86_64", "openssl-3.0.7-24.el9.src.rpm"))
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x03\xe8\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseRPMHeader(data)
		if err == nil {
			if f, ok := rpmFound(h); ok {
				checkFound(t, []found{f})
			}
		}
	})
}

func FuzzParseNPM(f *testing.F) {
	f.Add([]byte(npmLockV3))
	f.Add([]byte(npmLockV1))
	f.Add([]byte(`{"name":"a","version":"1.0.0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _ := parseNPMLock("app/package-lock.json", data)
		checkFound(t, fs)
		fs, _ = parseNPMPackage("app/node_modules/a/package.json", data)
		checkFound(t, fs)
	})
}

func FuzzParsePythonAndOSRelease(f *testing.F) {
	f.Add([]byte(pyMetadata("requests", "2.31.0")))
	f.Add([]byte(debianOSRelease))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _ := parsePythonMetadata(data)
		checkFound(t, fs)
		for k, v := range parseOSRelease(data) {
			if !validToken(k, 64) || !printable(v, 256) {
				t.Fatalf("bad os-release pair %q=%q", k, v)
			}
		}
	})
}

// FuzzBuild feeds arbitrary bytes as a layer, after a valid one.
func FuzzBuild(f *testing.F) {
	f.Add(tarBytes(f, file("etc/os-release", alpineOSRelease), file("lib/apk/db/installed", apkInstalled)))
	f.Add(tarBytes(f, whiteout("etc/os-release"), opaque("lib"), symlink("etc/os-release", "../../../x"), hardlink("lib/apk/db/installed", "nowhere")))
	f.Add(tarBytes(f, file("var/lib/dpkg/status", dpkgStatus), file("a/node_modules/x/package.json", `{"name":"x","version":"1"}`)))
	base := tarBytes(f, file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", dpkgStatus), symlink("lib", "usr/lib"))
	f.Fuzz(func(t *testing.T, layer []byte) {
		open := func(b []byte) func() (io.ReadCloser, error) {
			return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		}
		r, err := Build(context.Background(), []func() (io.ReadCloser, error){open(base), open(layer)}, Options{MaxFileSize: 1 << 20, MaxFiles: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Warnings) > maxWarnings+1 {
			t.Fatalf("%d warnings", len(r.Warnings))
		}
	})
}

// FuzzLayerEntries builds well-formed layers from fuzzed names, kinds and
// bodies, to exercise whiteouts, links and the cataloguers past the tar
// parser.
func FuzzLayerEntries(f *testing.F) {
	f.Add("etc/os-release\nlib/apk/db/installed\n.wh.etc\nlib/.wh..wh..opq", []byte(alpineOSRelease+"\n\n"+apkInstalled), uint64(0x0123))
	f.Add("var/lib/dpkg/status\nvar/lib/dpkg/status.d/x\nusr/lib/os-release\netc/os-release", []byte(dpkgStatus), uint64(0x3210))
	f.Add("a/node_modules/x/package.json\na/package-lock.json\nlib\nusr/lib/python3/site-packages/a.egg-info", []byte(npmLockV3), uint64(0x2222))
	f.Fuzz(func(t *testing.T, names string, body []byte, kinds uint64) {
		var es []entry
		lines := bytes.Split([]byte(names), []byte("\n"))
		for i, n := range lines {
			if i >= 16 || len(n) == 0 {
				break
			}
			name := string(n)
			switch (kinds >> (4 * uint(i))) & 3 {
			case 0:
				es = append(es, file(name, string(body)))
			case 1:
				es = append(es, symlink(name, string(lines[(i+1)%len(lines)])))
			case 2:
				es = append(es, hardlink(name, string(lines[0])))
			case 3:
				es = append(es, dir(name))
			}
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range es {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o755, Size: int64(len(e.body))}
			if e.typ != tar.TypeReg {
				h.Size = 0
			}
			if tw.WriteHeader(h) != nil {
				return
			}
			tw.Write(e.body[:h.Size])
		}
		tw.Close()
		layer := buf.Bytes()
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil }
		r, err := Build(context.Background(), []func() (io.ReadCloser, error){open, open}, Options{MaxFileSize: 1 << 20, MaxFiles: 100})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SPDX(r, "s", time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
	})
}
