package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/sqlstore"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// execute runs the CLI in-process with env as its environment and a fake
// serve that records the config instead of starting the registry.
func execute(t *testing.T, env []string, args ...string) (code int, stdout, stderr string, served *config.Config) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{env: env, stdout: &out, stderr: &errb}
	c.serve = func(ctx context.Context, cfg config.Config, log *slog.Logger) error {
		if ctx == nil || log == nil {
			t.Error("serve called without a context or logger")
		}
		served = &cfg
		return nil
	}
	code = c.run(context.Background(), args)
	return code, out.String(), errb.String(), served
}

func TestBuildConfigLayers(t *testing.T) {
	file := writeConfig(t, "version: 1\nhttp:\n  addr: 127.0.0.1:6001\nstorage:\n  path: /file\nlog:\n  level: debug\n")
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantAddr string
		wantPath string
		wantLvl  string
		wantErr  []string
	}{
		{name: "defaults", wantAddr: "0.0.0.0:5000", wantPath: "./berth-data", wantLvl: "info"},
		{name: "file", args: []string{"--config", file}, wantAddr: "127.0.0.1:6001", wantPath: "/file", wantLvl: "debug"},
		{
			name: "env over file", args: []string{"--config", file},
			env:      []string{"BERTH_HTTP_ADDR=127.0.0.1:6002", "BERTH_STORAGE_PATH=/env"},
			wantAddr: "127.0.0.1:6002", wantPath: "/env", wantLvl: "debug",
		},
		{
			name: "flags over env", args: []string{"--config", file, "--addr", ":6003", "--data", "/flag"},
			env:      []string{"BERTH_HTTP_ADDR=127.0.0.1:6002", "BERTH_STORAGE_PATH=/env", "BERTH_LOG_LEVEL=warn"},
			wantAddr: ":6003", wantPath: "/flag", wantLvl: "warn",
		},
		{
			name: "one flag leaves the other key alone", args: []string{"--data", "/flag"},
			env:      []string{"BERTH_HTTP_ADDR=127.0.0.1:6002"},
			wantAddr: "127.0.0.1:6002", wantPath: "/flag", wantLvl: "info",
		},
		{
			name: "flag values are validated", args: []string{"--addr", "no-port", "--data", ""},
			wantErr: []string{"invalid configuration:", "http.addr: must be host:port", "storage.path: must not be empty"},
		},
		{
			name: "load and validation errors together", args: []string{"--config", writeConfig(t, "version: 1\nhttp:\n  adr: x\n")},
			env:     []string{"BERTH_LOG_FORMAT=xml", "BERTH_STORAGE_MAX_BLOB_SIZE=big"},
			wantErr: []string{"http.adr: unknown key", "BERTH_STORAGE_MAX_BLOB_SIZE", "log.format: must be one of"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			addServeFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := buildConfig(fs, tt.env)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Addr != tt.wantAddr || cfg.Storage.Path != tt.wantPath || cfg.Log.Level != tt.wantLvl {
				t.Errorf("got addr %q path %q level %q, want %q %q %q",
					cfg.HTTP.Addr, cfg.Storage.Path, cfg.Log.Level, tt.wantAddr, tt.wantPath, tt.wantLvl)
			}
		})
	}
}

