package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

const cliAdminPassword = "cli-admin-secret"

// adminCLI runs the CLI in-process with a private HOME and stdin.
func adminCLI(t *testing.T, home, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{env: []string{"HOME=" + home}, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code := c.run(context.Background(), args)
	return code, out.String(), errb.String()
}

// startCLIServer starts berth (admin password cliAdminPassword, an empty
// data directory) for the CLI to talk to, and returns its host:port.
func startCLIServer(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = cliAdminPassword
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestAdminCommands(t *testing.T) {
	host := startCLIServer(t)
	home := t.TempDir()

	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string // regexp
		wantErr  string // substring
	}{
		{"no login yet", "", []string{"user", "list"}, 1, "", "not logged in: run `berth login SERVER` first"},
		{"wrong password", "nope\n", []string{"login", host, "-u", "admin", "--password-stdin"}, 1, "", "login failed"},
		{"login", cliAdminPassword + "\n", []string{"login", host, "-u", "admin", "--password-stdin"}, 0, `Logged in to http://` + regexp.QuoteMeta(host) + ` as admin`, ""},
		{"user add with a password", "alice-password\n", []string{"user", "add", "alice", "--password-stdin"}, 0, "Created user alice", ""},
		{"user add, generated password", "", []string{"user", "add", "bob"}, 0, `(?s)Created user bob.*Password \(shown once\): [A-Za-z0-9]{20}`, ""},
		{"user add, name taken", "x-password\n", []string{"user", "add", "alice", "--password-stdin"}, 1, "", "conflict"},
		{"user list", "", []string{"user", "list"}, 0, `(?m)^admin\s+yes\s+no.*\n^alice\s+no\s+no.*\n^bob\s+no\s+no`, ""},
		{"project create", "", []string{"project", "create", "apps"}, 0, `Created project apps \(private\)`, ""},
		{"member add without a role", "", []string{"project", "member", "add", "apps", "alice"}, 1, "", "--role is required"},
		{"member add", "", []string{"project", "member", "add", "apps", "alice", "--role", "developer"}, 0, "user alice is developer of apps", ""},
		{"member add, unknown role", "", []string{"project", "member", "add", "apps", "bob", "--role", "owner"}, 1, "", "invalid"},
		{"project list", "", []string{"project", "list"}, 0, `(?m)^apps\s+private\s+admin\n^library\s+public`, ""},
		{"robot create, bad permission", "", []string{"robot", "create", "apps/ci", "--permission", "apps/**"}, 1, "", "want PATTERN:ACTIONS"},
		{"robot create", "", []string{"robot", "create", "apps/ci", "--permission", "apps/**:pull,push", "--expires", "720h"}, 0, `(?s)Created robot robot\$apps\+ci.*Secret \(shown once\): \S{40}`, ""},
		{"robot list", "", []string{"robot", "list", "apps"}, 0, `robot\$apps\+ci\s+apps/\*\*:pull,push\s+\d{4}-`, ""},
		{"user passwd", "alice-new-password\n", []string{"user", "passwd", "alice"}, 0, "Changed the password of alice", ""},
		{"robot rm", "", []string{"robot", "rm", "apps/ci"}, 0, "Deleted robot apps/ci", ""},
		{"user rm", "", []string{"user", "rm", "bob"}, 0, "Deleted user bob", ""},
		{"immutable add without patterns", "", []string{"immutable", "add", "apps"}, 1, "", "--repositories and --tags are required"},
		{"immutable add", "", []string{"immutable", "add", "apps", "--repositories", "apps/**", "--tags", "v*"}, 0, `Rule \d+: tags v\* in apps/\*\* are immutable`, ""},
		{"immutable list", "", []string{"immutable", "list", "apps"}, 0, `(?m)^\d+\s+apps/\*\*\s+v\*$`, ""},
		{"immutable rm, no such rule", "", []string{"immutable", "rm", "apps", "999"}, 1, "", "not_found"},
		{"immutable rm (the first rule of a new registry has id 1)", "", []string{"immutable", "rm", "apps", "1"}, 0, "Removed rule 1 of apps", ""},
		{"rotate the token signing key", "", []string{"token", "rotate-key"}, 0, "Rotated the token signing key", ""},
		{"the login still works after a rotation", "", []string{"user", "list"}, 0, `(?m)^admin\s+yes`, ""},
		{"another server than the login's", "", []string{"user", "list", "--server", "127.0.0.1:1"}, 1, "", "not logged in to http://127.0.0.1:1"},
	}
	for _, s := range steps {
		code, out, errOut := adminCLI(t, home, s.stdin, s.args...)
		if code != s.wantCode || (s.wantOut != "" && !regexp.MustCompile(s.wantOut).MatchString(out)) || !strings.Contains(errOut, s.wantErr) {
			t.Fatalf("%s: berth %s = %d\nstdout: %s\nstderr: %s", s.name, strings.Join(s.args, " "), code, out, errOut)
		}
	}

	// Repositories: push one, then list, inspect and delete it through the
	// CLI.
	img0, _ := random.Image(256, 1)
	ref0, _ := name.ParseReference(host + "/apps/api:v1")
	if err := remote.Write(ref0, img0, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"repo", "list"}, 0, `(?m)^apps/api\s+apps$`},
		{[]string{"repo", "list", "library"}, 0, `^NAME\s+PROJECT\n$`},
		{[]string{"repo", "artifacts", "apps/api"}, 0, `(?m)^sha256:[0-9a-f]{12}\s+v1\s+\d+\s+.*admin\s+0$`},
		{[]string{"repo", "rm", "apps/api"}, 0, `Deleted repository apps/api`},
		{[]string{"repo", "rm", "apps/api"}, 1, ``},
	} {
		code, out, errOut := adminCLI(t, home, "", s.args...)
		if code != s.wantCode || !regexp.MustCompile(s.wantOut).MatchString(out) {
			t.Fatalf("berth %s = %d\nstdout: %s\nstderr: %s", strings.Join(s.args, " "), code, out, errOut)
		}
	}

	// The login file keeps a refresh token, never the password.
	b, err := os.ReadFile(filepath.Join(home, ".config", "berth", "login.json"))
	if err != nil || strings.Contains(string(b), cliAdminPassword) || !strings.Contains(string(b), "refresh_token") {
		t.Fatalf("login file = %s, %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(home, ".config", "berth", "login.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("login file mode = %v, %v", st.Mode(), err)
	}
	// What the commands did is real: alice, developer of apps, pushes with
	// her new password.
	img, _ := random.Image(512, 1)
	ref, _ := name.ParseReference(host + "/apps/web:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: "alice-new-password"})); err != nil {
		t.Fatalf("alice's push: %v", err)
	}
}

