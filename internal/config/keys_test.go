package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestConfigTags checks the tags the reflection relies on: every leaf's key
// is its YAML path, has a description, and a BERTH_ variable unless file-only.
func TestConfigTags(t *testing.T) {
	fields, err := fieldsOf(reflect.TypeFor[Config]())
	if err != nil {
		t.Fatal(err)
	}
	seenEnv := map[string]string{}
	for _, f := range fields {
		t.Run(f.key, func(t *testing.T) {
			var path []string
			typ := reflect.TypeFor[Config]()
			for _, i := range f.index {
				sf := typ.Field(i)
				path = append(path, yamlName(sf))
				typ = sf.Type
			}
			if got := strings.Join(path, "."); got != f.key {
				t.Errorf("key tag %q but YAML path %q", f.key, got)
			}
			if f.desc == "" {
				t.Errorf("no desc tag")
			}
			if f.env != "" {
				if other, dup := seenEnv[f.env]; dup {
					t.Errorf("environment variable %s also used by %s", f.env, other)
				}
				seenEnv[f.env] = f.key
			}
		})
	}
}

func TestKeys(t *testing.T) {
	byPath := map[string]Key{}
	for _, k := range Keys() {
		byPath[k.Path] = k
	}
	tests := []Key{
		{Path: "version", Env: "", Type: "int", Default: "1"},
		{Path: "http.addr", Env: "BERTH_HTTP_ADDR", Type: "string", Default: "0.0.0.0:5000"},
		{Path: "metrics.addr", Env: "BERTH_METRICS_ADDR", Type: "string", Default: ""},
		{Path: "http.shutdown_timeout", Env: "BERTH_HTTP_SHUTDOWN_TIMEOUT", Type: "duration", Default: "30s"},
		{Path: "http.debug_addr", Env: "BERTH_HTTP_DEBUG_ADDR", Type: "string", Default: ""},
		{Path: "storage.path", Env: "BERTH_STORAGE_PATH", Type: "string", Default: "./berth-data"},
		{Path: "storage.max_blob_size", Env: "BERTH_STORAGE_MAX_BLOB_SIZE", Type: "size", Default: "0"},
		{Path: "storage.upload_max_age", Env: "BERTH_STORAGE_UPLOAD_MAX_AGE", Type: "duration", Default: "24h"},
		{Path: "metadata.sqlite_path", Env: "BERTH_METADATA_SQLITE_PATH", Type: "string", Default: ""},
		{Path: "registry.manifest_max_size", Env: "BERTH_REGISTRY_MANIFEST_MAX_SIZE", Type: "size", Default: "4MiB"},
		{Path: "registry.list_max_entries", Env: "BERTH_REGISTRY_LIST_MAX_ENTRIES", Type: "int", Default: "10000"},
		{Path: "storage.s3.part_size", Env: "BERTH_STORAGE_S3_PART_SIZE", Type: "size", Default: "16MiB"},
		{Path: "storage.s3.path_style", Env: "BERTH_STORAGE_S3_PATH_STYLE", Type: "bool", Default: "true"},
		{Path: "metadata.postgres.dsn", Env: "BERTH_METADATA_POSTGRES_DSN", Type: "string", Default: ""},
		{Path: "metadata.postgres.max_conns", Env: "BERTH_METADATA_POSTGRES_MAX_CONNS", Type: "int", Default: "20"},
		{Path: "registry.cache_size", Env: "BERTH_REGISTRY_CACHE_SIZE", Type: "size", Default: "16MiB"},
		{Path: "log.level", Env: "BERTH_LOG_LEVEL", Type: "string", Default: "info"},
		{Path: "log.access", Env: "BERTH_LOG_ACCESS", Type: "bool", Default: "true"},
		{Path: "health.interval", Env: "BERTH_HEALTH_INTERVAL", Type: "duration", Default: "10s"},
		{Path: "health.threshold", Env: "BERTH_HEALTH_THRESHOLD", Type: "int", Default: "2"},
		{Path: "health.timeout", Env: "BERTH_HEALTH_TIMEOUT", Type: "duration", Default: "5s"},
	}
	for _, want := range tests {
		t.Run(want.Path, func(t *testing.T) {
			got, ok := byPath[want.Path]
			if !ok {
				t.Fatalf("no key %q", want.Path)
			}
			if got.Description == "" {
				t.Errorf("no description")
			}
			got.Description = ""
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	if n := len(Keys()); n != 104 {
		t.Errorf("Keys() has %d keys; update this test and the docs when adding keys", n)
	}
}

// TestKeysDefaultsLoad: every default shown in the docs reads back, from
// the environment, to the built-in default.
func TestKeysDefaultsLoad(t *testing.T) {
	var env []string
	for _, k := range Keys() {
		if k.Env != "" {
			env = append(env, k.Env+"="+k.Default)
		}
	}
	got, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMarkdownTable(t *testing.T) {
	got := MarkdownTable([]Key{
		{Path: "a.b", Env: "BERTH_A_B", Type: "string", Default: "", Description: "x | y <z>"},
		{Path: "v", Type: "int", Default: "1", Description: "d"},
	})
	want := "| Key | Environment | Type | Default | Meaning |\n" +
		"|---|---|---|---|---|\n" +
		"| `a.b` | `BERTH_A_B` | string | (empty) | x \\| y &lt;z&gt; |\n" +
		"| `v` | (file only) | int | `1` | d |\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
