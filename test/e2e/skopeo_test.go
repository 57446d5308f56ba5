//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The containers/image family (skopeo, podman, buildah) and umoci. Every
// tool runs with a private configuration under t.TempDir(): trust policy,
// registries.conf, auth file, storage.conf, containers.conf and HOME (the
// policy in HOME is the one podman and buildah read), so no global
// configuration is read or written. One global file remains: podman and
// buildah, as root, update containers/image's blob location cache in
// /var/lib/containers/cache (a cache, never trusted for content).

const ctrTimeout = 3 * time.Minute

// ctrRefName is the annotation an OCI layout uses to name a tag.
const ctrRefName = "org.opencontainers.image.ref.name"

// ctrTools is one private containers configuration.
type ctrTools struct {
	dir      string // the configuration directory
	policy   string // policy.json accepting anything
	authFile string // auth.json (REGISTRY_AUTH_FILE)
	env      []string
}

func newCtrTools(t testing.TB) *ctrTools {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	cfgDir := filepath.Join(home, ".config", "containers")
	runDir := filepath.Join(dir, "xdg-run")
	for _, d := range []string{cfgDir, runDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c := &ctrTools{dir: dir, policy: filepath.Join(cfgDir, "policy.json"), authFile: filepath.Join(dir, "auth.json")}
	files := map[string]string{
		// The user policy is what containers/image reads when no
		// --policy/--signature-policy flag is given.
		c.policy:                                 `{"default":[{"type":"insecureAcceptAnything"}]}` + "\n",
		filepath.Join(cfgDir, "registries.conf"): "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n",
		c.authFile:                               `{"auths":{}}` + "\n",
		filepath.Join(dir, "containers.conf"):    "[engine]\nevents_logger = \"none\"\ncgroup_manager = \"cgroupfs\"\n",
		filepath.Join(dir, "storage.conf"):       "[storage]\ndriver = \"vfs\"\n",
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.env = []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_RUNTIME_DIR=" + runDir,
		"REGISTRY_AUTH_FILE=" + c.authFile,
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(cfgDir, "registries.conf"),
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
	}
	return c
}

// login puts the admin's credentials for hosts into the private auth file
// that skopeo, podman and buildah read (REGISTRY_AUTH_FILE).
func (c *ctrTools) login(t testing.TB, hosts ...string) {
	t.Helper()
	addRegistryAuth(t, c.authFile, hosts...)
}

// run runs one tool with the private configuration; stdout and stderr are
// returned separately (stdout often is JSON).
func (c *ctrTools) run(t testing.TB, bin string, args ...string) (string, string, error) {
	t.Helper()
	return c.runInput(t, "", bin, args...)
}

// runInput is run with stdin as the tool's standard input.
func (c *ctrTools) runInput(t testing.TB, stdin, bin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctrTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", ctrTimeout)
	}
	return stdout.String(), stderr.String(), err
}