func TestAdminOffline(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"add a user without a server", "carol-password\n", []string{"user", "add", "carol", "--password-stdin", "--data", dir}, 0, "Created user carol", ""},
		{"reset the admin's password (the lost-password path)", "admin-new-password\n", []string{"user", "passwd", "admin", "--data", dir}, 0, "Changed the password of admin", ""},
		{"create a project and a member", "", []string{"project", "create", "team", "--data", dir}, 0, "Created project team", ""},
		{"", "", []string{"project", "member", "add", "team", "carol", "--role", "developer", "--data", dir}, 0, "user carol is developer of team", ""},
		{"list", "", []string{"user", "list", "--data", dir}, 0, `(?m)^admin\s+yes.*\n^carol\s+no`, ""},
		{"--server and --data together", "", []string{"user", "list", "--data", dir, "--server", "127.0.0.1:1"}, 1, "", "choose one"},
		{"refused while a server holds the directory", "", []string{"user", "list", "--data", lockedDir(t)}, 1, "", "use --server"},
	}
	for _, s := range steps {
		code, out, errOut := adminCLI(t, home, s.stdin, s.args...)
		if code != s.wantCode || (s.wantOut != "" && !regexp.MustCompile(s.wantOut).MatchString(out)) || !strings.Contains(errOut, s.wantErr) {
			t.Fatalf("%s: berth %s = %d\nstdout: %s\nstderr: %s", s.name, strings.Join(s.args, " "), code, out, errOut)
		}
	}
	// A server on the directory knows what was done offline.
	cfg := config.Default()
	cfg.Storage.Path = dir
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer func() { srv.Close(); a.Close() }()
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/team/app:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "carol", Password: "carol-password"})); err != nil {
		t.Fatalf("carol's push: %v", err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "admin", Password: "admin-new-password"})); err != nil {
		t.Fatalf("the admin's new password: %v", err)
	}
	code, out, errOut := adminCLI(t, home, "", "verify", "--data", dir)
	if code != 0 || !regexp.MustCompile(`^Verified 2 blobs \(\d+ bytes\)`).MatchString(out) {
		t.Fatalf("berth verify --data = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
