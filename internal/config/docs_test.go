package config

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the keys table in docs/configuration.md and README.md")

const (
	docPath    = "../../docs/configuration.md"
	readmePath = "../../README.md"
	beginTable = "<!-- BEGIN GENERATED KEYS TABLE -->\n"
	endTable   = "<!-- END GENERATED KEYS TABLE -->"
)

// TestConfigurationDoc fails when the keys table in docs/configuration.md or
// README.md is not what Keys produces. Regenerate them with
// `go generate ./internal/config`.
func TestConfigurationDoc(t *testing.T) {
	for _, p := range []string{docPath, readmePath} {
		t.Run(filepath.Base(p), func(t *testing.T) { checkKeysTable(t, p) })
	}
}

func checkKeysTable(t *testing.T, docPath string) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, beginTable)
	end := strings.Index(doc, endTable)
	if start < 0 || end < start {
		t.Fatalf("%s: markers %q and %q not found in order", docPath, strings.TrimSpace(beginTable), endTable)
	}
	start += len(beginTable)
	want := MarkdownTable(Keys())
	if got := doc[start:end]; got != want {
		if *update {
			updated := doc[:start] + want + doc[end:]
			if err := os.WriteFile(docPath, []byte(updated), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the keys table in %s", docPath)
			return
		}
		t.Errorf("%s is out of date; run `go generate ./internal/config`.\ngot:\n%s\nwant:\n%s", docPath, got, want)
	}
}

// TestDocExample checks that the example file in docs/configuration.md loads
// and validates.
func TestDocExample(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(raw)
	if m == nil {
		t.Fatal("no yaml example in the doc")
	}
	file := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(file, m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file, nil)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("the example in the doc does not load: %v", err)
	}
	if cfg.Storage.MaxBlobSize != 10<<30 || cfg.Log.Format != "json" {
		t.Errorf("example read wrongly: %+v", cfg)
	}
}
