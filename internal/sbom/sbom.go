package sbom

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Package is one installed package found in an image.
type Package struct {
	Name    string
	Version string
	// Ecosystem is the OSV ecosystem: "Debian:12", "Ubuntu:22.04",
	// "Alpine:v3.19", "Rocky Linux:9", "Red Hat", "Go", "npm", "PyPI"; ""
	// when the distribution has no known OSV ecosystem.
	Ecosystem string
	// PURL is the package URL.
	PURL string
	// Source is the source package for dpkg (OSV's Debian and Ubuntu
	// records are keyed by it; it equals Name when the status file has no
	// Source field) and the origin for apk; "" otherwise.
	Source string
	// Type is "deb", "apk", "rpm", "go-module", "npm" or "python".
	Type string
	// Locations are the paths in the image (with a leading "/") where the
	// package was found.
	Locations []string
}

// Package types.
const (
	TypeDeb      = "deb"
	TypeAPK      = "apk"
	TypeRPM      = "rpm"
	TypeGoModule = "go-module"
	TypeNPM      = "npm"
	TypePython   = "python"
)

// OS identifies the image's distribution, from etc/os-release or
// usr/lib/os-release, else etc/alpine-release or etc/debian_version.
type OS struct {
	ID, VersionID, PrettyName string
}

// Result is what Build found.
type Result struct {
	OS OS
	// Packages are sorted by (Type, Name, Version, first location) and
	// deduplicated on that key.
	Packages []Package
	// Warnings describe what was skipped or malformed, at most
	// maxWarnings of them.
	Warnings []string
}

// Options bound the work Build does; zero fields take the defaults.
type Options struct {
	// MaxFileSize is the largest candidate file read (default 64 MiB);
	// larger ones are skipped with a warning.
	MaxFileSize int64
	// MaxFiles bounds the candidate files (and kept symlinks) held at once
	// (default 100000).
	MaxFiles int
	// MaxTotalSize bounds the bytes of candidate files held in memory at
	// once (default 512 MiB). Go binaries are parsed as they stream by and
	// do not count.
	MaxTotalSize int64
}

const (
	defaultMaxFileSize  = 64 << 20
	defaultMaxFiles     = 100000
	defaultMaxTotalSize = 512 << 20
	maxWarnings         = 200
	maxPathLen          = 4096
)

func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = defaultMaxFileSize
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = defaultMaxFiles
	}
	if o.MaxTotalSize <= 0 {
		o.MaxTotalSize = defaultMaxTotalSize
	}
	return o
}

// Build reads an image's layers in order (each an uncompressed tar stream;
// the caller decompresses), applies OCI whiteouts, and catalogues the final
// filesystem. It returns an error only when a layer cannot be opened or ctx
// ends; malformed content becomes a warning.
func Build(ctx context.Context, layers []func() (io.ReadCloser, error), opts Options) (Result, error) {
	opts = opts.withDefaults()
	st := newState(opts)
	for i, open := range layers {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		rc, err := open()
		if err != nil {
			return Result{}, fmt.Errorf("sbom: open layer %d: %w", i, err)
		}
		err = st.readLayer(ctx, i, rc)
		rc.Close()
		if err != nil {
			return Result{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return st.catalogue(ctx)
}

// warnings collects bounded, deduplicated warnings.
type warnings struct {
	list    []string
	seen    map[string]bool
	dropped int
}

func (w *warnings) add(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	if w.seen[s] {
		return
	}
	if len(w.list) >= maxWarnings {
		w.dropped++
		return
	}
	w.seen[s] = true
	w.list = append(w.list, s)
}

func (w *warnings) result() []string {
	out := append([]string(nil), w.list...)
	if w.dropped > 0 {
		out = append(out, fmt.Sprintf("%d more warnings omitted", w.dropped))
	}
	return out
}

// found is a package as a cataloguer reports it, with the details the
// package URL needs.
type found struct {
	Package
	arch       string
	epoch      string // rpm
	upstream   string // rpm: the source RPM
	installDir string // npm: where the package is (or would be) installed
}

// finish turns found packages into the sorted, deduplicated result.
func finish(osInfo OS, osLike string, fs []found, w *warnings) []Package {
	fs = mergeNPM(fs)
	noEco := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		f.Ecosystem = ecosystem(f.Type, osInfo)
		if f.Ecosystem == "" && !noEco[f.Type] {
			noEco[f.Type] = true
			w.add("no OSV ecosystem for %s packages on %q (ID_LIKE %q)", f.Type, osInfo.ID, osLike)
		}
		f.PURL = packageURL(*f, osInfo)
	}
	type key struct{ typ, name, version, loc string }
	byKey := map[key]int{}
	var out []Package
	for _, f := range fs {
		loc := ""
		if len(f.Locations) > 0 {
			loc = f.Locations[0]
		}
		k := key{f.Type, f.Name, f.Version, loc}
		if i, ok := byKey[k]; ok {
			out[i].Locations = mergeLocations(out[i].Locations, f.Locations)
			continue
		}
		byKey[k] = len(out)
		p := f.Package
		p.Locations = mergeLocations(nil, f.Locations)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return strings.Join(a.Locations, "\x00") < strings.Join(b.Locations, "\x00")
	})
	return out
}

// mergeLocations appends the locations of add missing from have, keeping
// the first location first and the rest sorted.
func mergeLocations(have, add []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range append(append([]string(nil), have...), add...) {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	if len(out) > 1 {
		sort.Strings(out[1:])
	}
	return out
}