// must runs a tool and fails the test unless it exits 0; it returns stdout.
func (c *ctrTools) must(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := c.run(t, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// skopeoTools is c for skopeo: as root, containers/image keeps its blob
// location cache in /var/lib/containers/cache, and skopeo has no flag to move
// it; telling it the (effective) user is not root moves it under
// XDG_DATA_HOME, private to the test.
func (c *ctrTools) skopeoTools() *ctrTools {
	s := *c
	s.env = append(append([]string(nil), c.env...),
		"_CONTAINERS_ROOTLESS_UID=4242",
		"XDG_DATA_HOME="+filepath.Join(c.dir, "xdg-data"))
	return &s
}

// skopeo runs skopeo with the private trust policy.
func (c *ctrTools) skopeo(t testing.TB, bin string, args ...string) (string, string, error) {
	t.Helper()
	return c.skopeoTools().run(t, bin, append([]string{"--policy", c.policy}, args...)...)
}

func (c *ctrTools) mustSkopeo(t testing.TB, bin string, args ...string) string {
	t.Helper()
	return c.skopeoTools().must(t, bin, append([]string{"--policy", c.policy}, args...)...)
}

// ctrOCILayer is a generated layer under the OCI media type.
type ctrOCILayer struct{ *memLayer }

func (ctrOCILayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// ctrOCIImage builds an OCI image of n random layers for linux/arch.
func ctrOCIImage(t testing.TB, rng *rand.Rand, arch string, n int) v1.Image {
	t.Helper()
	cfg := &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		Config:       v1.Config{Cmd: []string{"/bin/true"}, Env: []string{"PATH=/bin"}},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		img, err = mutate.AppendLayers(img, ctrOCILayer{randomLayer(t, rng, 8<<10+rng.IntN(96<<10))})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// ctrPlainDesc describes an image in an index without the artifactType
// go-containerregistry adds by default (the config's media type): the
// containers/image version of skopeo 1.9 does not know that field, drops it
// when it re-encodes the index, and so refuses to copy it with
// --preserve-digests.
type ctrPlainDesc struct{ v1.Image }

func (p ctrPlainDesc) Descriptor() (*v1.Descriptor, error) {
	d, err := p.Digest()
	if err != nil {
		return nil, err
	}
	size, err := p.Size()
	if err != nil {
		return nil, err
	}
	mt, err := p.MediaType()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{MediaType: mt, Size: size, Digest: d}, nil
}

// ctrOCIIndex builds an OCI index of one image per architecture.
func ctrOCIIndex(t testing.TB, rng *rand.Rand, archs ...string) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range archs {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: ctrPlainDesc{ctrOCIImage(t, rng, arch, 2)},
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: "linux", Architecture: arch},
			},
		})
	}
	return idx
}

// ctrLayoutBlobs reads every blob of an OCI layout, keyed by digest.
func ctrLayoutBlobs(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	blobs := map[string][]byte{}
	root := filepath.Join(dir, "blobs", "sha256")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("OCI layout %s: %v", dir, err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		blobs["sha256:"+e.Name()] = b
	}
	return blobs
}

// ctrLayoutTag returns the descriptor index.json of an OCI layout names tag.
func ctrLayoutTag(t testing.TB, dir, tag string) v1.Descriptor {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("OCI layout %s: %v", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("OCI layout %s: index.json: %v", dir, err)
	}
	for _, d := range im.Manifests {
		if d.Annotations[ctrRefName] == tag {
			return d
		}
	}
	t.Fatalf("OCI layout %s has no manifest tagged %q: %+v", dir, tag, im.Manifests)
	return v1.Descriptor{}
}

// ctrCompareBlobs fails unless both layouts hold exactly the same blobs with
// the same bytes.
func ctrCompareBlobs(t testing.TB, want, got map[string][]byte) {
	t.Helper()
	for d, b := range want {
		g, ok := got[d]
		switch {
		case !ok:
			t.Errorf("blob %s missing after the round trip", d)
		case !bytes.Equal(g, b):
			t.Errorf("blob %s: %d bytes after the round trip differ from the %d sent", d, len(g), len(b))
		}
	}
	for d := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("blob %s appeared in the round trip; it was not sent", d)
		}
	}
}

// ctrManifest GETs a manifest from the registry and returns its bytes and
// Docker-Content-Digest, failing unless the status is 200.
func ctrManifest(t testing.TB, s *server, repo, ref string) ([]byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, hdr, body, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, manifestAccept)
	if err != nil {
		t.Fatalf("GET manifest %s:%s: %v", repo, ref, err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: status %d: %s", repo, ref, status, body)
	}
	return body, hdr.Get("Docker-Content-Digest")
}

// ctrManifestStatus returns the status of GET manifest.
func ctrManifestStatus(t testing.TB, s *server, repo, ref string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, _, _, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, manifestAccept)
	if err != nil {
		t.Fatalf("GET manifest %s:%s: %v", repo, ref, err)
	}
	return status
}

// ctrTags returns the registry's tag list of repo, sorted.
func ctrTags(t testing.TB, s *server, repo string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, _, body, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/tags/list", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET tags of %s: status %d, %v: %s", repo, status, err, body)
	}
	var tl struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatalf("tags of %s: %v: %s", repo, err, body)
	}
	sort.Strings(tl.Tags)
	return tl.Tags
}

