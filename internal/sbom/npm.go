package sbom

import (
	"encoding/json"
	"path"
	"sort"
	"strings"
)

// npmInstallName returns the package name a directory holds when it is an
// installed package, ".../node_modules/<name>" or
// ".../node_modules/@scope/<name>"; "" otherwise.
func npmInstallName(dir string) string {
	parent, name := path.Dir(dir), path.Base(dir)
	if path.Base(parent) == "node_modules" && name != "node_modules" && !strings.HasPrefix(name, "@") && !strings.HasPrefix(name, ".") {
		return name
	}
	scope := path.Base(parent)
	if strings.HasPrefix(scope, "@") && len(scope) > 1 && path.Base(path.Dir(parent)) == "node_modules" && !strings.HasPrefix(name, ".") {
		return scope + "/" + name
	}
	return ""
}

// insideNPMPackage reports whether dir lies in a node_modules tree: a
// package-lock.json there belongs to a dependency's sources, not to what is
// installed.
func insideNPMPackage(dir string) bool {
	return dir == "node_modules" || strings.HasPrefix(dir, "node_modules/") || strings.Contains(dir, "/node_modules/") || strings.HasSuffix(dir, "/node_modules")
}

type npmLock struct {
	LockfileVersion int                    `json:"lockfileVersion"`
	Packages        map[string]npmLockPkg  `json:"packages"`
	Dependencies    map[string]npmLockDep1 `json:"dependencies"`
}

type npmLockPkg struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dev     bool   `json:"dev"`
	Link    bool   `json:"link"`
}

type npmLockDep1 struct {
	Version      string                 `json:"version"`
	Dev          bool                   `json:"dev"`
	Dependencies map[string]npmLockDep1 `json:"dependencies"`
}

const maxNPMDepth = 128

// parseNPMLock reads a package-lock.json (or node_modules/.package-lock.json):
// lockfileVersion 2 and 3 list packages in "packages", keyed by install path
// ("node_modules/a/node_modules/@s/b"); version 1 nests "dependencies".
// Development dependencies ("dev": true), links and workspace members are
// skipped.
func parseNPMLock(p string, data []byte) ([]found, []string) {
	var lock npmLock
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, []string{"not a valid package-lock.json: " + truncate(err.Error())}
	}
	root := path.Dir(p)
	if path.Base(p) == ".package-lock.json" {
		root = path.Dir(root)
	}
	var w fileWarnings
	var out []found
	invalid := 0
	emit := func(name, version, rel string) {
		if !validToken(name, maxNameLen) || !validToken(version, maxVersionLen) {
			invalid++
			return
		}
		out = append(out, found{Package: Package{Name: name, Version: version, Type: TypeNPM}, installDir: path.Join(root, rel)})
	}
	if len(lock.Packages) > 0 {
		keys := make([]string, 0, len(lock.Packages))
		for k := range lock.Packages {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			pkg := lock.Packages[k]
			i := strings.LastIndex(k, "node_modules/")
			if k == "" || i < 0 || pkg.Dev || pkg.Link || len(k) > maxPathLen {
				continue
			}
			name := pkg.Name
			if name == "" {
				name = k[i+len("node_modules/"):]
			}
			emit(name, pkg.Version, k)
		}
	} else {
		var walk func(deps map[string]npmLockDep1, prefix string, depth int)
		walk = func(deps map[string]npmLockDep1, prefix string, depth int) {
			if depth > maxNPMDepth {
				w.add("dependencies nested deeper than %d levels skipped", maxNPMDepth)
				return
			}
			names := make([]string, 0, len(deps))
			for n := range deps {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				d := deps[n]
				if d.Dev || len(prefix)+len(n) > maxPathLen {
					continue
				}
				rel := prefix + "node_modules/" + n
				emit(n, d.Version, rel)
				walk(d.Dependencies, rel+"/", depth+1)
			}
		}
		walk(lock.Dependencies, "", 0)
	}
	if invalid > 0 {
		w.add("%d entries with an invalid name or version skipped", invalid)
	}
	return out, w.result()
}

// parseNPMPackage reads an installed package's package.json.
func parseNPMPackage(p string, data []byte) ([]found, []string) {
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return nil, []string{"not a valid package.json: " + truncate(err.Error())}
	}
	if pkg.Name == "" && pkg.Version == "" {
		return nil, nil
	}
	if !validToken(pkg.Name, maxNameLen) || !validToken(pkg.Version, maxVersionLen) {
		return nil, []string{"package.json with an invalid name or version skipped"}
	}
	return []found{{Package: Package{Name: pkg.Name, Version: pkg.Version, Type: TypeNPM}, installDir: path.Dir(p)}}, nil
}

// mergeNPM joins what a lockfile says is installed at a path with the
// package.json found there, when they agree on name and version: one
// package with both locations.
func mergeNPM(fs []found) []found {
	type key struct{ dir, name, version string }
	at := map[key]int{}
	out := fs[:0:0]
	for _, f := range fs {
		if f.Type != TypeNPM {
			out = append(out, f)
			continue
		}
		k := key{f.installDir, f.Name, f.Version}
		if i, ok := at[k]; ok {
			out[i].Locations = mergeLocations(out[i].Locations, f.Locations)
			continue
		}
		at[k] = len(out)
		out = append(out, f)
	}
	return out
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
