//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// This file also holds the helpers the artifact clients (oras, cosign,
// notation, helm) share: each runs with a private home directory so that
// nothing in the real $HOME is read or written.

const artCLITimeout = 2 * time.Minute

// artClient is one client binary run with a private home directory.
type artClient struct {
	name string
	bin  string
	home string
	env  []string
	// dir is the working directory of every command.
	dir string
}

// clientEnvPrefixes are stripped from the inherited environment so no
// setting of the machine's user leaks into a client.
var clientEnvPrefixes = []string{
	"HOME=", "XDG_", "DOCKER_CONFIG=", "HELM_", "COSIGN_", "SIGSTORE_",
	"TUF_ROOT=", "NOTATION_", "ORAS_", "REGISTRY_AUTH_FILE=",
}

// newArtClient finds the client and prepares a private home for it; extra
// is added to its environment (KEY=VALUE).
func newArtClient(t testing.TB, name string, extra ...string) *artClient {
	t.Helper()
	bin := requireTool(t, name)
	home := t.TempDir()
	c := &artClient{name: name, bin: bin, home: home, dir: t.TempDir()}
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range clientEnvPrefixes {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"),
	)
	c.env = append(c.env, extra...)
	return c
}

// artLoginArgs is the login command of the artifact clients that have one
// able to keep a password without a credentials store (plain HTTP, the
// password read from stdin, the host appended).
var artLoginArgs = map[string][]string{
	"oras":   {"login", "--plain-http", "--username", adminUser, "--password-stdin"},
	"helm":   {"registry", "login", "--plain-http", "--username", adminUser, "--password-stdin"},
	"cosign": {"login", "--username", adminUser, "--password-stdin"},
}

// login gives the client the admin's credentials for host in its private
// home: with its own login command, or else (notation login refuses to
// store a password without a credentials store) in the Docker config.json
// it reads. It does nothing when the target asks for no credentials.
func (c *artClient) login(t testing.TB, host string) {
	t.Helper()
	if !authOn() {
		return
	}
	args, ok := artLoginArgs[c.name]
	if !ok {
		addRegistryAuth(t, filepath.Join(c.home, ".docker", "config.json"), host)
		return
	}
	args = append(append([]string(nil), args...), host)
	if out, errOut, err := c.runInput(t, adminPassword, args...); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", c.name, strings.Join(args, " "), err, out, errOut)
	}
}

// run runs the client and returns stdout and stderr separately.
func (c *artClient) run(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	return c.runInput(t, "", args...)
}

// runInput is run with stdin as the client's standard input.
func (c *artClient) runInput(t testing.TB, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), artCLITimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", artCLITimeout)
	}
	t.Logf("$ %s %s\n%s", c.name, strings.Join(args, " "), artClip(stdout.String()+stderr.String(), 4000))
	return stdout.String(), stderr.String(), err
}

// artClip shortens s to its first n bytes for a log.
func artClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes more)\n", len(s)-n)
}

