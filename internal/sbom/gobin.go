package sbom

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"strings"
)

// goBinary reads the Go build information of an ELF executable: the main
// module, every dependency (as replaced, when a replace directive names a
// module version) and the toolchain as the "stdlib" module, which is how
// OSV's Go records name the standard library. It returns nothing for a
// file that is not a Go binary.
func goBinary(data []byte) (pkgs []found, notes []string) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, notes = nil, []string{fmt.Sprintf("unreadable Go build information: %v", r)}
		}
	}()
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		if bytes.Contains(data, []byte("\xff Go buildinf:")) {
			return nil, []string{"unreadable Go build information: " + truncate(err.Error())}
		}
		return nil, nil
	}
	add := func(path, version string) {
		if validToken(path, maxPathLen) && (version == "" || validToken(version, maxVersionLen)) {
			pkgs = append(pkgs, found{Package: Package{Name: path, Version: version, Type: TypeGoModule}})
		}
	}
	if info.Main.Path != "" {
		add(info.Main.Path, info.Main.Version)
	}
	for _, d := range info.Deps {
		if d == nil {
			continue
		}
		if r := d.Replace; r != nil {
			if localPath(r.Path) || r.Version == "" || r.Version == "(devel)" {
				add(d.Path, "(devel)") // replaced by a local directory: not that version
			} else {
				add(r.Path, r.Version) // replaced by another module version
			}
			continue
		}
		add(d.Path, d.Version)
	}
	if v, _, _ := strings.Cut(info.GoVersion, " "); strings.HasPrefix(v, "go") {
		add("stdlib", strings.TrimPrefix(v, "go"))
	}
	return pkgs, nil
}

// localPath reports whether a replacement is a directory, as the go
// command decides: a rooted path or one starting with ./ or ../.
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") ||
		p == "." || p == ".." || len(p) > 2 && p[1] == ':' || strings.HasPrefix(p, `.\`) || strings.HasPrefix(p, `..\`)
}
