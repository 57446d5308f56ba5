//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// podman and buildah run as root with the vfs storage driver and private
// --root/--runroot directories under t.TempDir(); they only build FROM
// scratch, commit, push and pull: no container process ever runs.

// ctrStorage is one private containers/storage for podman or buildah.
type ctrStorage struct {
	*ctrTools
	root, runroot, tmp string
}

func newCtrStorage(t *testing.T) *ctrStorage {
	t.Helper()
	c := newCtrTools(t)
	base := t.TempDir()
	// podman refuses a runroot longer than 50 characters, and t.TempDir()
	// paths (under scripts/test.sh's TMPDIR) are longer: keep it short.
	runroot, err := os.MkdirTemp("/tmp", "berth-rr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctrMakeRemovable(runroot); _ = os.RemoveAll(runroot) })
	st := &ctrStorage{
		ctrTools: c,
		root:     filepath.Join(base, "root"),
		runroot:  runroot,
		tmp:      filepath.Join(base, "tmp"),
	}
	// storage.conf names the same places as the flags, so a tool that
	// reads the configuration before the flags sees nothing global.
	conf := fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", st.root, st.runroot)
	if err := os.WriteFile(filepath.Join(c.dir, "storage.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Runs before t.TempDir's own removal (cleanups run last-in first-out).
	t.Cleanup(func() {
		ctrCheckNoMounts(t, base)
		ctrMakeRemovable(base)
	})
	return st
}

// globalArgs are the storage flags both podman and buildah take.
func (st *ctrStorage) globalArgs() []string {
	return []string{"--root", st.root, "--runroot", st.runroot, "--storage-driver", "vfs"}
}

func (st *ctrStorage) podmanArgs(args []string) []string {
	g := append(st.globalArgs(), "--tmpdir", st.tmp, "--events-backend", "none", "--cgroup-manager", "cgroupfs")
	return append(g, args...)
}

func (st *ctrStorage) podman(t testing.TB, bin string, args ...string) (string, string, error) {
	t.Helper()
	return st.run(t, bin, st.podmanArgs(args)...)
}

func (st *ctrStorage) mustPodman(t testing.TB, bin string, args ...string) string {
	t.Helper()
	return st.must(t, bin, st.podmanArgs(args)...)
}

func (st *ctrStorage) buildah(t testing.TB, bin string, args ...string) (string, string, error) {
	t.Helper()
	return st.run(t, bin, append(st.globalArgs(), args...)...)
}

func (st *ctrStorage) mustBuildah(t testing.TB, bin string, args ...string) string {
	t.Helper()
	return st.must(t, bin, append(st.globalArgs(), args...)...)
}

// ctrCheckNoMounts fails the test if anything is still mounted below dir.
func ctrCheckNoMounts(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("mountinfo: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			t.Errorf("still mounted after the test: %s", fields[4])
		}
	}
}

// ctrMakeRemovable gives every directory below dir owner write permission, so
// t.TempDir's removal does not trip over read-only layer directories.
func ctrMakeRemovable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
}

// ctrBuiltFiles is what the test puts into a FROM scratch image.
func ctrBuiltFiles(t testing.TB) map[string][]byte {
	t.Helper()
	rng := newRand(t)
	return map[string][]byte{
		"hello.txt":         []byte(fmt.Sprintf("hello from the berth e2e tests %x\n", rng.Uint64())),
		"data/random.bin":   randBytes(rng, 256<<10),
		"data/sub/note.txt": []byte("note\n"),
	}
}

// ctrWriteFiles writes files under dir.
func ctrWriteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ctrCheckFiles fails unless got holds every wanted file with the same bytes.
func ctrCheckFiles(t testing.TB, what string, want, got map[string][]byte) {
	t.Helper()
	for name, body := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, name)
		case !bytes.Equal(g, body):
			t.Errorf("%s: %s has %d bytes that differ from the %d written", what, name, len(g), len(body))
		}
	}
}

// ctrServedConfig returns the manifest digest berth serves for repo:tag and
// the config digest that manifest names.
func ctrServedConfig(t testing.TB, s *server, repo, tag string) (manifest, config string) {
	t.Helper()
	body, d := ctrManifest(t, s, repo, tag)
	var m v1.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("manifest %s:%s: %v\n%s", repo, tag, err, body)
	}
	if m.Config.Digest.Hex == "" {
		t.Fatalf("manifest %s:%s names no config:\n%s", repo, tag, body)
	}
	return d, m.Config.Digest.String()
}

