package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestProxyCommands(t *testing.T) {
	upstream, cache := startCLIServer(t), startCLIServer(t)
	home := t.TempDir()
	run := func(wantCode int, stdin, wantOut, wantErr string, args ...string) {
		t.Helper()
		code, out, errOut := adminCLI(t, home, stdin, args...)
		if code != wantCode || !regexp.MustCompile(wantOut).MatchString(out) || !strings.Contains(errOut, wantErr) {
			t.Fatalf("berth %s = %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if code, out, errOut := adminCLI(t, home, cliAdminPassword+"\n", "login", cache, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login = %d\n%s%s", code, out, errOut)
	}
	admin := remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})
	img, _ := random.Image(2000, 2)
	if err := remote.Write(mustRef(t, upstream+"/library/tool:1"), img, admin); err != nil {
		t.Fatal(err)
	}

	run(1, "", "", `proxy add: "ftp://`, "proxy", "add", "hub", "ftp://"+upstream)
	run(1, "", "", "is not an upstream URL", "proxy", "add", "hub", "http://"+upstream+"/v2")
	run(0, cliAdminPassword+"\n", `(?s)Created project hub\n.*Project hub is a pull-through cache of http://`+regexp.QuoteMeta(upstream),
		"", "proxy", "add", "hub", "http://"+upstream, "--username", "admin", "--password-stdin", "--ttl", "90s")
	run(0, "", `(?m)^PROJECT\s+UPSTREAM\s+USER\s+INSECURE\s+TTL\nhub\s+http://\S+\s+admin\s+false\s+1m30s$`, "", "proxy", "list")

	got, err := remote.Image(mustRef(t, cache+"/hub/library/tool:1"), admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("image pulled through the cache: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("digest through the cache %s, want %s", d, want)
	}

	// Again: changes the upstream, the project exists.
	run(0, "", `^Project hub is a pull-through cache of http://`, "", "proxy", "add", "hub", "http://"+upstream, "--insecure")
	run(0, "", `(?m)^hub\s+http://\S+\s+-\s+true\s+default$`, "", "proxy", "list")
	run(0, "", "Project hub is no longer a pull-through cache", "", "proxy", "rm", "hub")
	run(1, "", "", "proxy rm: not_found", "proxy", "rm", "hub")
	run(0, "", `^PROJECT\s+UPSTREAM\s+USER\s+INSECURE\s+TTL\n$`, "", "proxy", "list")
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
