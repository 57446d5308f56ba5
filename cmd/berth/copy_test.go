package main

import (
	"encoding/base64"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/transfer"
)

// copyServers starts an open in-memory registry (like registry:2) with
// two tags of team/tools/app, and a berth with authentication on. It
// returns their hosts and the digests of the tags.
func copyServers(t *testing.T) (plain, berth string, digests map[string]v1.Hash) {
	t.Helper()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	plain = strings.TrimPrefix(reg.URL, "http://")
	digests = map[string]v1.Hash{}
	for _, tag := range []string{"1.0", "2.0"} {
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(plain + "/team/tools/app:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		digests[tag], _ = img.Digest()
	}
	return plain, startCLIServer(t), digests
}

func TestCopyAndSyncCommands(t *testing.T) {
	plain, berth, digests := copyServers(t)
	// The Docker config file gives the credentials for berth, as docker
	// login would have written them.
	home := t.TempDir()
	dockerDir := filepath.Join(home, ".docker")
	if err := os.MkdirAll(dockerDir, 0o700); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("admin:" + cliAdminPassword))
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"),
		[]byte(`{"auths":{"`+berth+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", dockerDir)
	creds := "admin:" + cliAdminPassword

	steps := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // regexp on stdout
		wantErr  string // regexp on stderr
	}{
		{"copy, credentials from the Docker config", []string{"copy", plain + "/team/tools/app:1.0", berth + "/mirror/app"}, 0,
			`(?m)^Copied \S+/team/tools/app:1.0 to \S+/mirror/app:1.0 \(` + digests["1.0"].String() + `\)\n1 manifests written \(0 already there\), 3 blobs sent`,
			`(?m)^\S+/mirror/app: blob sha256:\w+ \(.*\): sent$`},
		{"copy again: up to date", []string{"copy", plain + "/team/tools/app:1.0", berth + "/mirror/app:1.0"}, 0,
			`is up to date \(` + digests["1.0"].String() + `\)\n0 manifests written \(0 already there\), 0 blobs sent`,
			`mirror/app:1.0: up to date`},
		{"copy by digest", []string{"copy", plain + "/team/tools/app@" + digests["2.0"].String(), berth + "/mirror/bydigest", "--dest-creds", creds}, 0,
			`Copied \S+ to \S+/mirror/bydigest@` + digests["2.0"].String(), ``},
		{"unknown tag", []string{"copy", plain + "/team/tools/app:nope", berth + "/mirror/app"}, 1,
			`^$`, `^berth: copy \S+ to \S+: reading \S+:nope: .*MANIFEST_UNKNOWN`},
		{"credentials refused", []string{"copy", plain + "/team/tools/app:1.0", berth + "/mirror/other", "--dest-creds", "admin:wrong"}, 1,
			`^$`, `^berth: copy .*(UNAUTHORIZED|401)`},
		{"no registry there", []string{"copy", "127.0.0.1:1/app:v1", berth + "/mirror/app"}, 1,
			`^$`, `^berth: copy .*connection refused`},
		{"--all-tags wants repositories", []string{"copy", "--all-tags", plain + "/team/tools/app:1.0", berth + "/x"}, 1,
			`^$`, `with --all-tags, SRC and DST are repositories`},
		{"bad platform", []string{"copy", "--platform", "linux", plain + "/a:b", berth + "/x"}, 1,
			`^$`, `--platform "linux": want os/arch`},
		{"bad creds flag", []string{"copy", "--src-creds", "nopass", plain + "/a:b", berth + "/x"}, 1,
			`^$`, `--src-creds wants USER:PASSWORD`},
		{"sync", []string{"sync", plain + "/team/tools/app", berth + "/synced", "--progress", "none"}, 0,
			`Synced \S+/team/tools/app to \S+/synced/app: 2 tags copied, 0 tags up to date\n`, `^$`},
		{"sync again sends nothing", []string{"sync", plain + "/team/tools/app", berth + "/synced"}, 0,
			`^Synced \S+ to \S+: 0 tags copied, 2 tags up to date\n0 manifests written \(0 already there\), 0 blobs sent \(0 B\)`,
			`synced/app:2.0: up to date`},
		{"sync one tag", []string{"sync", plain + "/team/tools/app:2.0", berth + "/one"}, 0,
			`1 tags copied, 0 tags up to date`, ``},
		{"copy --all-tags with bars", []string{"copy", "--all-tags", "--progress", "bars", plain + "/team/tools/app", berth + "/all/app"}, 0,
			`Copied \S+:1.0 .*\nCopied \S+:2.0 `, `total \(6 sent, 0 skipped\) +\[=+\] +\d+\.\d KiB / \d+\.\d KiB`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut, _ := execute(t, nil, s.args...)
			if code != s.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, s.wantCode, out, errOut)
			}
			if !regexp.MustCompile(s.wantOut).MatchString(out) {
				t.Errorf("stdout %q does not match %q", out, s.wantOut)
			}
			if s.wantErr != "" && !regexp.MustCompile(s.wantErr).MatchString(errOut) {
				t.Errorf("stderr %q does not match %q", errOut, s.wantErr)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("stack trace on stderr: %s", errOut)
			}
		})
	}
	t.Run("digests at the destination", func(t *testing.T) {
		for ref, want := range map[string]v1.Hash{
			"/mirror/app:1.0": digests["1.0"], "/synced/app:1.0": digests["1.0"], "/synced/app:2.0": digests["2.0"],
			"/all/app:2.0": digests["2.0"], "/one/app:2.0": digests["2.0"],
		} {
			r, _ := name.ParseReference(berth + ref)
			d, err := remote.Head(r, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword}))
			if err != nil || d.Digest != want {
				t.Errorf("%s: %v, %v; want %s", ref, d, err, want)
			}
		}
	})
}