// ctrLayoutFiles reads the files of the only image of an OCI layout.
func ctrLayoutFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("OCI layout %s: %v", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("OCI layout %s holds %d manifests, want 1", dir, len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return ctrImageFiles(t, img)
}

// ctrFullID returns the full image ID (64 hex digits) as sha256:HEX.
func ctrFullID(t testing.TB, out string) string {
	t.Helper()
	id := strings.TrimSpace(out)
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) != 64 {
		t.Fatalf("image id %q is not 64 hex digits", out)
	}
	return "sha256:" + id
}

// TestPodmanBuildPushPull builds a FROM scratch image with podman build,
// pushes it, removes it, pulls it back and checks the image ID against the
// config digest berth serves and the files against what was built.
func TestPodmanBuildPushPull(t *testing.T) {
	scenario(t, "podman", "build FROM scratch (COPY, vfs), push, rmi, pull: image ID equals the served config digest, files intact (podman save)")
	bin := requireTool(t, "podman")
	st := newCtrStorage(t)
	s := startServer(t, serverOpts{})
	st.login(t, s.host())
	t.Cleanup(func() {
		if out, errOut, err := st.podman(t, bin, "system", "reset", "--force"); err != nil {
			t.Logf("podman system reset: %v\n%s%s", err, out, errOut)
		}
	})

	files := ctrBuiltFiles(t)
	ctx := t.TempDir()
	ctrWriteFiles(t, filepath.Join(ctx, "in"), files)
	containerfile := "FROM scratch\nCOPY in/hello.txt /hello.txt\nCOPY in/data/ /data/\n"
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}

	local := "localhost/e2e/podman-built:v1"
	st.mustPodman(t, bin, "build", "--format", "oci", "-f", filepath.Join(ctx, "Containerfile"), "-t", local, ctx)
	builtID := ctrFullID(t, st.mustPodman(t, bin, "image", "inspect", "--format", "{{.Id}}", local))

	remoteRef := s.host() + "/e2e/podman:v1"
	digestFile := filepath.Join(t.TempDir(), "digest")
	st.mustPodman(t, bin, "push", "--tls-verify=false", "--digestfile", digestFile, local, "docker://"+remoteRef)
	pushed, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatal(err)
	}
	manifestDigest, configDigest := ctrServedConfig(t, s, "e2e/podman", "v1")
	if string(pushed) != manifestDigest {
		t.Errorf("podman pushed %s, berth serves %s", pushed, manifestDigest)
	}
	if builtID != configDigest {
		t.Errorf("built image ID %s, berth serves config %s", builtID, configDigest)
	}

	// Remove every image, intermediate build layers too, so the pull
	// below has to fetch all content from berth.
	st.mustPodman(t, bin, "rmi", "--all", "--force")
	if _, _, err := st.podman(t, bin, "image", "exists", builtID); err == nil {
		t.Fatalf("image %s still exists after podman rmi", builtID)
	}
	if out := st.mustPodman(t, bin, "images", "--all", "--quiet"); strings.TrimSpace(out) != "" {
		t.Fatalf("images left after podman rmi --all: %q", out)
	}

	out := st.mustPodman(t, bin, "pull", "--tls-verify=false", remoteRef)
	if got := ctrFullID(t, ctrLastLine(out)); got != configDigest {
		t.Errorf("podman pull printed ID %s, berth serves config %s", got, configDigest)
	}
	if got := ctrFullID(t, st.mustPodman(t, bin, "image", "inspect", "--format", "{{.Id}}", remoteRef)); got != configDigest {
		t.Errorf("pulled image ID %s, berth serves config %s", got, configDigest)
	}
	if got := strings.TrimSpace(st.mustPodman(t, bin, "image", "inspect", "--format", "{{.Digest}}", remoteRef)); got != manifestDigest {
		t.Errorf("pulled image digest %s, berth serves %s", got, manifestDigest)
	}

	saved := filepath.Join(t.TempDir(), "saved")
	st.mustPodman(t, bin, "save", "--format", "oci-dir", "-o", saved, remoteRef)
	got := ctrLayoutFiles(t, saved)
	ctrCheckFiles(t, "podman save of the pulled image", files, got)
}

