package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

const relocateAdminPassword = "relocate-admin-secret"

// asAdmin logs go-containerregistry in as the admin made on first start.
var asAdmin = remote.WithAuth(&authn.Basic{Username: "admin", Password: relocateAdminPassword})

// serveData runs berth on dir behind httptest for the duration of fn.
func serveData(t *testing.T, dir string, fn func(host string)) {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = dir
	cfg.Auth.AdminPassword = relocateAdminPassword
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()
	fn(strings.TrimPrefix(srv.URL, "http://"))
}

// lockedDir returns a data directory held as by a running server.
func lockedDir(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	release, err := app.LockData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return cfg.Storage.Path
}

func TestRelocateCommand(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	img, err := random.Image(300<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	serveData(t, src, func(host string) {
		ref, _ := name.ParseReference(host + "/moving/app:v1")
		if err := remote.Write(ref, img, asAdmin); err != nil {
			t.Fatal(err)
		}
	})
	toFile := filepath.Join(t.TempDir(), "to.yaml")
	if err := os.WriteFile(toFile, []byte("version: 1\nstorage:\n  path: "+dst+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"copies every repository", []string{"relocate", "--data", src, "--to", toFile}, 0,
			"relocated 1 users, 2 projects, 0 robots and 1 repositories: 1 manifests, 1 tags, 4 blob links (4 blobs", ""},
		{"a second run copies no blob again", []string{"relocate", "--data", src, "--to", toFile}, 0,
			"(0 blobs, 0 bytes copied)", ""},
		{"the destination must differ from the source", []string{"relocate", "--data", dst, "--to", toFile}, 1, "", "the destination is the source"},
		{"--to is required", []string{"relocate", "--data", src}, 1, "", "--to FILE is required"},
		{"not while a server holds the source", []string{"relocate", "--data", lockedDir(t), "--to", toFile}, 1, "", "another berth process is using this data directory"},
		{"a bad destination file is reported", []string{"relocate", "--data", src, "--to", filepath.Join(src, "missing.yaml")}, 1, "", "missing.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr, _ := execute(t, nil, tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantOut) || !strings.Contains(stderr, tt.wantErr) {
				t.Fatalf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
			}
		})
	}

	serveData(t, dst, func(host string) {
		ref, _ := name.ParseReference(host + "/moving/app:v1")
		got, err := remote.Image(ref, asAdmin)
		if err != nil {
			t.Fatalf("pull from the relocated registry: %v", err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("relocated registry serves %s, want %s", d, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
	})
}