func TestHasTagOrDigest(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1:5000/app", false},
		{"127.0.0.1:5000/app:v1", true},
		{"registry.example/team/app@sha256:abc", true},
		{"ubuntu", false},
		{"ubuntu:24.04", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := hasTagOrDigest(tt.in); got != tt.want {
				t.Fatalf("hasTagOrDigest(%q) = %v", tt.in, got)
			}
		})
	}
}

func TestBarLine(t *testing.T) {
	tests := []struct {
		done, size int64
		want       string
	}{
		{0, 1024, "[>                             ]"},
		{512, 1024, "[===============>              ]"},
		{1024, 1024, "[==============================]"},
		{0, 0, "[==============================]"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := barLine("x", tt.done, tt.size); !strings.Contains(got, tt.want) {
				t.Fatalf("barLine = %q, want %q in it", got, tt.want)
			}
		})
	}
}

func TestBars(t *testing.T) {
	var out strings.Builder
	b := newBars(&out, time.Hour) // drawn by hand below
	d1 := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
	d2 := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("2", 64)}
	b.Update(transfer.Event{Kind: transfer.BlobStart, Repo: "r/app", Digest: d1, Size: 1000})
	b.Update(transfer.Event{Kind: transfer.BlobStart, Repo: "r/app", Digest: d2, Size: 3000})
	b.Update(transfer.Event{Kind: transfer.BlobBytes, Repo: "r/app", Digest: d1, Size: 1000, Done: 500})
	b.draw()
	first := out.String()
	for _, want := range []string{"sha256:111111111111", "sha256:222222222222", "500 B / 1000 B", "total (0 sent, 0 skipped)", "500 B / 3.9 KiB"} {
		if !strings.Contains(first, want) {
			t.Errorf("first draw %q lacks %q", first, want)
		}
	}
	if strings.Contains(first, "\x1b[") {
		t.Errorf("first draw moves the cursor: %q", first)
	}
	b.Update(transfer.Event{Kind: transfer.BlobSent, Repo: "r/app", Digest: d1, Size: 1000})
	b.close()
	second := strings.TrimPrefix(out.String(), first)
	// Up three lines (two bars and the total), clear, the finished blob as
	// a log line, then the one bar left and the total.
	if !strings.HasPrefix(second, "\x1b[3F\x1b[J"+"r/app: blob "+d1.String()+" (1000 B): sent\n") {
		t.Errorf("second draw %q", second)
	}
	if strings.Contains(second, "sha256:111111111111 ") || !strings.Contains(second, "total (1 sent, 0 skipped)") {
		t.Errorf("second draw %q", second)
	}
}

func TestCopyTLSVerify(t *testing.T) {
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	defer srv.Close()
	tlsHost := strings.TrimPrefix(srv.URL, "https://")
	plain, _, digests := copyServers(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	code, _, errOut, _ := execute(t, nil, "copy", plain+"/team/tools/app:1.0", tlsHost+"/app")
	if code != 1 || !strings.Contains(errOut, "certificate") || !strings.Contains(errOut, "--dest-tls-verify=false") {
		t.Fatalf("untrusted certificate: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut, _ := execute(t, nil, "copy", "--dest-tls-verify=false", plain+"/team/tools/app:1.0", tlsHost+"/app")
	if code != 0 || !strings.Contains(out, digests["1.0"].String()) {
		t.Fatalf("--dest-tls-verify=false: exit %d\n%s%s", code, out, errOut)
	}
}
