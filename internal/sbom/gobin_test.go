package sbom

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildGoBinary compiles a tiny program offline. It first tries with a
// dependency from the module cache (github.com/opencontainers/go-digest,
// which berth itself requires) and one replaced by a local directory; if
// that cannot be done offline it builds without dependencies. It returns the binary and whether the dependency
// is in it.
func buildGoBinary(t *testing.T) ([]byte, bool) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	try := func(withDep bool) ([]byte, error) {
		dir := t.TempDir()
		mod := "module example.com/hello\n\ngo 1.21\n"
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"
		if withDep {
			mod += "\nrequire (\n\tgithub.com/opencontainers/go-digest v1.0.0\n\texample.com/greet v1.2.3\n)\n\nreplace example.com/greet => ./greet\n"
			src = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n\t\"github.com/opencontainers/go-digest\"\n)\n\nfunc main() { fmt.Println(greet.Hi, digest.FromString(\"hello\")) }\n"
			if err := os.MkdirAll(filepath.Join(dir, "greet"), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "greet", "go.mod"), []byte("module example.com/greet\n\ngo 1.21\n"), 0o644); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "greet", "greet.go"), []byte("package greet\n\nconst Hi = \"hi\"\n"), 0o644); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(goTool, "build", "-trimpath", "-o", "hello", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, &exec.ExitError{Stderr: out}
		}
		return os.ReadFile(filepath.Join(dir, "hello"))
	}
	if b, err := try(true); err == nil {
		return b, true
	} else {
		t.Logf("build with a dependency failed offline (%v); building without", err)
	}
	b, err := try(false)
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	return b, false
}

func goStdlibVersion() string {
	v, _, _ := strings.Cut(runtime.Version(), " ")
	return strings.TrimPrefix(v, "go")
}

func TestGoBinary(t *testing.T) {
	bin, withDep := buildGoBinary(t)
	r := build(t, Options{}, []entry{
		binFile("usr/local/bin/hello", bin, 0o755),
		binFile("usr/share/doc/hello.elf", bin, 0o644), // not executable: not inspected
	})
	want := []string{
		"go-module example.com/hello (devel) /usr/local/bin/hello",
		"go-module stdlib " + goStdlibVersion() + " /usr/local/bin/hello",
	}
	if withDep {
		want = []string{
			"go-module example.com/greet (devel) /usr/local/bin/hello", // replaced by a directory
			want[0],
			"go-module github.com/opencontainers/go-digest v1.0.0 /usr/local/bin/hello",
			want[1],
		}
	}
	if got := summary(r.Packages); !equalStrings(got, want) {
		t.Fatalf("packages:\n%s\nwant:\n%s\nwarnings %q", strings.Join(got, "\n"), strings.Join(want, "\n"), r.Warnings)
	}
	tests := []struct{ name, purl string }{
		{"example.com/hello", "pkg:golang/example.com/hello"},
		{"stdlib", "pkg:golang/stdlib@" + goStdlibVersion()},
	}
	if withDep {
		tests = append(tests, struct{ name, purl string }{"github.com/opencontainers/go-digest", "pkg:golang/github.com/opencontainers/go-digest@v1.0.0"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := findPackage(r, TypeGoModule, tt.name)
			if p.PURL != tt.purl || p.Ecosystem != "Go" {
				t.Errorf("%+v, want purl %s", p, tt.purl)
			}
		})
	}
}

func TestGoBinaryHardLinkAndWhiteout(t *testing.T) {
	bin, _ := buildGoBinary(t)
	tests := []struct {
		name   string
		layers [][]entry
		want   []string
	}{
		{"hard link outlives its deleted original", [][]entry{{
			binFile("app/server", bin, 0o755),
			hardlink("app/server-link", "app/server"),
		}, {whiteout("app/server")}}, []string{"/app/server-link"}},
		{"both names", [][]entry{{
			binFile("app/server", bin, 0o755),
			hardlink("app/server-link", "app/server"),
		}}, []string{"/app/server", "/app/server-link"}},
		{"binary replaced by a script", [][]entry{{
			binFile("app/server", bin, 0o755),
		}, {binFile("app/server", []byte("#!/bin/sh\nexec true\n"), 0o755)}}, nil},
		{"directory whiteout", [][]entry{{
			binFile("app/server", bin, 0o755),
		}, {whiteout("app")}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, Options{}, tt.layers...)
			var locs []string
			for _, p := range r.Packages {
				if p.Name == "stdlib" {
					locs = append(locs, p.Locations...)
				}
			}
			if !equalStrings(locs, tt.want) {
				t.Errorf("stdlib found at %q, want %q", locs, tt.want)
			}
		})
	}
}

func TestExecutableLimits(t *testing.T) {
	bin, _ := buildGoBinary(t)
	tests := []struct {
		name    string
		entries []entry
		opts    Options
		pkgs    int
		warning string
	}{
		{"larger than MaxFileSize", []entry{binFile("bin/big", bin, 0o755)}, Options{MaxFileSize: int64(len(bin)) - 1}, 0, "larger than"},
		{"ELF but not Go", []entry{binFile("bin/c", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 200)...), 0o755)}, Options{}, 0, ""},
		{"Go buildinfo marker in junk", []entry{binFile("bin/j", append([]byte("\x7fELF"), append(make([]byte, 100), "\xff Go buildinf:"...)...), 0o755)}, Options{}, 0, "unreadable Go build information"},
		{"script", []entry{binFile("bin/s", []byte("#!/bin/sh\n"+strings.Repeat("echo hi\n", 20)), 0o755)}, Options{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(t, tt.opts, tt.entries)
			if len(r.Packages) != tt.pkgs {
				t.Errorf("packages %q", summary(r.Packages))
			}
			if tt.warning == "" && len(r.Warnings) > 0 || tt.warning != "" && !hasWarning(r, tt.warning) {
				t.Errorf("warnings %q, want %q", r.Warnings, tt.warning)
			}
		})
	}
}
