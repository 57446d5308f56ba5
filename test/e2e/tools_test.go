//go:build e2e

package e2e

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The client tools are installed by scripts/lib/clients.sh: Debian's
// packages land on PATH, the Go tools in $HOME/.cache/berth-tools/bin
// ($BERTH_TOOLS/bin when set), which scripts/test.sh puts first on PATH.

// toolVersionArgs is each pinned tool's version command (the same ones
// scripts/lib/clients.sh runs). docker and go-containerregistry are pinned
// too but not here: the engine's version is checked by the docker tests and
// go-containerregistry is a library.
var toolVersionArgs = map[string][]string{
	"skopeo":   {"--version"},
	"podman":   {"--version"},
	"buildah":  {"--version"},
	"umoci":    {"--version"},
	"crane":    {"version"},
	"regctl":   {"version"},
	"cosign":   {"version", "--json"},
	"helm":     {"version", "--short"},
	"oras":     {"version"},
	"notation": {"version"},
}

var notTools = map[string]bool{"docker": true, "go-containerregistry": true}

// toolsBin is the directory clients.sh links the Go tools from.
func toolsBin() string {
	if d := os.Getenv("BERTH_TOOLS"); d != "" {
		return filepath.Join(d, "bin")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "berth-tools", "bin")
}

// lookTool finds name on PATH, then in toolsBin, as an absolute path.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	if dir := toolsBin(); dir != "" {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fs.ErrNotExist
}

// requireTool returns the absolute path of the client tool name. When it is
// missing the test fails if E2E_REQUIRE_CLIENTS=1 (scripts/test.sh sets it
// after installing the tools) and is skipped otherwise.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := lookTool(name)
	if err == nil {
		return p
	}
	msg := "client tool " + name + " is not on PATH nor in " + toolsBin() +
		" (install it: source scripts/lib/clients.sh && install_clients)"
	if os.Getenv("E2E_REQUIRE_CLIENTS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// reportsVersion tells whether out names version want ("v" prefix optional
// on either side), not as part of a longer version: "1.3.1" is not in
// "1.3.10", "11.3.1" or "1.3.1.2".
func reportsVersion(out, want string) bool {
	want = strings.TrimPrefix(want, "v")
	if want == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(out[i:], want)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(want)
		i = start + 1
		if start > 0 && (isDigit(out[start-1]) || out[start-1] == '.') {
			continue
		}
		if end < len(out) && isDigit(out[end]) {
			continue
		}
		if end+1 < len(out) && out[end] == '.' && isDigit(out[end+1]) {
			continue
		}
		return true
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func TestReportsVersion(t *testing.T) {
	tests := []struct {
		out, want string
		ok        bool
	}{
		{"skopeo version 1.9.3", "1.9.3", true},
		{"v0.22.1\n", "v0.22.1", true},
		{"umoci version 0.4.7+ds-3+b7", "0.4.7", true},
		{"buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)", "1.28.2", true},
		{`{"gitVersion": "v2.6.5"}`, "v2.6.5", true},
		{"Version: 1.3.1.", "v1.3.1", true},
		{"v3.22+g1234", "v3.22.0", false},
		{"Version: 1.3.10", "v1.3.1", false},
		{"Version: 11.3.1", "v1.3.1", false},
		{"1.3.1.2", "1.3.1", false},
		{"podman version 4.3.1", "4.3.2", false},
		{"version 2.0.0, 1.0.0", "1.0.0", true},
		{"anything", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.out+"/"+tt.want, func(t *testing.T) {
			if got := reportsVersion(tt.out, tt.want); got != tt.ok {
				t.Fatalf("reportsVersion(%q, %q) = %v, want %v", tt.out, tt.want, got, tt.ok)
			}
		})
	}
}

// TestPinnedVersions runs every pinned client tool's version command and
// fails when it reports another version than scripts/clients.versions.
func TestPinnedVersions(t *testing.T) {
	pins := clientVersions()
	if len(pins) == 0 {
		t.Fatal("scripts/clients.versions is missing or empty")
	}
	names := make([]string, 0, len(pins))
	for name := range pins {
		if !notTools[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			args, ok := toolVersionArgs[name]
			if !ok {
				t.Fatalf("%s is pinned in scripts/clients.versions but tools_test.go has no version command for it", name)
			}
			path := requireTool(t, name)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, path, args...)
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", path, strings.Join(args, " "), err, out)
			}
			if !reportsVersion(string(out), pins[name]) {
				t.Fatalf("%s reports\n%s\nbut scripts/clients.versions pins %s", path, out, pins[name])
			}
			t.Logf("%s %s", name, pins[name])
		})
	}
}
