package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// writeFile writes content to a temporary config file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const noFile = "\x00no file"

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		file    string // YAML content; noFile for Load without a file
		env     []string
		want    func(*Config) // edits Default() into the expected result
		wantErr []string      // substrings, each must appear; nil means no error
	}{
		{
			name: "defaults without file or env",
			file: noFile,
			want: func(c *Config) {},
		},
		{
			name: "file values",
			file: `version: 1
http:
  addr: 127.0.0.1:6000
  shutdown_timeout: 1m30s
storage:
  path: /srv/berth
  max_blob_size: 2147483648
metadata:
  sqlite_path: /db/berth.db
registry:
  list_max_entries: 50
log:
  level: debug
  format: json
`,
			want: func(c *Config) {
				c.HTTP.Addr = "127.0.0.1:6000"
				c.HTTP.ShutdownTimeout = 90 * time.Second
				c.Storage.Path = "/srv/berth"
				c.Storage.MaxBlobSize = 2 << 30
				c.Metadata.SQLitePath = "/db/berth.db"
				c.Registry.ListMaxEntries = 50
				c.Log.Level = "debug"
				c.Log.Format = "json"
			},
		},
		{
			name: "sizes with units in file",
			file: "version: 1\nstorage:\n  max_blob_size: 512MiB\nregistry:\n  manifest_max_size: \"4MB\"\n",
			want: func(c *Config) {
				c.Storage.MaxBlobSize = 512 << 20
				c.Registry.ManifestMaxSize = 4_000_000
			},
		},
		{
			name: "sizes and durations from env",
			file: noFile,
			env: []string{
				"BERTH_STORAGE_MAX_BLOB_SIZE=1GiB",
				"BERTH_REGISTRY_MANIFEST_MAX_SIZE=1048576",
				"BERTH_STORAGE_UPLOAD_MAX_AGE=2h",
				"BERTH_HTTP_SHUTDOWN_TIMEOUT=500ms",
			},
			want: func(c *Config) {
				c.Storage.MaxBlobSize = 1 << 30
				c.Registry.ManifestMaxSize = 1 << 20
				c.Storage.UploadMaxAge = 2 * time.Hour
				c.HTTP.ShutdownTimeout = 500 * time.Millisecond
			},
		},
		{
			name: "env overrides file",
			file: "version: 1\nhttp:\n  addr: 127.0.0.1:6000\nlog:\n  level: debug\n",
			env:  []string{"BERTH_HTTP_ADDR=:7000", "PATH=/bin", "BERTH_UNKNOWN_THING=x"},
			want: func(c *Config) {
				c.HTTP.Addr = ":7000"
				c.Log.Level = "debug"
			},
		},
		{
			name: "empty env value counts as unset and last entry wins",
			file: "version: 1\nstorage:\n  path: /from/file\n",
			env:  []string{"BERTH_STORAGE_PATH=", "BERTH_LOG_LEVEL=debug", "BERTH_LOG_LEVEL=warn"},
			want: func(c *Config) {
				c.Storage.Path = "/from/file"
				c.Log.Level = "warn"
			},
		},
		{
			name: "empty sections and aliases",
			file: "version: 1\nhttp:\nstorage:\n  path: &p /data\nmetadata:\n  sqlite_path: *p\n",
			want: func(c *Config) {
				c.Storage.Path = "/data"
				c.Metadata.SQLitePath = "/data"
			},
		},
		{
			name:    "unknown top-level key",
			file:    "version: 1\nx: 1\n",
			wantErr: []string{`berth.yaml:2: x: unknown key`},
		},
		{
			name:    "more than one document",
			file:    "version: 1\n---\nversion: 1\n",
			wantErr: []string{`more than one YAML document`},
		},
		{
			name: "version is not an environment variable",
			file: noFile,
			env:  []string{"BERTH_VERSION=2"},
			want: func(c *Config) {},
		},
		{
			name:    "bad YAML",
			file:    "version: 1\nhttp:\n  addr: [unclosed\n",
			wantErr: []string{"berth.yaml: invalid YAML:"},
		},
		{
			name:    "missing file",
			file:    noFile + "missing",
			wantErr: []string{"no such file"},
		},
		{
			name: "unknown keys, all reported with suggestions",
			file: "version: 1\nhttp:\n  adr: :5000\nstorage:\n  path: /x\n  bogus: 1\nlogging:\n  level: debug\n",
			wantErr: []string{
				`berth.yaml:3: http.adr: unknown key (did you mean "http.addr"?)`,
				`berth.yaml:6: storage.bogus: unknown key`,
				`berth.yaml:7: logging: unknown key`,
			},
		},
		{
			name:    "duplicate key",
			file:    "version: 1\nlog:\n  level: info\n  level: debug\n",
			wantErr: []string{"berth.yaml:4: log.level: set twice (first on line 3)"},
		},
		{
			name:    "missing version",
			file:    "http:\n  addr: :5000\n",
			wantErr: []string{`version: required`},
		},
		{
			name:    "empty file",
			file:    "",
			wantErr: []string{`version: required`},
		},
		{
			name:    "unsupported version stops reading the file",
			file:    "version: 2\nnew_section:\n  x: 1\n",
			wantErr: []string{`berth.yaml:1: version: unsupported version "2"; this berth reads version 1`},
		},
		{
			name:    "top level not a mapping",
			file:    "- a\n- b\n",
			wantErr: []string{"top level must be a mapping"},
		},
		{
			name: "wrong shapes and bad values in file",
			file: "version: 1\nhttp: :5000\nstorage:\n  max_blob_size: 12XB\n  upload_max_age: 30\n  path: [a, b]\nlog:\n  level:\n",
			wantErr: []string{
				"berth.yaml:2: http: must be a section of keys, not a single value",
				`berth.yaml:4: storage.max_blob_size: invalid size "12XB"`,
				`berth.yaml:5: storage.upload_max_age: invalid duration "30"`,
				"berth.yaml:6: storage.path: must be a single string value, not a list",
				"berth.yaml:8: log.level: has no value",
			},
		},
		{
			name: "bad env values name the variable",
			file: noFile,
			env: []string{
				"BERTH_REGISTRY_LIST_MAX_ENTRIES=lots",
				"BERTH_HTTP_SHUTDOWN_TIMEOUT=soon",
				"BERTH_STORAGE_MAX_BLOB_SIZE=1.5GiB",
			},
			wantErr: []string{
				`BERTH_HTTP_SHUTDOWN_TIMEOUT (http.shutdown_timeout): invalid duration "soon"`,
				`BERTH_STORAGE_MAX_BLOB_SIZE (storage.max_blob_size): invalid size "1.5GiB"`,
				`BERTH_REGISTRY_LIST_MAX_ENTRIES (registry.list_max_entries): invalid integer "lots"`,
			},
		},
		{
			name:    "file and env errors together",
			file:    "version: 1\nhttp:\n  adr: x\n",
			env:     []string{"BERTH_LOG_LEVEL=debug", "BERTH_STORAGE_UPLOAD_MAX_AGE=forever"},
			wantErr: []string{"http.adr: unknown key", "BERTH_STORAGE_UPLOAD_MAX_AGE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			switch {
			case tt.file == noFile:
			case strings.HasPrefix(tt.file, noFile):
				file = filepath.Join(t.TempDir(), "missing.yaml")
			default:
				file = writeFile(t, tt.file)
			}
			got, err := Load(file, tt.env)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Load: no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, err)
					}
				}
				if n := len(flatten(err)); n != len(tt.wantErr) {
					t.Errorf("got %d errors, want %d:\n%v", n, len(tt.wantErr), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// TestLoadKeepsGoodValuesOnError: values that parsed are kept when others
// fail, so Validate can report more problems from the same run.
func TestLoadKeepsGoodValuesOnError(t *testing.T) {
	file := writeFile(t, "version: 1\nlog:\n  level: loud\n  format: xml\nhttp:\n  nope: 1\n")
	cfg, err := Load(file, []string{"BERTH_STORAGE_MAX_BLOB_SIZE=-5"})
	if err == nil || !strings.Contains(err.Error(), "http.nope") {
		t.Fatalf("Load error = %v, want the unknown key", err)
	}
	if cfg.Log.Level != "loud" || cfg.Storage.MaxBlobSize != -5 {
		t.Errorf("values lost: %+v", cfg)
	}
	verr := cfg.Validate()
	for _, w := range []string{"log.level", "log.format", "storage.max_blob_size: must not be negative"} {
		if verr == nil || !strings.Contains(verr.Error(), w) {
			t.Errorf("Validate() = %v, want it to mention %q", verr, w)
		}
	}
}

// settings is a struct with every supported kind, to test the reflection
// walk beyond the kinds Config happens to use today.
type settings struct {
	Name    string        `yaml:"name" key:"name" desc:"a string"`
	Enabled bool          `yaml:"enabled" key:"enabled" desc:"a bool"`
	Sub     subSettings   `yaml:"sub"`
	Wait    time.Duration `yaml:"wait" key:"wait" desc:"a duration"`
	hidden  int
}

type subSettings struct {
	Count     int      `yaml:"count" key:"sub.count"`
	Hosts     []string `yaml:"hosts" key:"sub.hosts"`
	CacheSize int64    `yaml:"cache_size" key:"sub.cache_size"`
	Secret    string   `yaml:"secret" key:"sub.secret" env:"-"`
}

func TestGenericKinds(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		want    settings
		wantErr string
	}{
		{
			name: "yaml",
			yaml: "name: x\nenabled: true\nwait: 1m\nsub:\n  count: 3\n  hosts: [a, b]\n  cache_size: 2KiB\n  secret: s\n",
			want: settings{Name: "x", Enabled: true, Wait: time.Minute, Sub: subSettings{Count: 3, Hosts: []string{"a", "b"}, CacheSize: 2048, Secret: "s"}},
		},
		{
			name: "env",
			env:  []string{"BERTH_ENABLED=true", "BERTH_SUB_HOSTS= a, b ,,c", "BERTH_SUB_CACHE_SIZE=3kB", "BERTH_SUB_SECRET=leak", "BERTH_SUB_COUNT=-2"},
			want: settings{Enabled: true, Sub: subSettings{Count: -2, Hosts: []string{"a", "b", "c"}, CacheSize: 3000}},
		},
		{
			name:    "yaml list must be a list",
			yaml:    "sub:\n  hosts: a\n",
			wantErr: "t.yaml:2: sub.hosts: must be a list, not a single value",
		},
		{
			name:    "yaml list items must be scalars",
			yaml:    "sub:\n  hosts: [a, [b]]\n",
			wantErr: "sub.hosts: list items must be single values, not a list",
		},
		{
			name:    "bad bool in env",
			env:     []string{"BERTH_ENABLED=yes please"},
			wantErr: `BERTH_ENABLED (enabled): invalid boolean "yes please"`,
		},
		{
			name:    "yaml 1.1 booleans are not booleans",
			yaml:    "enabled: on\n",
			wantErr: `t.yaml:1: enabled: invalid boolean "on"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got settings
			var p problems
			v := reflect.ValueOf(&got).Elem()
			if tt.yaml != "" {
				root := parseYAML(t, tt.yaml)
				(&decoder{file: "t.yaml", p: &p}).mapping(root, v, "")
			}
			applyEnv(v, tt.env, &p)
			err := p.err()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFieldsOfRejectsUnsupported(t *testing.T) {
	type noTag struct{ X int }
	type badType struct {
		M map[string]string `key:"m"`
	}
	type floatSize struct {
		S float64 `key:"s.size"`
	}
	for name, typ := range map[string]reflect.Type{
		"missing key tag":  reflect.TypeFor[noTag](),
		"unsupported type": reflect.TypeFor[badType](),
		"float":            reflect.TypeFor[floatSize](),
		"not a struct":     reflect.TypeFor[int](),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := fieldsOf(typ); err == nil {
				t.Errorf("fieldsOf(%s) succeeded", typ)
			}
		})
	}
}

func TestLoadErrorIsJoined(t *testing.T) {
	_, err := Load(writeFile(t, "version: 1\na: 1\nb: 2\n"), nil)
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) != 2 {
		t.Fatalf("want two joined errors, got %v", err)
	}
}

func parseYAML(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}
