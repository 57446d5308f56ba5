//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// regctlCLI runs regctl with a private configuration: its own HOME (no
// Docker credentials of the machine) and REGCTL_CONFIG in a temp dir.
type regctlCLI struct {
	bin string
	env []string
}

func newRegctl(t testing.TB) regctlCLI {
	t.Helper()
	home := t.TempDir()
	return regctlCLI{
		bin: requireTool(t, "regctl"),
		env: []string{
			"HOME=" + home,
			"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
			"REGCTL_CONFIG=" + filepath.Join(home, "regctl.json"),
		},
	}
}

func (c regctlCLI) run(t testing.TB, args ...string) cmdResult {
	t.Helper()
	return runClientCmd(t, clientCmdTimeout, c.env, "", nil, c.bin, args...)
}

// login stores the admin's credentials for host in regctl's private
// configuration (`regctl registry login`). It does nothing when the target
// asks for no credentials.
func (c regctlCLI) login(t testing.TB, host string) {
	t.Helper()
	if !authOn() {
		return
	}
	c.must(t, "registry", "login", host, "--user", adminUser, "--pass", adminPassword)
}

// must runs regctl and fails the test unless it exits 0; it returns stdout
// without the trailing newline.
func (c regctlCLI) must(t testing.TB, args ...string) string {
	t.Helper()
	r := c.run(t, args...)
	if r.Err != nil {
		t.Fatalf("regctl %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimRight(r.Stdout, "\n")
}

// ociLayout writes images into an OCI image layout, each named by its tag
// (org.opencontainers.image.ref.name), and returns the directory.
func ociLayout(t testing.TB, tags map[string]v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for tag, img := range tags {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": tag,
		})); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRegctl pushes with small chunks through a recording proxy and checks
// that the layers went up in several PATCH requests, then copies, lists and
// deletes tags with regctl.
func TestRegctl(t *testing.T) {
	scenario(t, "regctl", "chunked upload (64 KiB chunks, several PATCH requests), image copy, tag ls, tag delete")
	regctl := newRegctl(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	p := startRecordingProxy(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const chunk = 64 << 10
	// The set command's connectivity check would go without credentials;
	// registry login checks with them.
	regctl.must(t, "registry", "set", "--tls", "disabled", "--skip-check",
		"--blob-chunk", "65536", "--blob-max", "65536", p.host())
	regctl.login(t, p.host())

	img := randomImage(t, rng, 2, 300<<10, 700<<10)
	other := randomImage(t, rng, 1, 8<<10, 16<<10)
	want, otherDigest := mustDigest(t, img), mustDigest(t, other)
	dir := ociLayout(t, map[string]v1.Image{"v1": img, "v3": other})
	app := p.host() + "/regctl/app"

	// Chunked push of v1.
	p.reset()
	regctl.must(t, "image", "copy", "ocidir://"+dir+":v1", app+":v1")
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wantPatches := 0
	var layerBytes int64
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		wantPatches += int((size + chunk - 1) / chunk)
		layerBytes += size
	}
	patches := 0
	var patchBytes int64
	for _, r := range p.requests() {
		if r.Method != http.MethodPatch {
			continue
		}
		if !strings.HasPrefix(r.Path, "/v2/regctl/app/blobs/uploads/") {
			t.Errorf("PATCH to %s", r.Path)
		}
		if r.Status != http.StatusAccepted {
			t.Errorf("PATCH %s answered %d, want 202", r.Path, r.Status)
		}
		if r.BodyBytes > chunk {
			t.Errorf("PATCH of %d bytes, want at most %d", r.BodyBytes, chunk)
		}
		patches++
		patchBytes += r.BodyBytes
	}
	t.Logf("regctl pushed %d layer bytes in %d PATCH requests", layerBytes, patches)
	if patches < 2*len(layers) || patches != wantPatches {
		t.Errorf("regctl sent %d PATCH requests, want %d (layers of %d bytes in %d-byte chunks)", patches, wantPatches, layerBytes, chunk)
	}
	if patchBytes != layerBytes {
		t.Errorf("PATCH bodies carried %d bytes, layers are %d", patchBytes, layerBytes)
	}
	if got := regctl.must(t, "image", "digest", app+":v1"); got != want.String() {
		t.Fatalf("regctl image digest of v1: %s, want %s", got, want)
	}
	if err := verifyImage(ctx, s.host(), describeImage(t, "regctl/app", "v1", img)); err != nil {
		t.Fatal(err)
	}

	// image copy into another repository and to more tags.
	regctl.must(t, "image", "copy", app+":v1", p.host()+"/regctl/copy:v1")
	if got := regctl.must(t, "image", "digest", p.host()+"/regctl/copy:v1"); got != want.String() {
		t.Fatalf("regctl/copy:v1 is %s, want %s", got, want)
	}
	if err := verifyImage(ctx, s.host(), describeImage(t, "regctl/copy", "v1", img)); err != nil {
		t.Fatal(err)
	}
	regctl.must(t, "image", "copy", app+":v1", app+":v2")
	regctl.must(t, "image", "copy", "ocidir://"+dir+":v3", app+":v3")
	if got := regctl.must(t, "image", "digest", app+":v3"); got != otherDigest.String() {
		t.Fatalf("regctl/app:v3 is %s, want %s", got, otherDigest)
	}

	// tag ls: exactly the three tags.
	if got := lines(regctl.must(t, "tag", "ls", app)); !slices.Equal(got, []string{"v1", "v2", "v3"}) {
		t.Fatalf("regctl tag ls: %q, want [v1 v2 v3]", got)
	}

	// tag delete of v2 (same manifest as v1): the tag goes, the manifest
	// and the other tags stay.
	p.reset()
	regctl.must(t, "tag", "delete", app+":v2")
	// berth implements the OCI tag delete (DELETE of the manifest by tag),
	// so regctl must not fall back to pushing and deleting a dummy manifest.
	// A 401 is the Bearer challenge regctl answers by asking berth's token
	// service for the delete scope, then sending the request again.
	var writes []string
	for _, r := range p.requests() {
		if r.Status == http.StatusUnauthorized && authOn() {
			continue
		}
		if r.Method == http.MethodDelete || r.Method == http.MethodPut {
			writes = append(writes, fmt.Sprintf("%s %s: %d", r.Method, r.Path, r.Status))
		}
	}
	t.Logf("regctl tag delete sent %q", writes)
	if want := []string{"DELETE /v2/regctl/app/manifests/v2: 202"}; targetKind(t) == targetBerth && !slices.Equal(writes, want) {
		t.Errorf("regctl tag delete sent %q, want %q (the OCI tag delete, no dummy manifest)", writes, want)
	}
	if got := lines(regctl.must(t, "tag", "ls", app)); !slices.Equal(got, []string{"v1", "v3"}) {
		t.Fatalf("regctl tag ls after deleting v2: %q, want [v1 v3]", got)
	}
	status, _, err := headStatus(ctx, s, "/v2/regctl/app/manifests/v2", manifestAccept)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusNotFound {
		t.Errorf("HEAD manifest v2 after regctl tag delete: status %d, want 404", status)
	}
	if r := regctl.run(t, "image", "digest", app+":v2"); r.Err == nil {
		t.Errorf("regctl image digest of the deleted tag succeeded: %s", r)
	}
	if got := registryDigest(t, s, "regctl/app", "v1"); got != want.String() {
		t.Errorf("after deleting v2, v1 is %s, want %s", got, want)
	}
	if got := registryDigest(t, s, "regctl/app", "v3"); got != otherDigest.String() {
		t.Errorf("after deleting v2, v3 is %s, want %s", got, otherDigest)
	}
	if err := verifyImage(ctx, s.host(), describeImage(t, "regctl/app", "v1", img)); err != nil {
		t.Error(err)
	}
}
