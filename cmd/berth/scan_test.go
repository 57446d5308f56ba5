package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

// osvRecord is a minimal OSV advisory of a Debian package, critical by its
// CVSS vector.
func osvRecord(id string) string {
	return fmt.Sprintf(`{"id": %q, "modified": "2024-01-02T03:04:05Z", "summary": "test advisory",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1"}]}]}]}`, id)
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeZip writes a zip of files (name → content).
func writeZip(t *testing.T, path string, files map[string]string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliCase is one command line and what it must answer.
type cliCase struct {
	name     string
	args     []string
	wantCode int
	wantOut  string // regexp
	wantErr  string // substring of stderr
}

func runCLICases(t *testing.T, home string, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := adminCLI(t, home, "", tc.args...)
			if code != tc.wantCode || !regexp.MustCompile(tc.wantOut).MatchString(out) || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("berth %s = %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, out, errOut)
			}
		})
	}
}

// loginCLI logs home in to srv as user.
func loginCLI(t *testing.T, home, srv, user, password string) {
	t.Helper()
	if code, out, errOut := adminCLI(t, home, password+"\n", "login", srv, "-u", user, "--password-stdin"); code != 0 {
		t.Fatalf("login %s = %d\n%s%s", user, code, out, errOut)
	}
}

func TestVulndbCommands(t *testing.T) {
	srv := startCLIServer(t)
	home := t.TempDir()
	loginCLI(t, home, srv, "admin", cliAdminPassword)
	dir := t.TempDir()
	record := writeFile(t, filepath.Join(dir, "OSV-TEST-1.json"), osvRecord("OSV-TEST-1"))
	all := writeZip(t, filepath.Join(dir, "all.zip"), map[string]string{
		"OSV-TEST-2.json": osvRecord("OSV-TEST-2"), "OSV-TEST-3.json": osvRecord("OSV-TEST-3"), "README.txt": "not a record",
	})
	tree := filepath.Join(dir, "advisories")
	writeFile(t, filepath.Join(tree, "debian", "OSV-TEST-4.json"), osvRecord("OSV-TEST-4"))
	writeFile(t, filepath.Join(tree, "notes.md"), "ignored")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	junk := writeFile(t, filepath.Join(dir, "junk.json"), "this is not JSON")
	brokenZip := writeFile(t, filepath.Join(dir, "broken.zip"), "PK\x03\x04 and then nothing")
	noID := writeFile(t, filepath.Join(dir, "noid.json"), `{"summary": "no id"}`)

	runCLICases(t, home, []cliCase{
		{name: "status before any import", args: []string{"vulndb", "status"},
			wantOut: `^Database generation 0: no advisories imported yet`},
		{name: "one record", args: []string{"vulndb", "import", record},
			wantOut: `^Imported 1 advisories from .*OSV-TEST-1.json \(1 new or changed, 0 skipped\); database generation 1\n$`},
		{name: "the same record again changes nothing", args: []string{"vulndb", "import", record},
			wantOut: `\(0 new or changed, 0 skipped\); database generation 1\n$`},
		{name: "an OSV zip", args: []string{"vulndb", "import", all, "--source", "Debian"},
			wantOut: `^Imported 2 advisories from .*all.zip \(2 new or changed, 0 skipped\); database generation 2\n$`},
		{name: "status names the import", args: []string{"vulndb", "status"},
			wantOut: `^Database generation 2: 3 advisories; last import .* from Debian\n$`},
		{name: "a directory is zipped", args: []string{"vulndb", "import", tree},
			wantOut: `^Imported 1 advisories from .*advisories \(1 new or changed, 0 skipped\); database generation 3\n$`},
		{name: "source defaults to the directory name", args: []string{"vulndb", "status"},
			wantOut: `^Database generation 3: 4 advisories; last import .* from advisories\n$`},
		{name: "junk", args: []string{"vulndb", "import", junk}, wantCode: 1,
			wantErr: "vulndb import " + junk + ": invalid: invalid request: "},
		{name: "a broken zip", args: []string{"vulndb", "import", brokenZip}, wantCode: 1,
			wantErr: "vulndb import " + brokenZip + ": invalid: invalid request: "},
		{name: "a record without id", args: []string{"vulndb", "import", noID}, wantCode: 1,
			wantOut: `(?m)^Imported 1 advisories .*\(0 new or changed, 1 skipped\).*\n  skipped record: osv: record has no id\n$`,
			wantErr: "no advisory in it could be read"},
		{name: "a directory without records", args: []string{"vulndb", "import", empty}, wantCode: 1,
			wantErr: "no *.json file under"},
		{name: "a missing file", args: []string{"vulndb", "import", filepath.Join(dir, "nonexistent.zip")}, wantCode: 1,
			wantErr: "no such file"},
		{name: "no path", args: []string{"vulndb", "import"}, wantCode: 1, wantErr: "requires at least 1 arg"},
		{name: "the failures did not count", args: []string{"vulndb", "status"},
			wantOut: `^Database generation 3: 4 advisories`},
	})

	// Who may: any logged-in user reads the state; only system admins import.
	if code, out, errOut := adminCLI(t, home, "bob-secret-pw\n", "user", "add", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("user add = %d\n%s%s", code, out, errOut)
	}
	bob := t.TempDir()
	loginCLI(t, bob, srv, "bob", "bob-secret-pw")
	runCLICases(t, bob, []cliCase{
		{name: "a user reads the state", args: []string{"vulndb", "status"}, wantOut: `^Database generation 3:`},
		{name: "a user may not import", args: []string{"vulndb", "import", record}, wantCode: 1, wantErr: "denied"},
	})
}