// TestBuildahBuildPushPull builds a FROM scratch image with buildah from,
// copy and commit, pushes it, removes it, pulls it back and checks the image
// ID against the config digest berth serves and the files in a working
// container of the pulled image.
func TestBuildahBuildPushPull(t *testing.T) {
	scenario(t, "buildah", "from scratch, copy, commit (vfs), push, rmi, pull: image ID equals the served config digest, files intact (buildah mount)")
	bin := requireTool(t, "buildah")
	st := newCtrStorage(t)
	s := startServer(t, serverOpts{})
	st.login(t, s.host())
	t.Cleanup(func() {
		if out, errOut, err := st.buildah(t, bin, "rm", "--all"); err != nil {
			t.Logf("buildah rm --all: %v\n%s%s", err, out, errOut)
		}
		if out, errOut, err := st.buildah(t, bin, "rmi", "--all", "--force"); err != nil {
			t.Logf("buildah rmi --all: %v\n%s%s", err, out, errOut)
		}
	})

	files := ctrBuiltFiles(t)
	in := t.TempDir()
	ctrWriteFiles(t, in, files)

	ctr := strings.TrimSpace(st.mustBuildah(t, bin, "from", "scratch"))
	st.mustBuildah(t, bin, "copy", ctr, filepath.Join(in, "hello.txt"), "/hello.txt")
	st.mustBuildah(t, bin, "copy", ctr, filepath.Join(in, "data"), "/data")
	st.mustBuildah(t, bin, "config", "--cmd", "/none", "--label", "org.example.berth=e2e", ctr)
	local := "localhost/e2e/buildah-built:v1"
	builtID := ctrFullID(t, ctrLastLine(st.mustBuildah(t, bin, "commit", "--format", "oci", ctr, local)))
	st.mustBuildah(t, bin, "rm", ctr)

	remoteRef := s.host() + "/e2e/buildah:v1"
	digestFile := filepath.Join(t.TempDir(), "digest")
	st.mustBuildah(t, bin, "push", "--tls-verify=false", "--digestfile", digestFile, local, "docker://"+remoteRef)
	pushed, err := os.ReadFile(digestFile)
	if err != nil {
		t.Fatal(err)
	}
	manifestDigest, configDigest := ctrServedConfig(t, s, "e2e/buildah", "v1")
	if string(pushed) != manifestDigest {
		t.Errorf("buildah pushed %s, berth serves %s", pushed, manifestDigest)
	}
	if builtID != configDigest {
		t.Errorf("committed image ID %s, berth serves config %s", builtID, configDigest)
	}

	st.mustBuildah(t, bin, "rmi", local)
	if out, _, err := st.buildah(t, bin, "images", "--all", "--quiet", "--no-trunc"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("images left after buildah rmi: %q (%v)", out, err)
	}

	pulledID := ctrFullID(t, ctrLastLine(st.mustBuildah(t, bin, "pull", "--tls-verify=false", remoteRef)))
	if pulledID != configDigest {
		t.Errorf("buildah pull printed ID %s, berth serves config %s", pulledID, configDigest)
	}

	// A working container of the pulled image (never run): its root
	// filesystem, a plain directory with vfs, holds the files.
	ctr = strings.TrimSpace(st.mustBuildah(t, bin, "from", "--pull-never", remoteRef))
	var info struct {
		FromImageID     string `json:"FromImageID"`
		FromImageDigest string `json:"FromImageDigest"`
	}
	out := st.mustBuildah(t, bin, "inspect", "--type", "container", ctr)
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("buildah inspect: %v\n%s", err, out)
	}
	if ctrFullID(t, info.FromImageID) != configDigest {
		t.Errorf("working container's image ID %s, berth serves config %s", info.FromImageID, configDigest)
	}
	if info.FromImageDigest != manifestDigest {
		t.Errorf("working container's image digest %s, berth serves %s", info.FromImageDigest, manifestDigest)
	}
	mnt := strings.TrimSpace(st.mustBuildah(t, bin, "mount", ctr))
	got := map[string][]byte{}
	for name := range files {
		b, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil {
			t.Errorf("pulled image: %v", err)
			continue
		}
		got[name] = b
	}
	st.mustBuildah(t, bin, "umount", ctr)
	ctrCheckFiles(t, "working container of the pulled image", files, got)
	st.mustBuildah(t, bin, "rm", ctr)
}

func ctrLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
