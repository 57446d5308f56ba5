//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const dockerTimeout = 5 * time.Minute

var (
	dockerCfgOnce sync.Once
	dockerCfgDir  string
	dockerCfgErr  error
)

// dockerConfig is the docker CLI's private configuration directory
// (DOCKER_CONFIG), made once for the test binary and removed by TestMain:
// `docker login` writes the test credentials there, never into the user's
// ~/.docker.
func dockerConfig(t testing.TB) string {
	t.Helper()
	dockerCfgOnce.Do(func() {
		dockerCfgDir, dockerCfgErr = os.MkdirTemp("", "berth-e2e-docker-config-")
	})
	if dockerCfgErr != nil {
		t.Fatalf("docker config directory: %v", dockerCfgErr)
	}
	return dockerCfgDir
}

// removeDockerConfig removes the directory dockerConfig made, if any.
func removeDockerConfig() {
	if dockerCfgDir != "" {
		_ = os.RemoveAll(dockerCfgDir)
	}
}

// dockerCLI runs the docker client against DOCKER_HOST, with the private
// configuration, and returns its combined output.
func dockerCLI(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return dockerCLIInput(t, "", args...)
}

// dockerCLIInput is dockerCLI with stdin as the command's standard input.
func dockerCLIInput(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv("E2E_DOCKER")
	if bin == "" {
		bin = "docker"
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerConfig(t))
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("docker %s: timed out after %s", strings.Join(args, " "), dockerTimeout)
	}
	return string(out), err
}

// dockerLogin logs the docker CLI in to s as the admin (`docker login
// --password-stdin`, through the engine and berth's token service) and
// logs it out when the test ends. It does nothing when the target asks for
// no credentials.
func dockerLogin(t testing.TB, s *server) {
	t.Helper()
	if !authOn() {
		return
	}
	out, err := dockerCLIInput(t, adminPassword, "login", "--username", adminUser, "--password-stdin", s.host())
	if err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login %s: %v\n%s", s.host(), err, out)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "logout", s.host()) })
}