func TestScanPolicyCommands(t *testing.T) {
	srv := startCLIServer(t)
	home := t.TempDir()
	loginCLI(t, home, srv, "admin", cliAdminPassword)
	if code, out, errOut := adminCLI(t, home, "", "project", "create", "prod"); code != 0 {
		t.Fatalf("project create = %d\n%s%s", code, out, errOut)
	}
	runCLICases(t, home, []cliCase{
		{name: "none yet", args: []string{"scan-policy", "show", "prod"}, wantCode: 1,
			wantErr: "not_found: scan policy of project prod not found"},
		{name: "set", args: []string{"scan-policy", "set", "prod", "--block", "HIGH", "--allow", "CVE-2024-1", "--allow", "GHSA-xxxx-yyyy-zzzz", "--require-scan"},
			wantOut: `^Set the scan policy of project prod\nPROJECT\s+BLOCKS\s+ALLOWED\s+REQUIRE-SCAN\s+SCAN-ON-PUSH\s+SCANNER\nprod\s+high or worse\s+CVE-2024-1, GHSA-xxxx-yyyy-zzzz\s+yes\s+no\s+-\n$`},
		{name: "show", args: []string{"scan-policy", "show", "prod"},
			wantOut: `(?m)^prod\s+high or worse\s+CVE-2024-1, GHSA-xxxx-yyyy-zzzz\s+yes\s+no\s+-$`},
		{name: "set replaces", args: []string{"scan-policy", "set", "prod", "--scan-on-push"},
			wantOut: `(?m)^prod\s+nothing \(no severity blocks\)\s+-\s+no\s+yes\s+-$`},
		{name: "a bad severity", args: []string{"scan-policy", "set", "prod", "--block", "severe"}, wantCode: 1,
			wantErr: `invalid: invalid request: block "severe": want critical, high, medium or low`},
		{name: "a bad allow entry", args: []string{"scan-policy", "set", "prod", "--allow", "CVE-1, CVE-2"}, wantCode: 1,
			wantErr: `allow "CVE-1, CVE-2"`},
		{name: "the bad ones changed nothing", args: []string{"scan-policy", "show", "prod"},
			wantOut: `(?m)^prod\s+nothing \(no severity blocks\)\s+-\s+no\s+yes\s+-$`},
		{name: "an unknown project", args: []string{"scan-policy", "set", "nope", "--block", "high"}, wantCode: 1,
			wantErr: "not_found"},
		{name: "rm", args: []string{"scan-policy", "rm", "prod"}, wantOut: `^Removed the scan policy of project prod\n$`},
		{name: "rm again", args: []string{"scan-policy", "rm", "prod"}, wantCode: 1,
			wantErr: "not_found: scan policy of project prod not found"},
		{name: "gone", args: []string{"scan-policy", "show", "prod"}, wantCode: 1, wantErr: "not found"},
	})
}

// startScanServer serves a berth with its background work running (the
// scanner's workers among it), polling often.
func startScanServer(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = cliAdminPassword
	cfg.Scan.PollInterval = 100 * time.Millisecond
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
		a.Close()
	})
	return ln.Addr().String()
}