// ctrPush pushes img under every tag with go-containerregistry and returns
// its digest.
func ctrPush(t testing.TB, s *server, repo string, img v1.Image, tags ...string) v1.Hash {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tag := range tags {
		if err := pushImage(ctx, tagRef(t, s.host(), repo, tag), img); err != nil {
			t.Fatalf("push %s:%s: %v", repo, tag, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ctrWriteLayout writes images and indexes into a new OCI layout, each under a tag.
func ctrWriteLayout(t testing.TB, dir string, images map[string]v1.Image, indexes map[string]v1.ImageIndex) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for tag, img := range images {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{ctrRefName: tag})); err != nil {
			t.Fatalf("layout: %v", err)
		}
	}
	for tag, idx := range indexes {
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{ctrRefName: tag})); err != nil {
			t.Fatalf("layout: %v", err)
		}
	}
}

// TestSkopeoCopyOCILayout copies an OCI layout holding a 3-layer image and a
// two-platform index to berth and back into a second layout, with
// --preserve-digests, and compares digests and every blob byte for byte.
func TestSkopeoCopyOCILayout(t *testing.T) {
	scenario(t, "skopeo", "copy of an OCI layout (3-layer image, amd64+arm64 index) to berth and back with --preserve-digests: digests and blobs identical")
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	c.login(t, s.host())

	src := filepath.Join(t.TempDir(), "src")
	img := ctrOCIImage(t, rng, runtime.GOARCH, 3)
	idx := ctrOCIIndex(t, rng, "amd64", "arm64")
	ctrWriteLayout(t, src, map[string]v1.Image{"v1": img}, map[string]v1.ImageIndex{"multi": idx})
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"v1": imgDigest.String(), "multi": idxDigest.String()}

	dst := filepath.Join(t.TempDir(), "dst")
	for _, tag := range []string{"v1", "multi"} {
		remoteRef := "docker://" + s.host() + "/skopeo/layout:" + tag
		c.mustSkopeo(t, bin, "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
			"oci:"+src+":"+tag, remoteRef)
		if _, got := ctrManifest(t, s, "skopeo/layout", tag); got != want[tag] {
			t.Fatalf("berth serves skopeo/layout:%s as %q, the layout holds %s", tag, got, want[tag])
		}
		c.mustSkopeo(t, bin, "copy", "--all", "--preserve-digests", "--src-tls-verify=false",
			remoteRef, "oci:"+dst+":"+tag)
		if got := ctrLayoutTag(t, dst, tag).Digest.String(); got != want[tag] {
			t.Errorf("round-tripped layout names %s as %s, want %s", tag, got, want[tag])
		}
	}
	// Both children of the index came back too: the blob sets are equal.
	ctrCompareBlobs(t, ctrLayoutBlobs(t, src), ctrLayoutBlobs(t, dst))
	if got := ctrTags(t, s, "skopeo/layout"); strings.Join(got, ",") != "multi,v1" {
		t.Errorf("berth tags %v, want [multi v1]", got)
	}
}

// skopeoInspectOut is the part of `skopeo inspect` output the test checks.
type skopeoInspectOut struct {
	Name         string   `json:"Name"`
	Digest       string   `json:"Digest"`
	RepoTags     []string `json:"RepoTags"`
	Architecture string   `json:"Architecture"`
	Os           string   `json:"Os"`
	Layers       []string `json:"Layers"`
}

