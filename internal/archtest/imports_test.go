package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/berth-registry/berth/"

// layer of each package (by path prefix below the module); lower numbers are
// lower layers. A package may import only packages of a strictly lower layer,
// or packages below its own directory.
var layers = []struct {
	prefix string
	layer  int
}{
	{"internal/errcode", 0},
	{"internal/oci", 0},
	{"internal/config", 0},
	{"internal/actor", 0},
	{"internal/tlscert", 0},
	{"internal/secretbox", 0},
	{"internal/metrics", 0},
	{"internal/auth/pattern", 0},
	{"internal/auth/htpasswd", 0},
	{"internal/auth/ldap", 0},
	{"internal/sigverify", 0}, // signature verification: sigstore and notation libraries only
	{"internal/vuln", 0},      // OSV records, version orders, severities
	{"internal/sbom", 0},      // catalogues packages from layers
	{"internal/blob", 1},
	{"internal/meta", 1},
	{"internal/transfer", 1}, // image copy engine: go-containerregistry and layer-0 packages only
	{"internal/registry", 2},
	{"internal/jobs", 2},
	{"internal/relocate", 2},
	{"internal/audit", 2},
	{"internal/auth", 3},
	{"internal/policy", 3},
	{"internal/retention", 3},
	{"internal/webhook", 3},
	{"internal/proxy", 3},
	{"internal/replicate", 3},
	{"internal/sigpolicy", 3},
	{"internal/scan", 3},
	{"internal/httpapi", 4},
	{"internal/api", 4},
	{"internal/app", 5},
	{"cmd/", 6},
}

func layerOf(pkg string) (int, bool) {
	l, _, ok := groupOf(pkg)
	return l, ok
}

// groupOf returns the layer and the group (prefix) a package belongs to.
func groupOf(pkg string) (int, string, bool) {
	rel := strings.TrimPrefix(pkg, module)
	best, group, found := 0, "", false
	for _, l := range layers {
		if (rel == l.prefix || strings.HasPrefix(rel, strings.TrimSuffix(l.prefix, "/")+"/")) && len(l.prefix) > len(group) {
			best, group, found = l.layer, l.prefix, true
		}
	}
	return best, group, found
}

// allowed reports whether from may import to. Within one group (a port and
// its drivers, say internal/meta and internal/meta/sqlite) a subpackage may
// import the group root and its siblings, but the root never imports its
// own drivers.
func allowed(from, to string) bool {
	fl, fg, _ := groupOf(from)
	tl, tg, _ := groupOf(to)
	if fg == tg {
		return strings.TrimPrefix(from, module) != fg
	}
	return tl < fl
}

type listed struct {
	ImportPath string
	Imports    []string
}

func TestImportsPointDownward(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		from, ok := layerOf(p.ImportPath)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) || strings.HasPrefix(imp, p.ImportPath+"/") {
				continue
			}
			to, ok := layerOf(imp)
			if !ok {
				continue
			}
			checked++
			if !allowed(p.ImportPath, imp) {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point downward",
					strings.TrimPrefix(p.ImportPath, module), from, strings.TrimPrefix(imp, module), to)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports checked: is the module path right?")
	}
}

func TestLayerOf(t *testing.T) {
	tests := []struct {
		pkg  string
		want int
		ok   bool
	}{
		{module + "internal/blob/fs", 1, true},
		{module + "internal/meta/sqlstore", 1, true},
		{module + "internal/registry", 2, true},
		{module + "cmd/berth", 6, true},
		{module + "bench", 0, false},
		{module + "internal/blobx", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			got, ok := layerOf(tt.pkg)
			if got != tt.want || ok != tt.ok {
				t.Errorf("layerOf = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"internal/meta/sqlite", "internal/meta/sqlstore", true},
		{"internal/meta/sqlite", "internal/meta", true},
		{"internal/meta", "internal/meta/sqlite", false},
		{"internal/registry", "internal/meta", true},
		{"internal/meta", "internal/registry", false},
		{"internal/registry", "internal/httpapi", false},
		{"internal/app", "internal/httpapi", true},
		{"internal/blob/fs", "internal/meta", false},
	}
	for _, tt := range tests {
		t.Run(tt.from+"->"+tt.to, func(t *testing.T) {
			if got := allowed(module+tt.from, module+tt.to); got != tt.want {
				t.Errorf("allowed = %v, want %v", got, tt.want)
			}
		})
	}
}