// debianImage is an image whose package database lists openssl 3.0.10-1
// on Debian 12.
func debianImage(t *testing.T) v1.Image {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct{ name, content string }{
		{"etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"},
		{"var/lib/dpkg/status", "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.10-1\n\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestScanCommands(t *testing.T) {
	srv := startScanServer(t)
	home := t.TempDir()
	loginCLI(t, home, srv, "admin", cliAdminPassword)
	img, _ := random.Image(1000, 1)
	asAdmin := remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})
	if err := remote.Write(mustRef(t, srv+"/prod/app:v1"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	at := "prod/app@" + d.String()
	summary := regexp.QuoteMeta(at) + `: 0 packages; 0 critical, 0 high, 0 medium, 0 low, 0 unknown \(database generation 0\)\n`

	runCLICases(t, home, []cliCase{
		{name: "an unknown tag", args: []string{"scan", "prod/app:nope"}, wantCode: 1,
			wantErr: "scan prod/app:nope: not_found: manifest nope of prod/app not found"},
		{name: "an unknown repository", args: []string{"scan", "prod/other:v1"}, wantCode: 1, wantErr: "not found"},
		{name: "not a reference", args: []string{"scan", "prod/app"}, wantCode: 1, wantErr: "want REPOSITORY:TAG or REPOSITORY@DIGEST"},
		{name: "a bad tag", args: []string{"scan", "prod/app:-bad"}, wantCode: 1, wantErr: `reference "-bad": want a tag or a digest`},
		{name: "report before any scan", args: []string{"scan", "report", "prod/app:v1"}, wantCode: 1,
			wantErr: "not_found: " + at + " not scanned; POST /api/v1/scans or berth scan REPO:TAG"},
		{name: "scan and wait", args: []string{"scan", "prod/app:v1", "--wait", "30s"}, wantOut: "^" + summary + "$"},
		{name: "report by tag", args: []string{"scan", "report", "prod/app:v1"}, wantOut: "^" + summary + "$"},
		{name: "report by digest", args: []string{"scan", "report", at}, wantOut: "^" + summary + "$"},
		{name: "queue without waiting", args: []string{"scan", at}, wantOut: `^(Queued a scan|A scan) of ` + regexp.QuoteMeta(at)},
	})

	t.Run("json", func(t *testing.T) {
		code, out, errOut := adminCLI(t, home, "", "scan", "prod/app:v1", "--wait", "30s", "--json")
		if code != 0 {
			t.Fatalf("scan --json = %d\n%s%s", code, out, errOut)
		}
		var st struct {
			Repository, Digest, State string
			Summary                   struct{ Packages int }
			Report                    *struct{ Artifact string }
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if st.Repository != "prod/app" || st.Digest != d.String() || st.State != "done" || st.Report == nil || st.Report.Artifact != "image" {
			t.Fatalf("scan --json = %s", out)
		}
	})

	// Queueing takes push; reading takes pull.
	if code, out, errOut := adminCLI(t, home, "bob-secret-pw\n", "user", "add", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("user add = %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := adminCLI(t, home, "", "project", "member", "add", "prod", "bob", "--role", "guest"); code != 0 {
		t.Fatalf("project member = %d\n%s%s", code, out, errOut)
	}
	bob := t.TempDir()
	loginCLI(t, bob, srv, "bob", "bob-secret-pw")
	runCLICases(t, bob, []cliCase{
		{name: "a guest reads the report", args: []string{"scan", "report", "prod/app:v1"}, wantOut: "^" + summary + "$"},
		{name: "a guest may not queue", args: []string{"scan", "prod/app:v1"}, wantCode: 1, wantErr: "denied"},
	})

	// A finding, and the policy refusing a pull for it.
	ssl := debianImage(t)
	if err := remote.Write(mustRef(t, srv+"/prod/ssl:v1"), ssl, asAdmin); err != nil {
		t.Fatal(err)
	}
	record := writeFile(t, filepath.Join(t.TempDir(), "OSV-TEST-1.json"), osvRecord("OSV-TEST-1"))
	sd, _ := ssl.Digest()
	runCLICases(t, home, []cliCase{
		{name: "import the advisory", args: []string{"vulndb", "import", record}, wantOut: `database generation 1\n$`},
		{name: "scan finds it", args: []string{"scan", "prod/ssl:v1", "--wait", "30s"},
			wantOut: "^" + regexp.QuoteMeta("prod/ssl@"+sd.String()) + `: 1 packages; 1 critical, 0 high, 0 medium, 0 low, 0 unknown \(database generation 1\)\n` +
				`SEVERITY\s+ID\s+PACKAGE\s+VERSION\s+FIXED-IN\nCRITICAL\s+OSV-TEST-1\s+openssl\s+3\.0\.10-1\s+3\.0\.11-1\n$`},
		{name: "block high", args: []string{"scan-policy", "set", "prod", "--block", "high"}, wantOut: `high or worse`},
	})
	asBob := remote.WithAuth(&authn.Basic{Username: "bob", Password: "bob-secret-pw"})
	for _, tc := range []struct {
		name, ref string
		auth      remote.Option
		wantErr   string // "" = the pull goes ahead
	}{
		{"a guest may not pull the vulnerable image", "/prod/ssl:v1", asBob,
			"prod/ssl@" + sd.String() + ": it has vulnerabilities of severity HIGH or worse: OSV-TEST-1 (CRITICAL, openssl 3.0.10-1) (vulnerability policy of project prod)"},
		{"a guest pulls the clean image", "/prod/app:v1", asBob, ""},
		{"who may push still pulls it", "/prod/ssl:v1", asAdmin, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := remote.Image(mustRef(t, srv+tc.ref), tc.auth)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("pull %s: %v, want %q", tc.ref, err, tc.wantErr)
			}
		})
	}
}
