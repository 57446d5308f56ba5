package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRetentionCommands(t *testing.T) {
	host := startCLIServer(t)
	home := t.TempDir()
	if code, out, errOut := adminCLI(t, home, cliAdminPassword+"\n", "login", host, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login = %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := adminCLI(t, home, "", "project", "create", "apps"); code != 0 {
		t.Fatalf("project create = %d\n%s%s", code, out, errOut)
	}
	// apps/web: v1, v2, v3 pushed in that order.
	var v1Digest string
	for i := 1; i <= 3; i++ {
		img, _ := random.Image(300, 1)
		ref, _ := name.ParseReference(fmt.Sprintf("%s/apps/web:v%d", host, i))
		if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			d, _ := img.Digest()
			v1Digest = d.String()
		}
	}
	v1Short := regexp.QuoteMeta(v1Digest[:len("sha256:")+12])

	for _, s := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // regexp
		wantErr  string // substring
	}{
		{"add without a kind", []string{"retention", "add", "apps", "--repositories", "apps/**"}, 1, "", "exactly one of"},
		{"add with two kinds", []string{"retention", "add", "apps", "--repositories", "apps/**", "--keep", "--keep-last", "2"}, 1, "", "exactly one of"},
		{"add without repositories", []string{"retention", "add", "apps", "--keep"}, 1, "", "--repositories is required"},
		{"add with a bad age", []string{"retention", "add", "apps", "--repositories", "apps/**", "--untagged-after", "7 days"}, 1, "", "invalid"},
		{"add keep-last", []string{"retention", "add", "apps", "--repositories", "apps/**", "--keep-last", "2"}, 0, `Rule \d+: keep-last 2, tags \*\* in apps/\*\*`, ""},
		{"add untagged-after", []string{"retention", "add", "apps", "--repositories", "apps/web", "--untagged-after", "14d"}, 0, `Rule \d+: untagged-after 2w, tags \*\* in apps/web`, ""},
		{"add pulled-within", []string{"retention", "add", "apps", "--repositories", "apps/**", "--tags", "rel-*", "--pulled-within", "720h"}, 0, `Rule \d+: keep-pulled-within 30d, tags rel-\* in apps/\*\*`, ""},
		{"list", []string{"retention", "list", "apps"}, 0, `(?m)^ID\s+REPOSITORIES\s+TAGS\s+RULE\n1\s+apps/\*\*\s+\*\*\s+keep-last 2\n2\s+apps/web\s+\*\*\s+untagged-after 2w\n3\s+apps/\*\*\s+rel-\*\s+keep-pulled-within 30d\n$`, ""},
		{"rm", []string{"retention", "rm", "apps", "3"}, 0, `Removed rule 3 of apps`, ""},
		{"rm, no such rule", []string{"retention", "rm", "apps", "3"}, 1, "", "not_found"},
		{"run, dry", []string{"retention", "run", "apps", "--dry-run"}, 0,
			`(?s)REPOSITORY\s+DIGEST\s+TAGS\s+MANIFEST\s+SIZE\napps/web\s+` + v1Short + `\s+v1\s+yes\s+\d+\n\nWould remove 1 tags and 1 manifests; bytes freed: [1-9]\d*\n$`, ""},
		{"the dry run removed nothing", []string{"repo", "artifacts", "apps/web"}, 0, `(?m)^` + v1Short + `\s+v1\s`, ""},
		{"run one project", []string{"retention", "run", "apps"}, 0,
			`(?s)apps/web\s+` + v1Short + `\s+v1\s+yes\s+\d+\n\nRemoved 1 tags and 1 manifests; bytes freed: [1-9]\d*\n$`, ""},
		{"run every project: nothing left", []string{"retention", "run"}, 0, `(?s)^REPOSITORY\s+DIGEST\s+TAGS\s+MANIFEST\s+SIZE\n\nRemoved 0 tags and 0 manifests; bytes freed: 0\n$`, ""},
		{"run a missing project", []string{"retention", "run", "nope"}, 1, "", "not_found"},
	} {
		code, out, errOut := adminCLI(t, home, "", s.args...)
		if code != s.wantCode || (s.wantOut != "" && !regexp.MustCompile(s.wantOut).MatchString(out)) || !strings.Contains(strings.ToLower(errOut), s.wantErr) {
			t.Fatalf("%s: berth %s = %d\nstdout: %s\nstderr: %s", s.name, strings.Join(s.args, " "), code, out, errOut)
		}
	}
	code, out, _ := adminCLI(t, home, "", "repo", "artifacts", "apps/web")
	if code != 0 || strings.Contains(out, v1Digest[:len("sha256:")+12]) || !strings.Contains(out, "v2") || !strings.Contains(out, "v3") {
		t.Fatalf("artifacts after the run = %d\n%s", code, out)
	}
}