func TestServeCommand(t *testing.T) {
	t.Run("passes the layered config to serve", func(t *testing.T) {
		code, _, stderr, served := execute(t, []string{"BERTH_LOG_FORMAT=json"}, "serve", "--addr", "127.0.0.1:0", "--data", "/tmp/x")
		if code != 0 || served == nil {
			t.Fatalf("exit %d, served %v, stderr:\n%s", code, served, stderr)
		}
		if served.HTTP.Addr != "127.0.0.1:0" || served.Storage.Path != "/tmp/x" || served.Log.Format != "json" {
			t.Errorf("served config %+v", served)
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(strings.SplitN(stderr, "\n", 2)[0]), &line); err != nil || line["msg"] != "berth starting" {
			t.Errorf("want a JSON start-up log line on stderr, got %q (%v)", stderr, err)
		}
	})
	t.Run("runtime error is one line without usage", func(t *testing.T) {
		var errb bytes.Buffer
		c := &cli{stdout: &bytes.Buffer{}, stderr: &errb, serve: func(context.Context, config.Config, *slog.Logger) error {
			return errors.New("metadata store: disk on fire")
		}}
		code := c.run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--config", writeConfig(t, "version: 1\nlog:\n  level: error\n")})
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if got := errb.String(); got != "berth: metadata store: disk on fire\n" {
			t.Errorf("stderr = %q", got)
		}
	})
	t.Run("bad config never reaches serve", func(t *testing.T) {
		code, _, stderr, served := execute(t, []string{"BERTH_LOG_LEVEL=loud"}, "serve")
		if code != 1 || served != nil {
			t.Fatalf("exit %d, served %v", code, served)
		}
		want := "berth: invalid configuration:\n  log.level: must be one of"
		if !strings.HasPrefix(stderr, want) || strings.Contains(stderr, "Usage:") {
			t.Errorf("stderr = %q, want prefix %q and no usage", stderr, want)
		}
	})
	t.Run("bad flag prints usage", func(t *testing.T) {
		code, _, stderr, served := execute(t, nil, "serve", "--port", "1")
		if code != 1 || served != nil {
			t.Fatalf("exit %d, served %v", code, served)
		}
		if !strings.HasPrefix(stderr, "berth: unknown flag: --port\n") || !strings.Contains(stderr, "Usage:\n  berth serve [flags]") {
			t.Errorf("stderr = %q", stderr)
		}
	})
	t.Run("extra argument prints usage", func(t *testing.T) {
		code, _, stderr, _ := execute(t, nil, "serve", "now")
		if code != 1 || !strings.HasPrefix(stderr, "berth: serve: accepts 0 arg(s)") || !strings.Contains(stderr, "Usage:") {
			t.Errorf("exit %d, stderr = %q", code, stderr)
		}
	})
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, "version: 1\nhttp:\n  addr: 127.0.0.1:5000\nstorage:\n  max_blob_size: 1GiB\n")
	bad := writeConfig(t, "version: 1\nhttp:\n  adr: :5000\n  shutdown_timeout: -1s\nlog:\n  level: loud\n  format: json\n")
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantCode   int
		wantStdout string
		wantStderr []string // substrings, in order
		wantUsage  bool
	}{
		{name: "valid", args: []string{"config", "check", good}, wantStdout: good + ": ok\n"},
		{
			name: "every problem listed", args: []string{"config", "check", bad}, wantCode: 1,
			wantStderr: []string{
				"berth: " + bad + ": 3 problems:\n",
				"  " + bad + ":3: http.adr: unknown key (did you mean \"http.addr\"?)\n",
				"  http.shutdown_timeout: must be a positive duration",
				"  log.level: must be one of",
			},
		},
		{
			name: "environment counts", args: []string{"config", "check", good}, wantCode: 1,
			env:        []string{"BERTH_STORAGE_UPLOAD_MAX_AGE=whenever"},
			wantStderr: []string{"berth: " + good + ": 1 problem:\n  BERTH_STORAGE_UPLOAD_MAX_AGE (storage.upload_max_age): invalid duration"},
		},
		{
			name: "--env=false checks the file alone", args: []string{"config", "check", "--env=false", good},
			env:        []string{"BERTH_STORAGE_UPLOAD_MAX_AGE=whenever"},
			wantStdout: good + ": ok\n",
		},
		{
			name: "bad version", args: []string{"config", "check", writeConfig(t, "version: 3\n")}, wantCode: 1,
			wantStderr: []string{"1 problem:", `version: unsupported version "3"`},
		},
		{
			name: "missing file", args: []string{"config", "check", "/nonexistent/berth.yaml"}, wantCode: 1,
			wantStderr: []string{"berth: /nonexistent/berth.yaml: 1 problem:\n  open /nonexistent/berth.yaml: no such file or directory"},
		},
		{name: "no file argument", args: []string{"config", "check"}, wantCode: 1, wantStderr: []string{"berth: config check: accepts 1 arg(s), received 0"}, wantUsage: true},
		{name: "config alone", args: []string{"config"}, wantCode: 1, wantStderr: []string{"berth: config: a subcommand is required"}, wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr, served := execute(t, tt.env, tt.args...)
			if served != nil {
				t.Error("config check started the server")
			}
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.wantStdout)
			}
			rest := stderr
			for _, w := range tt.wantStderr {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr does not contain %q (in order):\n%s", w, stderr)
				}
				rest = rest[i+len(w):]
			}
			if tt.wantStderr == nil && stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			if got := strings.Contains(stderr, "Usage:"); got != tt.wantUsage {
				t.Errorf("usage printed = %v, want %v:\n%s", got, tt.wantUsage, stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	oldV, oldC := version, commit
	version, commit = "1.2.3", "abc1234"
	t.Cleanup(func() { version, commit = oldV, oldC })
	want := "berth 1.2.3\ncommit: abc1234\ngo: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr, _ := execute(t, nil, args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if stdout != want {
				t.Errorf("stdout = %q, want %q", stdout, want)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name    string
		log     config.Log
		want    []string
		notWant string
		wantErr bool
	}{
		{name: "text info hides debug", log: config.Log{Level: "info", Format: "text"}, want: []string{"level=WARN msg=shown"}, notWant: "hidden"},
		{name: "json warn", log: config.Log{Level: "warn", Format: "json"}, want: []string{`"level":"WARN"`, `"msg":"shown"`}, notWant: "hidden"},
		{name: "debug shows all", log: config.Log{Level: "debug", Format: "text"}, want: []string{"msg=hidden", "msg=shown"}},
		{name: "bad level", log: config.Log{Level: "loud", Format: "text"}, wantErr: true},
		{name: "bad format", log: config.Log{Level: "info", Format: "xml"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := newLogger(tt.log, &buf)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("hidden")
			l.Warn("shown")
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %q does not contain %q", buf.String(), w)
				}
			}
			if tt.notWant != "" && strings.Contains(buf.String(), tt.notWant) {
				t.Errorf("log %q contains %q", buf.String(), tt.notWant)
			}
		})
	}
}

func TestDBMigrate(t *testing.T) {
	dir := t.TempDir()
	latest := fmt.Sprintf("metadata schema is at version %d (sqlite)\n", len(sqlstore.CoreMigrations()))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"migrates a fresh SQLite database", []string{"db", "migrate", "--data", dir}, 0, latest, ""},
		{"a second run finds it current", []string{"db", "migrate", "--data", dir}, 0, latest, ""},
		{"postgres without a DSN is a configuration error", []string{"db", "migrate"}, 1, "", "metadata.postgres.dsn: must be set"},
		{"no subcommand", []string{"db"}, 1, "", "a subcommand is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if strings.Contains(tt.name, "postgres") {
				env = []string{"BERTH_METADATA_DRIVER=postgres"}
			}
			code, stdout, stderr, _ := execute(t, env, tt.args...)
			if code != tt.wantCode || stdout != tt.wantOut || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "berth.db")); err != nil {
		t.Fatalf("no database created: %v", err)
	}
}