// must runs the client, fails the test unless it exits 0, and returns stdout.
func (c *artClient) must(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := c.run(t, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", c.name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// mustFail runs the client, fails the test unless it exits non-zero (a
// timeout or a missing binary does not count), and returns stdout+stderr.
func (c *artClient) mustFail(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := c.run(t, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("%s %s: err %v, want a non-zero exit\nstdout:\n%s\nstderr:\n%s", c.name, strings.Join(args, " "), err, out, errOut)
	}
	return out + errOut
}

// writeFile writes a file under the client's working directory.
func (c *artClient) writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pushTestImage pushes a small random image with go-containerregistry and
// returns its digest.
func pushTestImage(t testing.TB, s *server, repo, tag string, img v1.Image) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pushImage(ctx, tagRef(t, s.host(), repo, tag), img); err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// registryTags returns the tag list of repo as berth serves it.
func registryTags(t testing.TB, s *server, repo string) []string {
	t.Helper()
	var list struct {
		Tags []string `json:"tags"`
	}
	getJSON(t, s, "/v2/"+repo+"/tags/list", nil, &list)
	sort.Strings(list.Tags)
	return list.Tags
}

// fallbackTags returns the tags of repo that look like the referrers
// tag-schema fallback (sha256-<64 hex>) or a cosign-style suffix of it.
func fallbackTags(tags []string) []string {
	var out []string
	for _, tag := range tags {
		if strings.HasPrefix(tag, "sha256-") {
			out = append(out, tag)
		}
	}
	return out
}

// fallbackTag is the referrers tag-schema tag of a digest.
func fallbackTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// getJSON GETs path from berth, requires a 200 and decodes the body into v.
// It returns the response headers.
func getJSON(t testing.TB, s *server, path string, hdr http.Header, v any) http.Header {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, h, body, err := s.httpDo(ctx, http.MethodGet, path, hdr)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return h
}

// ociDesc is the part of a descriptor the tests look at.
type ociDesc struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// ociManifest is an image manifest or an index (referrers responses are
// indexes).
type ociManifest struct {
	MediaType    string    `json:"mediaType"`
	ArtifactType string    `json:"artifactType"`
	Config       ociDesc   `json:"config"`
	Layers       []ociDesc `json:"layers"`
	Manifests    []ociDesc `json:"manifests"`
	Subject      *ociDesc  `json:"subject"`
}

// registryManifest GETs a manifest by tag or digest and returns it with
// its Docker-Content-Digest.
func registryManifest(t testing.TB, s *server, repo, ref string) (ociManifest, string) {
	t.Helper()
	var m ociManifest
	h := getJSON(t, s, "/v2/"+repo+"/manifests/"+ref, manifestAccept, &m)
	return m, h.Get("Docker-Content-Digest")
}

// hasReferrersAPI tells whether the target registry serves the OCI 1.1
// referrers API. The reference registry (Debian's distribution 2.8) does
// not: against it, clients fall back to the tag schema, and assertions that
// the API was used are skipped.
func hasReferrersAPI(t testing.TB) bool { return targetKind(t) == targetBerth }

// registryReferrers GETs berth's referrers API for a digest, optionally
// filtered by artifact type, and returns the digests listed by type.
func registryReferrers(t testing.TB, s *server, repo, digest, artifactType string) map[string]string {
	t.Helper()
	path := "/v2/" + repo + "/referrers/" + digest
	if artifactType != "" {
		path += "?artifactType=" + url.QueryEscape(artifactType)
	}
	var idx ociManifest
	getJSON(t, s, path, nil, &idx)
	out := map[string]string{}
	for _, d := range idx.Manifests {
		out[d.Digest] = d.ArtifactType
	}
	return out
}

// discoverNode is one node of `oras discover --format json`.
type discoverNode struct {
	Reference    string         `json:"reference"`
	MediaType    string         `json:"mediaType"`
	Digest       string         `json:"digest"`
	ArtifactType string         `json:"artifactType"`
	Referrers    []discoverNode `json:"referrers"`
}

// orasDescriptor is what `oras push|attach --format json` prints.
type orasDescriptor struct {
	Reference    string `json:"reference"`
	MediaType    string `json:"mediaType"`
	Digest       string `json:"digest"`
	ArtifactType string `json:"artifactType"`
}

func decodeOras[T any](t testing.TB, what, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%s: output is not the JSON expected: %v\n%s", what, err, out)
	}
	return v
}

// TestOrasArtifacts pushes an artifact with a custom artifact type, attaches
// two artifacts of different types to an image, discovers them through the
// referrers API (filtered and not) and pulls the files back.
func TestOrasArtifacts(t *testing.T) {
	scenario(t, "oras", "push of an artifact with a custom artifactType, attach to an image, discover through the referrers API (no tag fallback), filter by artifact type, pull back")
	oras := newArtClient(t, "oras")
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	oras.login(t, s.host())
	h := s.host()

	const (
		bundleType = "application/vnd.berth.e2e.bundle.v1"
		sbomType   = "application/vnd.berth.e2e.sbom.v1+json"
		provType   = "application/vnd.berth.e2e.provenance.v1"
	)
	readme := []byte(fmt.Sprintf("berth e2e artifact %016x\n", rng.Uint64()))
	data := randBytes(rng, 200<<10+rng.IntN(64<<10))
	oras.writeFile(t, "readme.txt", readme)
	oras.writeFile(t, "data.bin", data)

	var artifact orasDescriptor
	t.Run("push with artifact type", func(t *testing.T) {
		out := oras.must(t, "push", "--plain-http", "--format", "json", "--artifact-type", bundleType,
			h+"/e2e/artifact:v1", "readme.txt:text/plain", "data.bin")
		artifact = decodeOras[orasDescriptor](t, "oras push", out)
		if artifact.ArtifactType != bundleType {
			t.Errorf("oras push reports artifactType %q, want %q", artifact.ArtifactType, bundleType)
		}
		m, dcd := registryManifest(t, s, "e2e/artifact", "v1")
		if dcd != artifact.Digest {
			t.Errorf("berth serves e2e/artifact:v1 as %s, oras pushed %s", dcd, artifact.Digest)
		}
		if m.ArtifactType != bundleType {
			t.Errorf("stored manifest artifactType %q, want %q", m.ArtifactType, bundleType)
		}
		want := map[string]string{"readme.txt": sha256Hash(readme).String(), "data.bin": sha256Hash(data).String()}
		got := map[string]string{}
		for _, l := range m.Layers {
			got[l.Annotations["org.opencontainers.image.title"]] = l.Digest
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stored manifest layers (title: digest) %v, want %v", got, want)
		}
	})
	if artifact.Digest == "" {
		t.Fatal("push failed; not going on")
	}

	t.Run("pull back", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "pulled")
		oras.must(t, "pull", "--plain-http", "-o", out, h+"/e2e/artifact:v1")
		for name, want := range map[string][]byte{"readme.txt": readme, "data.bin": data} {
			got, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Errorf("oras pull: %v", err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("oras pull: %s has %d bytes (%s), pushed %d (%s)", name, len(got), sha256Hash(got), len(want), sha256Hash(want))
			}
		}
	})

	// The subject: an image pushed by go-containerregistry.
	subject := pushTestImage(t, s, "e2e/app", "v1", randomImage(t, rng, 1, 4<<10, 16<<10))
	sbom := []byte(fmt.Sprintf(`{"sbom":"%016x"}`, rng.Uint64()))
	prov := []byte(fmt.Sprintf("built by berth e2e %016x\n", rng.Uint64()))
	oras.writeFile(t, "sbom.json", sbom)
	oras.writeFile(t, "provenance.txt", prov)

	attached := map[string]string{} // digest -> artifact type
	t.Run("attach", func(t *testing.T) {
		for _, a := range []struct{ typ, file string }{
			{sbomType, "sbom.json:application/json"},
			{provType, "provenance.txt"},
		} {
			out := oras.must(t, "attach", "--plain-http", "--format", "json", "--artifact-type", a.typ, h+"/e2e/app:v1", a.file)
			d := decodeOras[orasDescriptor](t, "oras attach", out)
			if d.ArtifactType != a.typ {
				t.Errorf("oras attach reports artifactType %q, want %q", d.ArtifactType, a.typ)
			}
			attached[d.Digest] = a.typ
			m, _ := registryManifest(t, s, "e2e/app", d.Digest)
			if m.Subject == nil || m.Subject.Digest != subject {
				t.Errorf("attached manifest %s: subject %+v, want %s", d.Digest, m.Subject, subject)
			}
		}
		if !hasReferrersAPI(t) {
			return
		}
		// Attach ran in its default (auto) mode: had berth not announced the
		// referrers API (OCI-Subject), oras would have written the fallback
		// tag index.
		if fb := fallbackTags(registryTags(t, s, "e2e/app")); len(fb) != 0 {
			t.Errorf("e2e/app has referrers fallback tags %v; oras should have used the referrers API", fb)
		}
		if got := registryReferrers(t, s, "e2e/app", subject, ""); fmt.Sprint(got) != fmt.Sprint(attached) {
			t.Errorf("berth's referrers API lists %v, want %v", got, attached)
		}
	})
	if len(attached) != 2 {
		t.Fatal("attach failed; not going on")
	}

	discover := func(t *testing.T, extra ...string) map[string]string {
		t.Helper()
		if !hasReferrersAPI(t) {
			t.Skipf("%s has no referrers API", targetKind(t))
		}
		args := append([]string{"discover", "--plain-http", "--distribution-spec", "v1.1-referrers-api", "--format", "json"}, extra...)
		root := decodeOras[discoverNode](t, "oras discover", oras.must(t, append(args, h+"/e2e/app@"+subject)...))
		if root.Digest != subject {
			t.Errorf("oras discover: root %s, want %s", root.Digest, subject)
		}
		got := map[string]string{}
		for _, r := range root.Referrers {
			got[r.Digest] = r.ArtifactType
		}
		return got
	}

	t.Run("discover through the referrers API", func(t *testing.T) {
		if got := discover(t); fmt.Sprint(got) != fmt.Sprint(attached) {
			t.Errorf("oras discover lists %v, want %v", got, attached)
		}
	})

	t.Run("discover filtered by artifact type", func(t *testing.T) {
		for _, typ := range []string{sbomType, provType, "application/vnd.berth.e2e.none"} {
			want := map[string]string{}
			for d, at := range attached {
				if at == typ {
					want[d] = at
				}
			}
			if got := discover(t, "--artifact-type", typ); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("oras discover --artifact-type %s lists %v, want %v", typ, got, want)
			}
			if got := registryReferrers(t, s, "e2e/app", subject, typ); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("berth's referrers API with artifactType=%s lists %v, want %v", typ, got, want)
			}
		}
	})

	t.Run("pull attached artifact", func(t *testing.T) {
		var sbomDigest string
		for d, at := range attached {
			if at == sbomType {
				sbomDigest = d
			}
		}
		out := filepath.Join(t.TempDir(), "pulled")
		oras.must(t, "pull", "--plain-http", "-o", out, h+"/e2e/app@"+sbomDigest)
		got, err := os.ReadFile(filepath.Join(out, "sbom.json"))
		if err != nil {
			t.Fatalf("oras pull: %v", err)
		}
		if !bytes.Equal(got, sbom) {
			t.Errorf("oras pull: sbom.json is %q, attached %q", got, sbom)
		}
	})
}