// TestSkopeoInspect checks `skopeo inspect`, `--raw` and `--config` against
// what was pushed.
func TestSkopeoInspect(t *testing.T) {
	scenario(t, "skopeo", "inspect, inspect --raw, inspect --config: digest, tags, layers, manifest and config bytes as pushed")
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	c.login(t, s.host())

	img := ctrOCIImage(t, rng, runtime.GOARCH, 4)
	d := ctrPush(t, s, "skopeo/inspect", img, "v1", "stable")
	ref := "docker://" + s.host() + "/skopeo/inspect:v1"

	var got skopeoInspectOut
	out := c.mustSkopeo(t, bin, "inspect", "--tls-verify=false", ref)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("skopeo inspect output: %v\n%s", err, out)
	}
	if got.Digest != d.String() {
		t.Errorf("skopeo inspect Digest %s, want %s", got.Digest, d)
	}
	if got.Name != s.host()+"/skopeo/inspect" {
		t.Errorf("skopeo inspect Name %q, want %q", got.Name, s.host()+"/skopeo/inspect")
	}
	sort.Strings(got.RepoTags)
	if strings.Join(got.RepoTags, ",") != "stable,v1" {
		t.Errorf("skopeo inspect RepoTags %v, want [stable v1]", got.RepoTags)
	}
	if got.Architecture != runtime.GOARCH || got.Os != "linux" {
		t.Errorf("skopeo inspect platform %s/%s, want linux/%s", got.Os, got.Architecture, runtime.GOARCH)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var wantLayers []string
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		wantLayers = append(wantLayers, ld.String())
	}
	if strings.Join(got.Layers, ",") != strings.Join(wantLayers, ",") {
		t.Errorf("skopeo inspect Layers %v, want %v", got.Layers, wantLayers)
	}

	raw := c.mustSkopeo(t, bin, "inspect", "--raw", "--tls-verify=false", ref)
	wantRaw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if raw != string(wantRaw) {
		t.Errorf("skopeo inspect --raw differs from the pushed manifest:\n%s\nwant\n%s", raw, wantRaw)
	}
	cfg := c.mustSkopeo(t, bin, "inspect", "--config", "--raw", "--tls-verify=false", ref)
	wantCfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg != string(wantCfg) {
		t.Errorf("skopeo inspect --config --raw differs from the pushed config:\n%s\nwant\n%s", cfg, wantCfg)
	}

	_, errOut, err := c.skopeo(t, bin, "inspect", "--tls-verify=false", "docker://"+s.host()+"/skopeo/inspect:missing")
	if err == nil {
		t.Errorf("skopeo inspect of an unknown tag exited 0")
	} else if !strings.Contains(errOut, "manifest unknown") {
		t.Errorf("skopeo inspect of an unknown tag: %v: %s; want a manifest unknown error", err, errOut)
	}
}

