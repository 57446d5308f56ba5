//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// clientCmdTimeout bounds one run of a client CLI in the quick scenarios.
const clientCmdTimeout = 3 * time.Minute

// cmdResult is what one client run printed and how it ended.
type cmdResult struct {
	Stdout, Stderr string
	Err            error
}

func (r cmdResult) String() string {
	return fmt.Sprintf("exit: %v\nstdout:\n%s\nstderr:\n%s", r.Err, r.Stdout, r.Stderr)
}

// runClientCmd runs bin with args, env added to the environment and dir as
// the working directory (the current one if empty), bounded by timeout.
// When stdout is non-nil the command's standard output goes there instead
// of into the result (for outputs too large to hold in memory).
func runClientCmd(t testing.TB, timeout time.Duration, env []string, dir string, stdout io.Writer, bin string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %s", filepath.Base(bin), strings.Join(args, " "), timeout)
	}
	return cmdResult{Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// craneCLI runs the crane binary against a plain-http registry, with a
// private, empty Docker config (no credentials of the machine are used).
type craneCLI struct {
	bin string
	env []string
}

func newCrane(t testing.TB) craneCLI {
	t.Helper()
	return craneCLI{
		bin: requireTool(t, "crane"),
		env: []string{"DOCKER_CONFIG=" + t.TempDir()},
	}
}

// run runs `crane --insecure args...`.
func (c craneCLI) run(t testing.TB, args ...string) cmdResult {
	t.Helper()
	return runClientCmd(t, clientCmdTimeout, c.env, "", nil, c.bin, append([]string{"--insecure"}, args...)...)
}

// login stores the admin's credentials for hosts in crane's private Docker
// config (`crane auth login`, which does not contact the registry). It does
// nothing when the target asks for no credentials.
func (c craneCLI) login(t testing.TB, hosts ...string) {
	t.Helper()
	if !authOn() {
		return
	}
	for _, h := range hosts {
		r := runClientCmd(t, clientCmdTimeout, c.env, "", nil, c.bin, "auth", "login", h, "--username", adminUser, "--password", adminPassword)
		if r.Err != nil {
			t.Fatalf("crane auth login %s: %s", h, r)
		}
	}
}

// must runs crane and fails the test unless it exits 0; it returns stdout
// without the trailing newline.
func (c craneCLI) must(t testing.TB, args ...string) string {
	t.Helper()
	r := c.run(t, args...)
	if r.Err != nil {
		t.Fatalf("crane %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimRight(r.Stdout, "\n")
}

// lines splits command output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// writeImageTarball writes img as a docker-style tarball (go-containerregistry
// tarball.Write) and returns its path.
func writeImageTarball(t testing.TB, img v1.Image, tag string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, tagRef(t, "berth.test", "e2e/tarball", tag), img); err != nil {
		t.Fatalf("tarball.Write: %v", err)
	}
	return path
}

func mustDigest(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestCraneCommands drives crane through push, pull, ls, catalog, digest,
// copy, tag, mutate and delete of one image.
func TestCraneCommands(t *testing.T) {
	scenario(t, "crane", "push of a tarball, pull to a tarball, ls, catalog, digest, copy, tag, mutate --label, delete")
	crane := newCrane(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	crane.login(t, s.host())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	img := randomImage(t, rng, 3, 16<<10, 128<<10)
	want := mustDigest(t, img)
	tarPath := writeImageTarball(t, img, "v1")
	app := s.host() + "/crane/app"

	// push: crane prints the pushed reference by digest.
	out := crane.must(t, "push", tarPath, app+":v1")
	if wantOut := app + "@" + want.String(); out != wantOut {
		t.Fatalf("crane push printed %q, want %q", out, wantOut)
	}
	if got := registryDigest(t, s, "crane/app", "v1"); got != want.String() {
		t.Fatalf("registry has crane/app:v1 at %s, pushed %s", got, want)
	}

	// digest
	if got := crane.must(t, "digest", app+":v1"); got != want.String() {
		t.Fatalf("crane digest: %s, want %s", got, want)
	}

	// pull to a tarball: same image, every blob intact.
	pulled := filepath.Join(t.TempDir(), "pulled.tar")
	crane.must(t, "pull", app+":v1", pulled)
	pimg, err := tarball.ImageFromPath(pulled, nil)
	if err != nil {
		t.Fatalf("reading pulled tarball: %v", err)
	}
	if got := mustDigest(t, pimg); got != want {
		t.Fatalf("pulled tarball holds image %s, want %s", got, want)
	}
	if err := validate.Image(pimg); err != nil {
		t.Fatalf("pulled tarball: validate: %v", err)
	}
	if got := crane.must(t, "digest", "--tarball", pulled); got != want.String() {
		t.Fatalf("crane digest --tarball of the pulled image: %s, want %s", got, want)
	}

	// tag: the new tag resolves to the same manifest.
	crane.must(t, "tag", app+":v1", "v2")
	if got := crane.must(t, "digest", app+":v2"); got != want.String() {
		t.Fatalf("after crane tag, v2 is %s, want %s", got, want)
	}

	// ls: exactly the two tags.
	if got := lines(crane.must(t, "ls", app)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Fatalf("crane ls: %q, want [v1 v2]", got)
	}

	// copy into another repository.
	cp := s.host() + "/crane/copy"
	crane.must(t, "copy", app+":v1", cp+":c1")
	if got := crane.must(t, "digest", cp+":c1"); got != want.String() {
		t.Fatalf("copy has digest %s, want %s", got, want)
	}
	if err := verifyImage(ctx, s.host(), describeImage(t, "crane/copy", "c1", img)); err != nil {
		t.Fatal(err)
	}

	// catalog: exactly the two repositories of this fresh registry.
	if got := lines(crane.must(t, "catalog", s.host())); !slices.Equal(got, []string{"crane/app", "crane/copy"}) {
		t.Fatalf("crane catalog: %q, want [crane/app crane/copy]", got)
	}

	// mutate: a label makes a new image whose config carries it.
	out = crane.must(t, "mutate", "--label", "org.berth.e2e=crane", "-t", app+":labelled", app+":v1")
	mutated, ok := strings.CutPrefix(out, app+"@")
	if !ok {
		t.Fatalf("crane mutate printed %q, want %s@sha256:…", out, app)
	}
	if mutated == want.String() {
		t.Fatalf("crane mutate --label kept the digest %s", want)
	}
	if got := crane.must(t, "digest", app+":labelled"); got != mutated {
		t.Fatalf("labelled is %s, crane mutate printed %s", got, mutated)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal([]byte(crane.must(t, "config", app+":labelled")), &cfg); err != nil {
		t.Fatalf("crane config: %v", err)
	}
	if got := cfg.Config.Labels["org.berth.e2e"]; got != "crane" {
		t.Fatalf("mutated config labels %v, want org.berth.e2e=crane", cfg.Config.Labels)
	}
	if got := crane.must(t, "digest", app+":v1"); got != want.String() {
		t.Fatalf("after mutate, v1 moved to %s", got)
	}

	// delete the mutated manifest: gone by digest and by tag, the rest stays.
	crane.must(t, "delete", app+"@"+mutated)
	for _, ref := range []string{mutated, "labelled"} {
		status, _, err := headStatus(ctx, s, "/v2/crane/app/manifests/"+ref, manifestAccept)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusNotFound {
			t.Errorf("HEAD manifest %s after crane delete: status %d, want 404", ref, status)
		}
	}
	if r := crane.run(t, "digest", app+"@"+mutated); r.Err == nil {
		t.Errorf("crane digest of the deleted manifest succeeded: %s", r)
	}
	if got := lines(crane.must(t, "ls", app)); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("crane ls after delete: %q, want [v1 v2]", got)
	}
	if err := verifyImage(ctx, s.host(), describeImage(t, "crane/app", "v1", img)); err != nil {
		t.Error(err)
	}
}

// platformImage is a random image whose config names linux/arch.
func platformImage(t testing.TB, img v1.Image, arch string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCraneMultiPlatform pushes a linux/amd64 + linux/arm64 index from an
// OCI layout and pulls each platform by --platform.
func TestCraneMultiPlatform(t *testing.T) {
	scenario(t, "crane", "push of a linux/amd64 + linux/arm64 index, digest and pull by --platform")
	crane := newCrane(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	crane.login(t, s.host())

	archs := []string{"amd64", "arm64"}
	imgs := map[string]v1.Image{}
	var adds []mutate.IndexAddendum
	for _, arch := range archs {
		img := platformImage(t, randomImage(t, rng, 2, 8<<10, 64<<10), arch)
		imgs[arch] = img
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList), adds...)
	idxDigest := mustDigest(t, idx)
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}

	ref := s.host() + "/crane/multi:latest"
	if out := crane.must(t, "push", dir, ref); !strings.HasSuffix(out, "@"+idxDigest.String()) {
		t.Fatalf("crane push of the index printed %q, want …@%s", out, idxDigest)
	}
	if got := crane.must(t, "digest", ref); got != idxDigest.String() {
		t.Fatalf("crane digest of the index: %s, want %s", got, idxDigest)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal([]byte(crane.must(t, "manifest", ref)), &im); err != nil {
		t.Fatalf("crane manifest: %v", err)
	}
	if len(im.Manifests) != len(archs) || im.MediaType != types.DockerManifestList {
		t.Fatalf("index as served: %s with %d manifests, want %s with %d", im.MediaType, len(im.Manifests), types.DockerManifestList, len(archs))
	}

	for _, arch := range archs {
		t.Run(arch, func(t *testing.T) {
			want := mustDigest(t, imgs[arch])
			plat := "linux/" + arch
			if got := crane.must(t, "digest", "--platform", plat, ref); got != want.String() {
				t.Fatalf("crane digest --platform %s: %s, want %s", plat, got, want)
			}
			out := filepath.Join(t.TempDir(), arch+".tar")
			crane.must(t, "pull", "--platform", plat, ref, out)
			pimg, err := tarball.ImageFromPath(out, nil)
			if err != nil {
				t.Fatalf("reading pulled tarball: %v", err)
			}
			if got := mustDigest(t, pimg); got != want {
				t.Fatalf("crane pull --platform %s gave image %s, want %s", plat, got, want)
			}
			cf, err := pimg.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Architecture != arch {
				t.Fatalf("pulled config architecture %q, want %q", cf.Architecture, arch)
			}
			if err := validate.Image(pimg); err != nil {
				t.Fatalf("validate: %v", err)
			}
		})
	}
}

// proxyRequest is one request that went through a recordingProxy.
type proxyRequest struct {
	Method string
	Path   string
	Query  url.Values
	Status int
	// BodyBytes is how many request body bytes the client sent.
	BodyBytes int64
}

// recordingProxy is a reverse proxy on 127.0.0.1 in front of a registry
// that records every request, so a test can see what a client sent.
type recordingProxy struct {
	addr string
	mu   sync.Mutex
	reqs []proxyRequest
}

// startRecordingProxy starts a proxy to s; it stops when the test ends.
func startRecordingProxy(t testing.TB, s *server) *recordingProxy {
	t.Helper()
	target, err := url.Parse(s.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{addr: l.Addr().String()}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// Keep the client's Host so absolute URLs the registry builds
			// point back at the proxy.
			r.Out.Host = r.In.Host
		},
		Transport: tr,
		ModifyResponse: func(resp *http.Response) error {
			if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "http://"+s.host()) {
				resp.Header.Set("Location", "http://"+p.addr+strings.TrimPrefix(loc, "http://"+s.host()))
			}
			return nil
		},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &countingReader{r: r.Body}
		r.Body = body
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, r)
		p.mu.Lock()
		p.reqs = append(p.reqs, proxyRequest{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Status: sw.status, BodyBytes: body.n,
		})
		p.mu.Unlock()
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		tr.CloseIdleConnections()
	})
	return p
}

func (p *recordingProxy) host() string { return p.addr }

// requests returns the requests recorded so far.
func (p *recordingProxy) requests() []proxyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

// reset forgets the recorded requests.
func (p *recordingProxy) reset() {
	p.mu.Lock()
	p.reqs = nil
	p.mu.Unlock()
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestCraneCrossRepoMount copies an image between repositories with crane
// and checks through a recording proxy that every blob was mounted, not
// uploaded again, and that the blobs answer in the target only afterwards.
func TestCraneCrossRepoMount(t *testing.T) {
	scenario(t, "crane", "copy between repositories by cross-repository blob mount (no blob bytes re-sent)")
	crane := newCrane(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	p := startRecordingProxy(t, s)
	crane.login(t, p.host())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	img := randomImage(t, rng, 3, 64<<10, 256<<10)
	pushed := describeImage(t, "crane/src", "v1", img)
	crane.must(t, "push", writeImageTarball(t, img, "v1"), p.host()+"/crane/src:v1")

	for _, d := range pushed.Blobs {
		status, _, err := headStatus(ctx, s, "/v2/crane/dst/blobs/"+d.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusNotFound {
			t.Fatalf("HEAD blob %s in crane/dst before the copy: status %d, want 404", d, status)
		}
	}

	p.reset()
	crane.must(t, "copy", p.host()+"/crane/src:v1", p.host()+"/crane/dst:v1")

	mounted := map[string]bool{}
	for _, r := range p.requests() {
		if !strings.HasPrefix(r.Path, "/v2/crane/dst/blobs/uploads") {
			continue
		}
		switch {
		case r.Method == http.MethodPost && r.Query.Get("mount") != "":
			if r.Query.Get("from") != "crane/src" {
				t.Errorf("mount request %s from %q, want from=crane/src", r.Query.Get("mount"), r.Query.Get("from"))
			}
			if r.Status != http.StatusCreated {
				t.Errorf("mount of %s answered %d, want 201", r.Query.Get("mount"), r.Status)
			}
			mounted[r.Query.Get("mount")] = r.Status == http.StatusCreated
		case r.Method == http.MethodPatch || r.Method == http.MethodPut:
			t.Errorf("crane copy uploaded blob data (%s %s, %d bytes) instead of mounting", r.Method, r.Path, r.BodyBytes)
		}
	}
	for _, d := range pushed.Blobs {
		if !mounted[d.String()] {
			t.Errorf("blob %s was not mounted into crane/dst", d)
		}
		status, _, err := headStatus(ctx, s, "/v2/crane/dst/blobs/"+d.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK {
			t.Errorf("HEAD blob %s in crane/dst after the copy: status %d, want 200", d, status)
		}
	}
	if got := crane.must(t, "digest", p.host()+"/crane/dst:v1"); got != pushed.Digest.String() {
		t.Fatalf("crane/dst:v1 is %s, want %s", got, pushed.Digest)
	}
	if err := verifyImage(ctx, s.host(), describeImage(t, "crane/dst", "v1", img)); err != nil {
		t.Fatal(err)
	}
}
