package sbom

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
)

// kind is what a kept file is to the cataloguers.
type kind int

const (
	kindNone kind = iota
	kindOS
	kindDpkgStatus
	kindDpkgStatusD
	kindAPK
	kindRPMSQLite
	kindRPMWAL
	kindRPMBerkeley
	kindRPMNDB
	kindNPMLock
	kindNPMPackage
	kindPython
	kindGoBinary
)

// osFiles are read for OS detection, in order of preference.
var osFiles = []string{"etc/os-release", "usr/lib/os-release", "etc/alpine-release", "etc/debian_version"}

var rpmDirs = []string{"var/lib/rpm", "usr/lib/sysimage/rpm"}

// classify says whether a root-relative path is a candidate file.
func classify(p string) kind {
	dir, base := path.Dir(p), path.Base(p)
	for _, f := range osFiles {
		if p == f {
			return kindOS
		}
	}
	switch {
	case p == "var/lib/dpkg/status":
		return kindDpkgStatus
	case dir == "var/lib/dpkg/status.d":
		if strings.HasSuffix(base, ".md5sums") {
			return kindNone
		}
		return kindDpkgStatusD
	case p == "lib/apk/db/installed":
		return kindAPK
	}
	for _, d := range rpmDirs {
		if dir != d {
			continue
		}
		switch base {
		case "rpmdb.sqlite":
			return kindRPMSQLite
		case "rpmdb.sqlite-wal":
			return kindRPMWAL
		case "Packages":
			return kindRPMBerkeley
		case "Packages.db":
			return kindRPMNDB
		}
	}
	switch {
	case base == "package-lock.json" && !insideNPMPackage(dir):
		return kindNPMLock
	case base == ".package-lock.json" && path.Base(dir) == "node_modules":
		return kindNPMLock
	case base == "package.json" && npmInstallName(dir) != "":
		return kindNPMPackage
	case base == "METADATA" && strings.HasSuffix(dir, ".dist-info"):
		return kindPython
	case base == "PKG-INFO" && strings.HasSuffix(dir, ".egg-info"):
		return kindPython
	case strings.HasSuffix(base, ".egg-info") && isSitePackages(path.Base(dir)):
		return kindPython
	}
	return kindNone
}

func isSitePackages(b string) bool { return b == "site-packages" || b == "dist-packages" }

// catalogue runs the cataloguers on the final filesystem.
func (s *state) catalogue(ctx context.Context) (Result, error) {
	osInfo, osLike := s.detectOS()
	paths := make([]string, 0, len(s.nodes))
	for p := range s.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var all []found
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		n := s.nodes[p]
		if n.link != "" {
			continue
		}
		for _, w := range n.note {
			s.warn.add("/%s: %s", p, w)
		}
		fs, notes := s.run(ctx, p, n)
		for _, w := range notes {
			s.warn.add("/%s: %s", p, w)
		}
		for i := range fs {
			if len(fs[i].Locations) == 0 {
				fs[i].Locations = []string{"/" + p}
			}
		}
		all = append(all, fs...)
	}
	pkgs := finish(osInfo, osLike, all, &s.warn)
	return Result{OS: osInfo, Packages: pkgs, Warnings: s.warn.result()}, nil
}

// run calls the cataloguer for one file, turning a panic into a warning:
// no input may take the registry down.
func (s *state) run(ctx context.Context, p string, n *node) (fs []found, notes []string) {
	defer func() {
		if r := recover(); r != nil {
			fs, notes = nil, []string{fmt.Sprintf("internal error while cataloguing: %v", r)}
		}
	}()
	switch n.kind {
	case kindDpkgStatus:
		return parseDpkgStatus(n.data, true)
	case kindDpkgStatusD:
		return parseDpkgStatus(n.data, false)
	case kindAPK:
		return parseAPK(n.data)
	case kindRPMSQLite:
		var wal []byte
		if w := s.nodes[p+"-wal"]; w != nil && w.kind == kindRPMWAL {
			wal = w.data
		}
		return readRPMSQLite(ctx, n.data, wal)
	case kindRPMBerkeley:
		return nil, []string{"BerkeleyDB rpm database is not supported: rpm packages not listed"}
	case kindRPMNDB:
		return nil, []string{"NDB rpm database is not supported: rpm packages not listed"}
	case kindNPMLock:
		return parseNPMLock(p, n.data)
	case kindNPMPackage:
		return parseNPMPackage(p, n.data)
	case kindPython:
		return parsePythonMetadata(n.data)
	case kindGoBinary:
		out := make([]found, len(n.pkgs))
		copy(out, n.pkgs)
		return out, nil
	}
	return nil, nil
}

// fileWarnings caps the warnings one parser reports for one file.
type fileWarnings struct {
	list    []string
	dropped int
}

func (w *fileWarnings) add(format string, args ...any) {
	if len(w.list) >= 10 {
		w.dropped++
		return
	}
	w.list = append(w.list, fmt.Sprintf(format, args...))
}

func (w *fileWarnings) result() []string {
	if w.dropped > 0 {
		return append(w.list, fmt.Sprintf("%d more problems", w.dropped))
	}
	return w.list
}

// validToken reports whether s is a plausible package name or version:
// printable ASCII without spaces, at most max bytes.
func validToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

const maxNameLen, maxVersionLen = 256, 256
