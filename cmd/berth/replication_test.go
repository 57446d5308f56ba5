package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestReplicationCommands(t *testing.T) {
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
		{"login", cliAdminPassword + "\n", []string{"login", host, "-u", "admin", "--password-stdin"}, 0, `Logged in`, ""},
		{"add without flags", "", []string{"replication", "add", "dr"}, 1, "", "--direction, --url and --repositories are required"},
		{"add, bad schedule", "", []string{"replication", "add", "dr", "--direction", "push", "--url", "https://dr.example", "--repositories", "prod/**", "--schedule", "daily"}, 1, "", "schedule"},
		{"add, events on pull", "", []string{"replication", "add", "dr", "--direction", "pull", "--url", "https://dr.example", "--repositories", "prod/**", "--on-event"}, 1, "", "push policies"},
		{"add push", "remote-secret\n", []string{"replication", "add", "dr", "--direction", "push", "--url", "https://dr.example", "--username", "bot", "--password-stdin",
			"--repositories", "prod/**", "--tags", "v*", "--prefix", "mirror", "--on-event", "--deletes"}, 0, `Replication policy 1 \(dr\): push prod/\*\* https://dr.example`, ""},
		{"add pull", "", []string{"replication", "add", "tools", "--direction", "pull", "--url", "127.0.0.1:1", "--repositories", "library/alpine", "--schedule", "0 3 * * *"}, 0, `Replication policy 2 \(tools\): pull`, ""},
		{"name taken", "", []string{"replication", "add", "tools", "--direction", "pull", "--url", "127.0.0.1:1", "--repositories", "x"}, 1, "", "conflict"},
		{"list", "", []string{"replication", "list"}, 0, `(?m)^1\s+dr\s+push\s+https://dr.example\s+prod/\*\*\s+v\*\s+mirror\s+event,deletes\s+yes\n2\s+tools\s+pull\s+127.0.0.1:1\s+library/alpine\s+-\s+-\s+cron 0 3 \* \* \*\s+yes`, ""},
		{"disable by name", "", []string{"replication", "disable", "tools"}, 0, `Replication policy tools disabled`, ""},
		{"a disabled policy does not run", "", []string{"replication", "run", "tools"}, 1, "", "disabled"},
		{"enable", "", []string{"replication", "enable", "2"}, 0, `Replication policy 2 enabled`, ""},
		{"run", "", []string{"replication", "run", "tools"}, 0, `Run 1 of policy tools queued`, ""},
		{"runs", "", []string{"replication", "runs", "--policy", "tools"}, 0, `(?m)^1\s+2\s+manual\s+\S+ \S+\s+running\s+0/1\s+0\s+0\s+0 B\s+-$`, ""},
		{"jobs", "", []string{"replication", "jobs", "1"}, 0, `(?s)Run 1 of policy 2 \(manual\): running.*\n\d+\s+expand\s+-\s+queued\s+0\s+0 B\s+-`, ""},
		{"jobs of a missing run", "", []string{"replication", "jobs", "99"}, 1, "", "not_found"},
		{"rm", "", []string{"replication", "rm", "dr"}, 0, `Removed replication policy dr`, ""},
		{"rm unknown", "", []string{"replication", "rm", "dr"}, 1, "", `no replication policy named "dr"`},
		{"gone", "", []string{"replication", "list"}, 0, `^ID\s+NAME.*\n2\s+tools.*\n$`, ""},
	}
	for _, s := range steps {
		code, out, errOut := adminCLI(t, home, s.stdin, s.args...)
		if code != s.wantCode || (s.wantOut != "" && !regexp.MustCompile(s.wantOut).MatchString(out)) || !strings.Contains(errOut, s.wantErr) {
			t.Fatalf("%s: berth %s = %d\nstdout: %s\nstderr: %s", s.name, strings.Join(s.args, " "), code, out, errOut)
		}
	}
}
