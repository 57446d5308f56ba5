//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSignaturePolicyDockerPull: with a signature policy on a project
// (set with `berth signature-policy add`), the Docker engine, logged in as
// a pull-only user, cannot pull an unsigned image, nor one signed with
// another key, nor a tag re-pushed unsigned; it pulls what real cosign
// signed (the .sig tag scheme and the OCI 1.1 bundle) and what real
// notation signed (JWS and COSE envelopes); the signatures themselves stay pullable.
func TestSignaturePolicyDockerPull(t *testing.T) {
	requireBerth(t)
	scenario(t, "docker", "signature policy: pulls refused until cosign (tag scheme, bundle) or notation signs with a trusted key; another key and an unsigned re-push refused")
	requireDocker(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	h := s.host()
	const (
		project  = "sig"
		repo     = "sig/app"
		puller   = "kubelet"
		pullerPW = "pull-only-Pw-1"
		certName = "berth-sig.test"
	)
	dockerAsPuller(t, s, project, puller, pullerPW)

	// The signers log in as the admin (who may push, so may fetch what it signs).
	cosign := newArtClient(t, "cosign", "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(t.TempDir(), "tuf"))
	cosign.login(t, h)
	for _, k := range []string{"right", "other"} {
		if err := os.MkdirAll(filepath.Join(cosign.dir, k), 0o755); err != nil {
			t.Fatal(err)
		}
		cosign.must(t, "generate-key-pair", "--output-key-prefix", filepath.Join(k, "cosign"))
	}
	notation := newArtClient(t, "notation")
	notation.login(t, h)
	notation.must(t, "cert", "generate-test", "--default", certName)
	cert := filepath.Join(notation.home, ".config", "notation", "localkeys", certName+".crt")
	if _, err := os.Stat(cert); err != nil {
		t.Fatalf("notation's test certificate: %v", err)
	}

	images := map[string]string{}
	for _, tag := range []string{"tagscheme", "bundle", "notation", "cose", "otherkey"} {
		images[tag] = pushTestImage(t, s, repo, tag, randomImage(t, rng, 1, 4<<10, 16<<10))
	}
	ref := func(tag string) string { return h + "/" + repo + ":" + tag }

	berth := loggedInCLI(t, h)
	out, _ := berth(t, 0, "signature-policy", "add", project, "--key", filepath.Join(cosign.dir, "right", "cosign.pub"), "--cert", cert)
	if !strings.Contains(out, "governs sig/**") {
		t.Errorf("signature-policy add printed %q", out)
	}

	pullRefused := func(t *testing.T, tag string) {
		t.Helper()
		out, err := dockerCLI(t, "pull", ref(tag))
		if err == nil {
			t.Fatalf("docker pull %s succeeded under the policy:\n%s", tag, out)
		}
		if !strings.Contains(out, "not signed by a trusted key for project "+project) {
			t.Errorf("docker pull %s printed %q, want the policy's refusal", tag, out)
		}
	}
	pulled := func(t *testing.T, tag string) {
		t.Helper()
		out := mustDocker(t, "pull", ref(tag))
		if !strings.Contains(out, "Digest: "+images[tag]) {
			t.Errorf("docker pull %s printed %q, want digest %s", tag, out, images[tag])
		}
		_, _ = dockerCLI(t, "rmi", ref(tag))
	}
	cosignFlags := []string{"--tlog-upload=false", "--yes", "--allow-insecure-registry", "--allow-http-registry"}
	signCosign := func(t *testing.T, key, tag string, extra ...string) {
		t.Helper()
		args := append(append([]string{"sign", "--key", filepath.Join(key, "cosign.key")}, cosignFlags...), extra...)
		cosign.must(t, append(args, h+"/"+repo+"@"+images[tag])...)
	}

	t.Run("unsigned images are refused", func(t *testing.T) {
		for _, tag := range []string{"tagscheme", "bundle", "notation"} {
			pullRefused(t, tag)
		}
		out, code := berth(t, -1, "signature-policy", "check", repo+":tagscheme")
		if code == 0 || !strings.Contains(out, "refused by policy") || !strings.Contains(out, "no signature found") {
			t.Errorf("signature-policy check: exit %d, %q", code, out)
		}
	})
	t.Run("cosign, tag scheme", func(t *testing.T) {
		signCosign(t, "right", "tagscheme")
		pulled(t, "tagscheme")
		// The signature stays pullable by the pull-only user.
		req, _ := http.NewRequest(http.MethodGet, s.url("/v2/"+repo+"/manifests/"+fallbackTag(images["tagscheme"])+".sig"), nil)
		req.SetBasicAuth(puller, pullerPW)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET of the signature as %s: %d", puller, resp.StatusCode)
		}
	})
	t.Run("cosign, OCI 1.1 bundle", func(t *testing.T) {
		signCosign(t, "right", "bundle", "--new-bundle-format")
		if refs := registryReferrers(t, s, repo, images["bundle"], "application/vnd.dev.sigstore.bundle.v0.3+json"); len(refs) == 0 {
			t.Fatalf("cosign stored no bundle referrer")
		}
		if tags := registryTags(t, s, repo); strings.Contains(strings.Join(tags, ","), fallbackTag(images["bundle"])+".sig") {
			t.Fatalf("the bundle case also has a .sig tag: %v", tags)
		}
		pulled(t, "bundle")
	})
	t.Run("notation", func(t *testing.T) {
		notation.must(t, "sign", "--insecure-registry", h+"/"+repo+"@"+images["notation"])
		pulled(t, "notation")
		out, code := berth(t, -1, "signature-policy", "check", repo+":notation")
		if code != 0 || !strings.Contains(out, "allowed by policy") || !strings.Contains(out, "notation signature") {
			t.Errorf("signature-policy check: exit %d, %q", code, out)
		}
	})
	t.Run("notation, COSE envelope", func(t *testing.T) {
		pullRefused(t, "cose")
		notation.must(t, "sign", "--insecure-registry", "--signature-format", "cose", h+"/"+repo+"@"+images["cose"])
		pulled(t, "cose")
	})
	t.Run("notation identities", func(t *testing.T) {
		// notation cert generate-test's subject: C=US, ST=WA, L=Seattle, O=Notary, CN=<name>.
		berth(t, 0, "signature-policy", "set", "1", "--identity", "x509.subject: C=US, ST=WA, L=Seattle, O=Another Org, CN="+certName)
		pullRefused(t, "notation")
		berth(t, 0, "signature-policy", "set", "1", "--identity", "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN="+certName)
		pulled(t, "notation")
	})
	t.Run("another key is refused", func(t *testing.T) {
		signCosign(t, "other", "otherkey")
		pullRefused(t, "otherkey")
	})
	t.Run("a tag re-pushed with an unsigned manifest is refused", func(t *testing.T) {
		images["tagscheme"] = pushTestImage(t, s, repo, "tagscheme", randomImage(t, rng, 1, 4<<10, 16<<10))
		pullRefused(t, "tagscheme")
	})
	t.Run("dry run lets it through", func(t *testing.T) {
		berth(t, 0, "signature-policy", "set", "1", "--dry-run")
		pulled(t, "otherkey")
	})
}

// dockerAsPuller makes project and a user who may only pull from it, and
// logs the Docker CLI in to s as that user (as a cluster pulls).
func dockerAsPuller(t *testing.T, s *server, project, user, password string) {
	t.Helper()
	apiCall(t, s, http.MethodPost, "/api/v1/projects", map[string]any{"name": project}, http.StatusCreated, nil)
	apiCall(t, s, http.MethodPost, "/api/v1/users", map[string]any{"name": user, "password": password}, http.StatusCreated, nil)
	apiCall(t, s, http.MethodPut, "/api/v1/projects/"+project+"/members/user/"+user, map[string]any{"role": "guest"}, http.StatusOK, nil)
	if out, err := dockerCLIInput(t, password, "login", "--username", user, "--password-stdin", s.host()); err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login as %s: %v\n%s", user, err, out)
	}
	t.Cleanup(func() { _, _ = dockerCLI(t, "logout", s.host()) })
}

// loggedInCLI logs the berth CLI in to host as the admin (private
// HOME) and returns a runner that checks the exit code (unless wantCode
// is -1) and returns stdout+stderr and the code.
func loggedInCLI(t *testing.T, host string) func(t *testing.T, wantCode int, args ...string) (string, int) {
	t.Helper()
	home := t.TempDir()
	run := func(t *testing.T, wantCode int, args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, targetBinary(t), args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "BERTH_PASSWORD="+adminPassword)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		t.Logf("$ berth %s (exit %d)\n%s", strings.Join(args, " "), code, out.String())
		if err != nil && code < 0 {
			t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
		}
		if wantCode >= 0 && code != wantCode {
			t.Fatalf("berth %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out.String())
		}
		return out.String(), code
	}
	run(t, 0, "login", host)
	return run
}