// TestSkopeoListTags checks `skopeo list-tags` gives exactly the tags pushed.
func TestSkopeoListTags(t *testing.T) {
	scenario(t, "skopeo", "list-tags: exact tag set, an unknown repository fails")
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	c.login(t, s.host())

	a := ctrOCIImage(t, rng, runtime.GOARCH, 1)
	b := ctrOCIImage(t, rng, runtime.GOARCH, 1)
	ctrPush(t, s, "skopeo/tags", a, "v1", "v1.0", "latest")
	ctrPush(t, s, "skopeo/tags", b, "v2", "Edge_2-rc.1")
	ctrPush(t, s, "skopeo/other", b, "not-mine")
	want := []string{"Edge_2-rc.1", "latest", "v1", "v1.0", "v2"}

	out := c.mustSkopeo(t, bin, "list-tags", "--tls-verify=false", "docker://"+s.host()+"/skopeo/tags")
	var got struct {
		Repository string   `json:"Repository"`
		Tags       []string `json:"Tags"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("skopeo list-tags output: %v\n%s", err, out)
	}
	sort.Strings(got.Tags)
	if strings.Join(got.Tags, ",") != strings.Join(want, ",") {
		t.Errorf("skopeo list-tags: %v, want %v", got.Tags, want)
	}
	if got.Repository != s.host()+"/skopeo/tags" {
		t.Errorf("skopeo list-tags Repository %q", got.Repository)
	}

	_, errOut, err := c.skopeo(t, bin, "list-tags", "--tls-verify=false", "docker://"+s.host()+"/skopeo/none")
	if err == nil {
		t.Errorf("skopeo list-tags of an unknown repository exited 0")
	} else if !strings.Contains(errOut, "404") {
		// skopeo 1.9 reports the status of a failed tag list, not the error code.
		t.Errorf("skopeo list-tags of an unknown repository: %v: %s; want a 404", err, errOut)
	}
}

// TestSkopeoDelete deletes a tagged image with skopeo and checks that it is
// gone by tag and by digest while another image of the repository stays.
func TestSkopeoDelete(t *testing.T) {
	scenario(t, "skopeo", "delete by tag and by digest: the manifest then answers 404, the other image stays")
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	c.login(t, s.host())

	gone := ctrPush(t, s, "skopeo/del", ctrOCIImage(t, rng, runtime.GOARCH, 2), "gone")
	keep := ctrPush(t, s, "skopeo/del", ctrOCIImage(t, rng, runtime.GOARCH, 2), "keep")

	c.mustSkopeo(t, bin, "delete", "--tls-verify=false", "docker://"+s.host()+"/skopeo/del:gone")
	for _, ref := range []string{"gone", gone.String()} {
		if st := ctrManifestStatus(t, s, "skopeo/del", ref); st != http.StatusNotFound {
			t.Errorf("GET manifest skopeo/del:%s after skopeo delete: status %d, want 404", ref, st)
		}
	}
	if _, got := ctrManifest(t, s, "skopeo/del", "keep"); got != keep.String() {
		t.Errorf("skopeo/del:keep is %q after the delete, want %s", got, keep)
	}
	if got := ctrTags(t, s, "skopeo/del"); strings.Join(got, ",") != "keep" {
		t.Errorf("tags after the delete: %v, want [keep]", got)
	}

	// By digest, and a second time: the second must fail.
	ref := "docker://" + s.host() + "/skopeo/del@" + keep.String()
	c.mustSkopeo(t, bin, "delete", "--tls-verify=false", ref)
	if st := ctrManifestStatus(t, s, "skopeo/del", keep.String()); st != http.StatusNotFound {
		t.Errorf("GET manifest by digest after skopeo delete by digest: status %d, want 404", st)
	}
	if _, errOut, err := c.skopeo(t, bin, "delete", "--tls-verify=false", ref); err == nil {
		t.Errorf("second skopeo delete of %s exited 0: %s", ref, errOut)
	}
}

// TestSkopeoSync syncs a repository with several tags between two berth
// repositories and checks every tag at the destination.
func TestSkopeoSync(t *testing.T) {
	scenario(t, "skopeo", "sync of a repository with 5 tags (one an index) into another repository: same tags and digests")
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	c.login(t, s.host())

	want := map[string]string{}
	for i, tags := range [][]string{{"v1", "latest"}, {"v2"}, {"v3-rc"}} {
		d := ctrPush(t, s, "team/app", ctrOCIImage(t, rng, runtime.GOARCH, 1+i), tags...)
		for _, tag := range tags {
			want[tag] = d.String()
		}
	}
	idx := ctrOCIIndex(t, rng, "amd64", "arm64")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ctrPushIndex(ctx, tagRef(t, s.host(), "team/app", "multi"), idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	want["multi"] = idxDigest.String()

	c.mustSkopeo(t, bin, "sync", "--all", "--preserve-digests", "--src", "docker", "--dest", "docker",
		"--src-tls-verify=false", "--dest-tls-verify=false",
		s.host()+"/team/app", s.host()+"/mirror")

	// skopeo sync puts the repository's last path element under the destination.
	var wantTags []string
	for tag := range want {
		wantTags = append(wantTags, tag)
	}
	sort.Strings(wantTags)
	if got := ctrTags(t, s, "mirror/app"); strings.Join(got, ",") != strings.Join(wantTags, ",") {
		t.Errorf("mirror/app tags %v, want %v", got, wantTags)
	}
	for tag, d := range want {
		if _, got := ctrManifest(t, s, "mirror/app", tag); got != d {
			t.Errorf("mirror/app:%s is %s, team/app:%s is %s", tag, got, tag, d)
		}
	}
	// Every platform image of the index came along.
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if _, got := ctrManifest(t, s, "mirror/app", m.Digest.String()); got != m.Digest.String() {
			t.Errorf("mirror/app@%s: served as %s", m.Digest, got)
		}
	}
}

// ctrUntar returns the regular files of a tar stream by name.
func ctrUntar(t testing.TB, r io.Reader) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("reading layer tar: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")] = b
	}
}

// ctrImageFiles returns the regular files of all layers of img (later layers win).
func ctrImageFiles(t testing.TB, img v1.Image) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		for n, b := range ctrUntar(t, rc) {
			files[n] = b
		}
		rc.Close()
	}
	return files
}

// TestUmociLayoutRoundTrip builds an OCI layout with umoci (init, new,
// insert ×3), copies it to berth and back with skopeo, and unpacks the copy
// with umoci, comparing every file.
func TestUmociLayoutRoundTrip(t *testing.T) {
	scenario(t, "umoci", "init, new, insert (3 layers), skopeo round trip through berth, unpack: same files and digest")
	umoci := requireTool(t, "umoci")
	skopeo := requireTool(t, "skopeo")
	c := newCtrTools(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	c.login(t, s.host())

	work := t.TempDir()
	src := filepath.Join(work, "src")
	c.must(t, umoci, "init", "--layout", src)
	c.must(t, umoci, "new", "--image", src+":v1")
	want := map[string][]byte{
		"etc/hello.txt":       []byte(fmt.Sprintf("hello from umoci %x\n", rng.Uint64())),
		"opt/data/random.bin": randBytes(rng, 200<<10),
		"opt/data/small.txt":  []byte("small\n"),
	}
	in := filepath.Join(work, "in")
	inserts := [][2]string{ // source under in/, target in the image
		{"hello.txt", "/etc/hello.txt"},
		{"data", "/opt/data"},
	}
	for name, body := range map[string][]byte{
		"hello.txt":       want["etc/hello.txt"],
		"data/random.bin": want["opt/data/random.bin"],
		"data/small.txt":  want["opt/data/small.txt"],
	} {
		p := filepath.Join(in, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, ins := range inserts {
		c.must(t, umoci, "insert", "--image", src+":v1", filepath.Join(in, ins[0]), ins[1])
	}
	// A third layer that replaces a file: the unpacked copy must show the new one.
	want["etc/hello.txt"] = []byte("replaced\n")
	if err := os.WriteFile(filepath.Join(in, "hello.txt"), want["etc/hello.txt"], 0o644); err != nil {
		t.Fatal(err)
	}
	c.must(t, umoci, "insert", "--image", src+":v1", filepath.Join(in, "hello.txt"), "/etc/hello.txt")

	desc := ctrLayoutTag(t, src, "v1")
	srcImg, err := layout.Path(src).Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if layers, err := srcImg.Layers(); err != nil || len(layers) != 3 {
		t.Fatalf("umoci built %d layers (%v), want 3", len(layers), err)
	}

	ref := "docker://" + s.host() + "/umoci/img:v1"
	c.mustSkopeo(t, skopeo, "copy", "--preserve-digests", "--dest-tls-verify=false", "oci:"+src+":v1", ref)
	if _, got := ctrManifest(t, s, "umoci/img", "v1"); got != desc.Digest.String() {
		t.Fatalf("berth serves umoci/img:v1 as %q, umoci built %s", got, desc.Digest)
	}
	dst := filepath.Join(work, "dst")
	c.mustSkopeo(t, skopeo, "copy", "--preserve-digests", "--src-tls-verify=false", ref, "oci:"+dst+":v1")
	if got := ctrLayoutTag(t, dst, "v1").Digest; got != desc.Digest {
		t.Errorf("round-tripped layout names v1 %s, umoci built %s", got, desc.Digest)
	}

	// umoci checks each blob's digest while it unpacks.
	bundle := filepath.Join(work, "bundle")
	c.must(t, umoci, "unpack", "--image", dst+":v1", bundle)
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(bundle, "rootfs", name))
		if err != nil {
			t.Errorf("unpacked rootfs: %v", err)
			continue
		}
		if !bytes.Equal(got, body) {
			t.Errorf("unpacked %s: %d bytes differ from the %d inserted", name, len(got), len(body))
		}
	}
	// umoci stat reads the history back: one entry per insert.
	out := c.must(t, umoci, "stat", "--json", "--image", dst+":v1")
	var st struct {
		History []struct {
			CreatedBy  string `json:"created_by"`
			EmptyLayer bool   `json:"empty_layer"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("umoci stat --json: %v\n%s", err, out)
	}
	inserted := 0
	for _, h := range st.History {
		if !h.EmptyLayer && strings.Contains(h.CreatedBy, "umoci insert") {
			inserted++
		}
	}
	if inserted != 3 {
		t.Errorf("umoci stat shows %d insert layers in the history, want 3:\n%s", inserted, out)
	}
}

// ctrPushIndex writes an index and its images with go-containerregistry.
func ctrPushIndex(ctx context.Context, ref name.Reference, idx v1.ImageIndex) error {
	return remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithTransport(e2eTransport), registryAuth())
}
