package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWebhookCommands(t *testing.T) {
	host := startCLIServer(t)
	home := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("hook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer recv.Close()

	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string // regexp
		wantErr  string // substring
	}{
		{"login", cliAdminPassword + "\n", []string{"login", host, "-u", "admin", "--password-stdin"}, 0, `Logged in`, ""},
		{"project create", "", []string{"project", "create", "apps"}, 0, `Created project apps`, ""},
		{"add without flags", "", []string{"webhook", "add", "--url", recv.URL}, 1, "", "--url, --events and --secret-file are required"},
		{"add, bad event type", "", []string{"webhook", "add", "--url", recv.URL, "--events", "push,everything", "--secret-file", secret}, 1, "", `event type "everything"`},
		{"add global", "", []string{"webhook", "add", "--url", recv.URL, "--events", "push,delete", "--secret-file", secret}, 0, `Webhook 1: .* gets push,delete \(registry\)`, ""},
		{"add to a project, secret on stdin", "s2\n", []string{"webhook", "add", "--project", "apps", "--url", recv.URL + "/apps", "--events", "all", "--format", "cloudevents", "--secret-file", "-"}, 0, `Webhook 2: .*/apps gets all \(cloudevents\)`, ""},
		{"list global", "", []string{"webhook", "list"}, 0, `(?m)^1\s+http://\S+\s+delete,push\s+registry\s+yes\s+\d+$`, ""},
		{"list project", "", []string{"webhook", "list", "--project", "apps"}, 0, `(?m)^2\s+http://\S+/apps\s+all\s+cloudevents\s+yes`, ""},
		{"disable", "", []string{"webhook", "disable", "2", "--project", "apps"}, 0, `Webhook 2 disabled`, ""},
		{"listed disabled", "", []string{"webhook", "list", "--project", "apps"}, 0, `(?m)^2\s+.*\s+no\s+\d+$`, ""},
		{"the project's endpoint is not global", "", []string{"webhook", "rm", "2"}, 1, "", "not_found"},
		{"deliveries (none yet)", "", []string{"webhook", "deliveries", "1"}, 0, `^AT\s+EVENT IDS\s+EVENTS\s+ATTEMPT\s+STATUS\s+TOOK\s+RESULT\n$`, ""},
		{"rm", "", []string{"webhook", "rm", "2", "--project", "apps"}, 0, `Removed webhook 2`, ""},
		{"gone", "", []string{"webhook", "list", "--project", "apps"}, 0, `^ID\s+URL\s+EVENTS\s+FORMAT\s+ENABLED\s+CURSOR\n$`, ""},
	}
	for _, s := range steps {
		code, out, errOut := adminCLI(t, home, s.stdin, s.args...)
		if code != s.wantCode || (s.wantOut != "" && !regexp.MustCompile(s.wantOut).MatchString(out)) || !strings.Contains(errOut, s.wantErr) {
			t.Fatalf("%s: berth %s = %d\nstdout: %s\nstderr: %s", s.name, strings.Join(s.args, " "), code, out, errOut)
		}
	}
}
