package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseQuota(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"none", 0, false}, {"Unlimited", 0, false}, {"0", 0, false}, {"1048576", 1 << 20, false},
		{"500MiB", 500 << 20, false}, {"10GiB", 10 << 30, false}, {"1TB", 1e12, false}, {"2 kb", 2000, false},
		{"-5MiB", 0, true}, {"lots", 0, true}, {"1.5GiB", 0, true}, {"", 0, true},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseQuota(c.in)
			if (err != nil) != c.bad || got != c.want {
				t.Errorf("parseQuota(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.bad)
			}
		})
	}
}

func TestQuotaCommands(t *testing.T) {
	host := startCLIServer(t)
	home := t.TempDir()
	run := func(wantCode int, wantOut, wantErr string, args ...string) {
		t.Helper()
		code, out, errOut := adminCLI(t, home, "", args...)
		if code != wantCode || !regexp.MustCompile(wantOut).MatchString(out) || !strings.Contains(errOut, wantErr) {
			t.Fatalf("berth %s = %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if code, out, errOut := adminCLI(t, home, cliAdminPassword+"\n", "login", host, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login = %d\n%s%s", code, out, errOut)
	}
	run(0, "Created project team", "", "project", "create", "team")

	img, _ := random.Image(3000, 2) // two layers of 3000 random bytes (gzipped: a little more)
	ref, _ := name.ParseReference(host + "/team/app:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})); err != nil {
		t.Fatal(err)
	}

	run(0, `(?m)^PROJECT\s+USED\s+QUOTA\s+PERCENT\n(?:library\s+0 B\s+none\s+-\n)?team\s+[5-9]\.\d KiB\s+none\s+-$`, "", "quota", "list")
	run(0, `Project team: quota 10 MiB \(10485760 bytes\), uses [5-9]\.\d KiB \(0\.\d%\)`, "", "quota", "set", "team", "10MiB")
	run(0, `(?m)^team\s+[5-9]\.\d KiB\s+10 MiB\s+0\.\d%$`, "", "quota", "list")
	run(0, `Project team: quota 4 KiB \(4096 bytes\), uses [5-9]\.\d KiB \(1\d\d\.\d%\)`, "", "quota", "set", "team", "4096")
	run(1, ``, "quota set: invalid size", "quota", "set", "team", "lots")
	run(1, ``, "not_found", "quota", "set", "nosuch", "1GiB")

	// Over the quota, a new image is refused; the refusal names the project.
	img2, _ := random.Image(3000, 1)
	ref2, _ := name.ParseReference(host + "/team/app:v2")
	err := remote.Write(ref2, img2, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword}))
	if err == nil || !strings.Contains(err.Error(), "quota exceeded: project team") {
		t.Fatalf("push over the quota: %v", err)
	}

	run(0, `Project team has no quota \(uses [5-9]\.\d KiB\)`, "", "quota", "set", "team", "none")
	run(0, `(?m)^team\s+[5-9]\.\d KiB\s+none\s+-$`, "", "quota", "list")
	if err := remote.Write(ref2, img2, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})); err != nil {
		t.Fatalf("push without a quota: %v", err)
	}
}
