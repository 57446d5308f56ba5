//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// startReferenceRegistry starts the Debian reference registry
// (docker-registry, distribution 2.8: no referrers API) next to berth,
// whatever E2E_TARGET is. It skips the test when the binary is missing,
// unless E2E_REQUIRE_CLIENTS=1.
func startReferenceRegistry(t *testing.T) *server {
	t.Helper()
	bin := os.Getenv("E2E_DISTRIBUTION_BIN")
	if bin == "" {
		bin = "/usr/bin/docker-registry"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("E2E_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("reference registry: %v (apt-get install docker-registry)", err)
		}
		t.Skipf("reference registry: %v (apt-get install docker-registry)", err)
	}
	logDir := t.TempDir()
	s := &server{
		t: t, kind: targetDistribution, bin: bin, addr: freeAddr(t),
		dataDir: filepath.Join(logDir, "data"), logPath: filepath.Join(logDir, "server.log"),
		cfgPath: filepath.Join(logDir, "config.yml"), client: httpClient,
	}
	if err := os.WriteFile(s.cfgPath, []byte(distributionConfig(s.addr, s.dataDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.running() {
			s.stop()
		}
		if t.Failed() {
			t.Logf("reference registry log, last part:\n%s", tailFile(s.logPath, 4000))
		}
	})
	s.start()
	return s
}

// berthCLI runs the berth binary with a private HOME whose Docker config
// file holds the admin's credentials for hosts.
type berthCLI struct {
	bin  string
	home string
}

func newBerthCLI(t *testing.T, hosts ...string) berthCLI {
	t.Helper()
	home := t.TempDir()
	addRegistryAuth(t, filepath.Join(home, ".docker", "config.json"), hosts...)
	return berthCLI{bin: targetBinary(t), home: home}
}

func (b berthCLI) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+b.home, "DOCKER_CONFIG="+filepath.Join(b.home, ".docker"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code <= 0 {
		t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}

// pushSignedIndex pushes a two-platform OCI index to repo:tag on a berth,
// an SBOM whose subject is the index and a cosign-style signature tag.
func pushSignedIndex(t *testing.T, repo, tag string) (idx v1.ImageIndex, sbom, sig v1.Image) {
	t.Helper()
	ctx := context.Background()
	rng := newRand(t)
	idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img := randomImage(t, rng, 2, 4<<10, 256<<10)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	ref, err := name.ParseReference(repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), registryAuth()); err != nil {
		t.Fatalf("push index: %v", err)
	}
	d, _ := idx.Digest()
	raw, _ := idx.RawManifest()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.example.sbom")
	sbom = mutate.Subject(base, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: int64(len(raw))}).(v1.Image)
	sd, _ := sbom.Digest()
	if err := remote.Write(mustParse(t, repo+"@"+sd.String()), sbom, remote.WithContext(ctx), registryAuth()); err != nil {
		t.Fatalf("push SBOM: %v", err)
	}
	sig = randomImage(t, rng, 1, 256, 512)
	if err := remote.Write(mustParse(t, repo+":"+strings.Replace(d.String(), ":", "-", 1)+".sig"), sig, remote.WithContext(ctx), registryAuth()); err != nil {
		t.Fatalf("push signature: %v", err)
	}
	return idx, sbom, sig
}