// mustDocker runs docker and fails the test unless it exits 0.
func mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dockerCLI(t, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// requireDocker fails (not skips: the e2e suite promises docker) when no
// engine answers.
func requireDocker(t testing.TB) {
	t.Helper()
	out, err := dockerCLI(t, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		t.Fatalf("no Docker engine (DOCKER_HOST=%q): %v\n%s\nscripts/test.sh starts a private one", os.Getenv("DOCKER_HOST"), err, out)
	}
	t.Logf("docker engine %s", strings.TrimSpace(out))
}

var (
	pushDigestRE = regexp.MustCompile(`(?m)^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)\s*$`)
	layerLineRE  = regexp.MustCompile(`(?m)^([0-9a-f]{12}): (.+?)\s*$`)
	pullDigestRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})\s*$`)
)

// pushResult is what `docker push` printed.
type pushResult struct {
	Digest string
	// Layers maps each layer's short id to the last status docker printed.
	Layers map[string]string
}

func parsePush(t testing.TB, out string) pushResult {
	t.Helper()
	m := pushDigestRE.FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		t.Fatalf("docker push printed %d digest lines, want 1:\n%s", len(m), out)
	}
	r := pushResult{Digest: m[0][2], Layers: map[string]string{}}
	for _, l := range layerLineRE.FindAllStringSubmatch(out, -1) {
		r.Layers[l[1]] = l[2]
	}
	return r
}

func dockerPush(t testing.TB, ref string) pushResult {
	t.Helper()
	return parsePush(t, mustDocker(t, "push", ref))
}

// checkLayerStatuses fails unless every layer's final status is accepted.
func checkLayerStatuses(t testing.TB, r pushResult, want int, ok func(string) bool, what string) {
	t.Helper()
	if len(r.Layers) != want {
		t.Errorf("docker push showed %d layers, want %d: %v", len(r.Layers), want, r.Layers)
	}
	for id, st := range r.Layers {
		if !ok(st) {
			t.Errorf("layer %s: docker printed %q, want %s", id, st, what)
		}
	}
}

// registryDigest HEADs a manifest and returns Docker-Content-Digest.
func registryDigest(t testing.TB, s *server, repo, ref string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, hdr, err := headStatus(ctx, s, "/v2/"+repo+"/manifests/"+ref, manifestAccept)
	if err != nil {
		t.Fatalf("HEAD manifest %s:%s: %v", repo, ref, err)
	}
	if status != http.StatusOK {
		t.Fatalf("HEAD manifest %s:%s: status %d", repo, ref, status)
	}
	return hdr.Get("Docker-Content-Digest")
}

func imageID(t testing.TB, ref string) string {
	t.Helper()
	return strings.TrimSpace(mustDocker(t, "image", "inspect", "--format", "{{.Id}}", ref))
}

// removeImage removes an image and all its tags, and checks it is gone.
func removeImage(t testing.TB, id string, refs ...string) {
	t.Helper()
	mustDocker(t, "rmi", "-f", id)
	for _, r := range refs {
		if out, err := dockerCLI(t, "image", "inspect", r); err == nil {
			t.Fatalf("%s still present after docker rmi -f %s:\n%s", r, id, out)
		}
	}
}

// dockerLoad writes img as a docker-archive and loads it under localRef.
func dockerLoad(t testing.TB, img v1.Image, localRef string) {
	t.Helper()
	tag, err := name.NewTag(localRef)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatalf("tarball.Write: %v", err)
	}
	out := mustDocker(t, "load", "-i", path)
	if !strings.Contains(out, "Loaded image: "+localRef) {
		t.Fatalf("docker load printed %q, want it to name %s", out, localRef)
	}
}

// TestDockerPushPull drives the Docker engine through push, re-push,
// cross-repository mount, pull by tag and pull by digest of a 5-layer image.
func TestDockerPushPull(t *testing.T) {
	scenario(t, "docker", "push of a 5-layer image, re-push (layers already exist), push into a second repository (mount), pull by tag and by digest")
	requireDocker(t)
	s := startServer(t, serverOpts{})
	dockerLogin(t, s)
	runDockerPushPull(t, s, s)
}

// runDockerPushPull pushes through node a, then re-pushes, mounts and pulls
// through node b (the same server, or another node sharing its stores).
func runDockerPushPull(t *testing.T, a, b *server) {
	rng := newRand(t)
	s := a

	const nLayers = 5
	layers := make([]v1.Layer, nLayers)
	for i := range layers {
		files := []tarFile{{Name: fmt.Sprintf("layer%d/", i), Dir: true}}
		for j := 0; j < 3; j++ {
			files = append(files, tarFile{
				Name: fmt.Sprintf("layer%d/file%d.bin", i, j),
				Data: randBytes(rng, 32<<10+rng.IntN(256<<10)),
			})
		}
		l, err := newTarLayer(files)
		if err != nil {
			t.Fatal(err)
		}
		layers[i] = l
	}
	img := imageFromLayers(t, layers...)
	wantID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}

	suffix := fmt.Sprintf("%08x", rng.Uint32())
	localRef := "berth-e2e-local/img:" + suffix
	dockerLoad(t, img, localRef)
	if got := imageID(t, localRef); got != wantID.String() {
		t.Fatalf("loaded image id %s, want config digest %s", got, wantID)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", wantID.String()) })

	ref := s.host() + "/e2e/img:v1"
	refB := b.host() + "/e2e/img:v1"
	copyRef := b.host() + "/e2e/copy:v1"
	mustDocker(t, "tag", localRef, ref)
	mustDocker(t, "tag", localRef, refB)

	var pushed string
	t.Run("push", func(t *testing.T) {
		r := dockerPush(t, ref)
		checkLayerStatuses(t, r, nLayers, func(s string) bool { return s == "Pushed" }, `"Pushed"`)
		pushed = r.Digest
		if got := registryDigest(t, s, "e2e/img", "v1"); got != pushed {
			t.Errorf("registry serves tag v1 as %q, docker pushed %s", got, pushed)
		}
		if got := registryDigest(t, s, "e2e/img", pushed); got != pushed {
			t.Errorf("HEAD by digest: Docker-Content-Digest %q, want %s", got, pushed)
		}
	})
	if pushed == "" {
		t.Fatal("push failed; not going on")
	}

	t.Run("push again", func(t *testing.T) {
		r := dockerPush(t, refB)
		checkLayerStatuses(t, r, nLayers, func(s string) bool { return s == "Layer already exists" }, `"Layer already exists"`)
		if r.Digest != pushed {
			t.Errorf("second push digest %s, first %s", r.Digest, pushed)
		}
	})

	t.Run("push to another repository", func(t *testing.T) {
		mustDocker(t, "tag", localRef, copyRef)
		r := dockerPush(t, copyRef)
		checkLayerStatuses(t, r, nLayers, func(s string) bool {
			return s == "Mounted from e2e/img" || s == "Layer already exists"
		}, `"Mounted from e2e/img" or "Layer already exists"`)
		if r.Digest != pushed {
			t.Errorf("push to e2e/copy digest %s, want %s", r.Digest, pushed)
		}
		if got := registryDigest(t, b, "e2e/copy", "v1"); got != pushed {
			t.Errorf("registry serves e2e/copy:v1 as %q, want %s", got, pushed)
		}
	})

	t.Run("pull by tag", func(t *testing.T) {
		removeImage(t, wantID.String(), ref, refB, copyRef, localRef)
		out := mustDocker(t, "pull", refB)
		m := pullDigestRE.FindStringSubmatch(out)
		if m == nil || m[1] != pushed {
			t.Errorf("docker pull printed %q, want Digest: %s", out, pushed)
		}
		if !strings.Contains(out, "Downloaded newer image for "+refB) {
			t.Errorf("docker pull did not download:\n%s", out)
		}
		if got := imageID(t, refB); got != wantID.String() {
			t.Errorf("pulled image id %s, want %s", got, wantID)
		}
		digests := mustDocker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", refB)
		if !strings.Contains(digests, b.host()+"/e2e/img@"+pushed) {
			t.Errorf("RepoDigests %s lacks %s", digests, pushed)
		}
	})

	t.Run("pull by digest", func(t *testing.T) {
		removeImage(t, wantID.String(), refB)
		byDigest := b.host() + "/e2e/img@" + pushed
		out := mustDocker(t, "pull", byDigest)
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != pushed {
			t.Errorf("docker pull by digest printed %q, want Digest: %s", out, pushed)
		}
		if got := imageID(t, byDigest); got != wantID.String() {
			t.Errorf("image id %s, want %s", got, wantID)
		}
	})

	t.Run("pull from the mounted repository", func(t *testing.T) {
		removeImage(t, wantID.String())
		out := mustDocker(t, "pull", copyRef)
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != pushed {
			t.Errorf("docker pull %s printed %q, want Digest: %s", copyRef, out, pushed)
		}
	})

	t.Run("pull unknown tag fails", func(t *testing.T) {
		out, err := dockerCLI(t, "pull", b.host()+"/e2e/img:no-such-tag")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("docker pull of an unknown tag: err %v, want a non-zero exit\n%s", err, out)
		}
		if !strings.Contains(out, "not found") && !strings.Contains(out, "manifest unknown") {
			t.Errorf("docker pull of an unknown tag printed %q, want a not-found error", out)
		}
	})
}

// TestDockerImportRoundTrip pushes a `docker import`ed single-layer image,
// removes it, pulls it back and reads a file out of it.
func TestDockerImportRoundTrip(t *testing.T) {
	scenario(t, "docker", "docker import round trip")
	requireDocker(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	dockerLogin(t, s)

	hello := fmt.Sprintf("hello from berth e2e %x\n", rng.Uint64())
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []tarFile{
		{Name: "hello.txt", Data: []byte(hello)},
		{Name: "data/", Dir: true},
		{Name: "data/random.bin", Data: randBytes(rng, 300<<10)},
	} {
		h := &tar.Header{Name: f.Name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.Data)), ModTime: time.Unix(1700000000, 0)}
		if f.Dir {
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ref := s.host() + "/e2e/imported:v1"
	id := strings.TrimSpace(mustDocker(t, "import", path, ref))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("docker import printed %q, want an image id", id)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", id) })

	r := dockerPush(t, ref)
	checkLayerStatuses(t, r, 1, func(s string) bool { return s == "Pushed" }, `"Pushed"`)
	if got := registryDigest(t, s, "e2e/imported", "v1"); got != r.Digest {
		t.Fatalf("registry serves %q, docker pushed %s", got, r.Digest)
	}

	removeImage(t, id, ref)
	out := mustDocker(t, "pull", ref)
	if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != r.Digest {
		t.Fatalf("docker pull printed %q, want Digest: %s", out, r.Digest)
	}
	if got := imageID(t, ref); got != id {
		t.Errorf("pulled image id %s, imported %s", got, id)
	}

	// Read hello.txt back out of a (never started) container.
	cid := strings.TrimSpace(mustDocker(t, "create", ref, "/none"))
	t.Cleanup(func() { _, _ = dockerCLI(t, "rm", "-f", cid) })
	got := copyOut(t, cid, "/hello.txt")
	if got != hello {
		t.Errorf("hello.txt in the pulled image is %q, want %q", got, hello)
	}
}

// copyOut reads one file out of a container with `docker cp CID:PATH -`.
func copyOut(t testing.TB, cid, path string) string {
	t.Helper()
	bin := os.Getenv("E2E_DOCKER")
	if bin == "" {
		bin = "docker"
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "cp", cid+":"+path, "-")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerConfig(t))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker cp %s:%s: %v\n%s", cid, path, err, stderr.String())
	}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("docker cp output: %s not found: %v", path, err)
		}
		if h.Name == filepath.Base(path) {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}