func mustParse(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkCopied fails unless repo holds the index (every platform), its
// SBOM as a referrer, and the signature tag, all under their digests.
func checkCopied(t *testing.T, repo string, auth remote.Option, idx v1.ImageIndex, sbom, sig v1.Image) {
	t.Helper()
	if err := copiedErr(t, repo, auth, idx, sbom, sig); err != nil {
		t.Fatal(err)
	}
}

// copiedErr says what of the signed index (its tag, every platform, the
// SBOM referrer, the signature tag) is not (yet) in repo.
func copiedErr(t *testing.T, repo string, auth remote.Option, idx v1.ImageIndex, sbom, sig v1.Image) error {
	t.Helper()
	d, _ := idx.Digest()
	got, err := remote.Head(mustParse(t, repo+":v1"), auth)
	if err != nil || got.Digest != d {
		return fmt.Errorf("%s:v1 = %v, %v; want %s", repo, got, err, d)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		img, err := remote.Image(mustParse(t, repo+"@"+m.Digest.String()), auth)
		if err != nil {
			return fmt.Errorf("%s %s: %v", repo, m.Platform, err)
		}
		if dd, _ := img.Digest(); dd != m.Digest {
			return fmt.Errorf("%s: platform %s has digest %s", repo, m.Platform, dd)
		}
	}
	refs, err := remote.Referrers(mustParse(t, repo+"@"+d.String()).(name.Digest), auth)
	if err != nil {
		return fmt.Errorf("referrers in %s: %v", repo, err)
	}
	rm, _ := refs.IndexManifest()
	sd, _ := sbom.Digest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != sd {
		return fmt.Errorf("referrers in %s: %+v, want the SBOM %s", repo, rm.Manifests, sd)
	}
	sigd, _ := sig.Digest()
	got, err = remote.Head(mustParse(t, repo+":"+strings.Replace(d.String(), ":", "-", 1)+".sig"), auth)
	if err != nil || got.Digest != sigd {
		return fmt.Errorf("signature tag in %s: %v, %v", repo, got, err)
	}
	return nil
}

// TestCopyThroughReferenceRegistry: `berth copy` from berth to the Debian
// reference registry and on to a second berth keeps every digest, the
// platforms, the referrer (through the referrers tag schema in the
// registry without the API) and the signature tag; `berth sync` a second
// time sends nothing.
func TestCopyThroughReferenceRegistry(t *testing.T) {
	requireBerth(t)
	a := startServer(t, serverOpts{})
	ref := startReferenceRegistry(t)
	b := startServer(t, serverOpts{})
	cli := newBerthCLI(t, a.host(), b.host())
	idx, sbom, sig := pushSignedIndex(t, a.host()+"/team/app", "v1")
	anon := remote.WithAuth(authn.Anonymous)

	code, out, errOut := cli.run(t, "copy", a.host()+"/team/app:v1", ref.host()+"/app")
	if code != 0 {
		t.Fatalf("copy to the reference registry: exit %d\n%s%s", code, out, errOut)
	}
	if !regexp.MustCompile(`(?m): blob sha256:\w+ \(.*\): sent$`).MatchString(errOut) {
		t.Errorf("no log line per blob (stderr is not a terminal):\n%s", errOut)
	}
	checkCopied(t, ref.host()+"/app", anon, idx, sbom, sig)

	code, out, errOut = cli.run(t, "copy", ref.host()+"/app:v1", b.host()+"/mirror/app")
	if code != 0 {
		t.Fatalf("copy to the second berth: exit %d\n%s%s", code, out, errOut)
	}
	checkCopied(t, b.host()+"/mirror/app", registryAuth(), idx, sbom, sig)

	t.Run("copy again is up to date", func(t *testing.T) {
		code, out, errOut := cli.run(t, "copy", ref.host()+"/app:v1", b.host()+"/mirror/app")
		if code != 0 || !strings.Contains(out, "is up to date") || !strings.Contains(out, ", 0 blobs sent") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("sync twice", func(t *testing.T) {
		code, out, errOut := cli.run(t, "sync", ref.host()+"/app", b.host()+"/synced")
		if code != 0 || !strings.Contains(out, "to "+b.host()+"/synced/app: ") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		checkCopied(t, b.host()+"/synced/app", registryAuth(), idx, sbom, sig)
		code, out, errOut = cli.run(t, "sync", ref.host()+"/app", b.host()+"/synced")
		if code != 0 || !regexp.MustCompile(`: 0 tags copied, \d+ tags up to date\n0 manifests written .*, 0 blobs sent`).MatchString(out) {
			t.Fatalf("second sync: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("failures exit 1 with a message", func(t *testing.T) {
		for _, args := range [][]string{
			{"copy", ref.host() + "/app:missing", b.host() + "/mirror/app"},
			{"copy", ref.host() + "/app:v1", b.host() + "/mirror/app", "--dest-creds", "admin:wrong"},
		} {
			code, out, errOut := cli.run(t, args...)
			if code != 1 || !strings.HasPrefix(errOut, "berth: copy ") || strings.Contains(errOut, "goroutine ") {
				t.Errorf("berth %v: exit %d\n%s%s", args, code, out, errOut)
			}
		}
	})
}
