//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Logging in and out against berth with authentication on: the Docker
// engine (berth as its token service, the OAuth2 form and a refresh token
// kept as identitytoken) and skopeo (containers/image). Anonymous clients
// may pull from the public project library and from nothing else.

// loginWrongPassword is never the admin's password.
const loginWrongPassword = "not-the-" + adminPassword

// authRefusal tells whether a client's message says the registry refused
// the credentials or the access (wording differs between clients).
func authRefusal(out string) bool {
	out = strings.ToLower(out)
	for _, w := range []string{"unauthorized", "denied", "authentication required", "invalid username/password", "incorrect username or password"} {
		if strings.Contains(out, w) {
			return true
		}
	}
	return false
}

// authFileEntries returns the "auths" entries of a Docker-format auth file
// by host (none when the file does not exist).
func authFileEntries(t testing.TB, path string) map[string]map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("auth file %s: %v\n%s", path, err, raw)
	}
	return doc.Auths
}

// exitedNonZero tells whether err is a command's non-zero exit (not a
// timeout or a missing binary).
func exitedNonZero(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() != 0
}

// TestAuthChallenge checks, with plain HTTP requests, what every client
// below relies on: the Bearer challenge naming berth's token service,
// Basic credentials accepted on /v2/, and anonymous pulls limited to the
// public project library.
func TestAuthChallenge(t *testing.T) {
	requireBerth(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	img := randomImage(t, rng, 1, 4<<10, 8<<10)
	public := pushTestImage(t, s, "library/challenge", "v1", img)
	private := pushTestImage(t, s, "e2e/challenge", "v1", img)

	do := func(t *testing.T, hdr http.Header, asAdmin bool, method, path string) (int, http.Header) {
		t.Helper()
		status, h, _, err := s.httpDoAs(ctx, asAdmin, method, path, hdr)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return status, h
	}
	wrong := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"+loginWrongPassword))}}
	wantRealm := fmt.Sprintf(`Bearer realm="http://%s/token",service="berth"`, s.host())

	t.Run("anonymous /v2/ gets the Bearer challenge", func(t *testing.T) {
		status, h := do(t, nil, false, http.MethodGet, "/v2/")
		if status != http.StatusUnauthorized {
			t.Fatalf("GET /v2/ without credentials: status %d, want 401", status)
		}
		if got := h.Get("WWW-Authenticate"); !strings.HasPrefix(got, wantRealm) {
			t.Errorf("WWW-Authenticate %q, want it to start with %q", got, wantRealm)
		}
	})
	t.Run("admin Basic credentials on /v2/", func(t *testing.T) {
		if status, _ := do(t, nil, true, http.MethodGet, "/v2/"); status != http.StatusOK {
			t.Fatalf("GET /v2/ as admin: status %d, want 200", status)
		}
	})
	t.Run("wrong password on /v2/", func(t *testing.T) {
		if status, _ := do(t, wrong, false, http.MethodGet, "/v2/"); status != http.StatusUnauthorized {
			t.Fatalf("GET /v2/ with a wrong password: status %d, want 401", status)
		}
	})
	t.Run("anonymous pull from library", func(t *testing.T) {
		status, h := do(t, manifestAccept, false, http.MethodHead, "/v2/library/challenge/manifests/v1")
		if status != http.StatusOK || h.Get("Docker-Content-Digest") != public {
			t.Fatalf("anonymous HEAD library/challenge:v1: status %d, digest %q; want 200, %s", status, h.Get("Docker-Content-Digest"), public)
		}
	})
	t.Run("anonymous pull from a private project refused", func(t *testing.T) {
		status, h := do(t, manifestAccept, false, http.MethodHead, "/v2/e2e/challenge/manifests/"+private)
		if status != http.StatusUnauthorized {
			t.Fatalf("anonymous HEAD e2e/challenge: status %d, want 401", status)
		}
		if got := h.Get("WWW-Authenticate"); !strings.Contains(got, `scope="repository:e2e/challenge:pull"`) {
			t.Errorf("WWW-Authenticate %q does not name the scope repository:e2e/challenge:pull", got)
		}
	})
	t.Run("anonymous push into library refused", func(t *testing.T) {
		if status, _ := do(t, nil, false, http.MethodPost, "/v2/library/challenge/blobs/uploads/"); status != http.StatusUnauthorized {
			t.Fatalf("anonymous POST upload to library/challenge: status %d, want 401", status)
		}
	})
}

// dockerMustFail runs docker, fails the test unless it exits non-zero with
// a message saying the registry refused, and returns the output.
func dockerMustFail(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := dockerCLIInput(t, stdin, args...)
	if !exitedNonZero(err) {
		t.Fatalf("docker %s: err %v, want a non-zero exit\n%s", strings.Join(args, " "), err, out)
	}
	if !authRefusal(out) {
		t.Errorf("docker %s printed %q, want an unauthorized/denied/invalid credentials message", strings.Join(args, " "), out)
	}
	return out
}

// TestDockerLoginLogout: docker login with a wrong password fails, with the
// right one succeeds and keeps a refresh token; push and pull work; after
// docker logout a push fails, an anonymous pull from the public library
// project works and one from a private project fails.
func TestDockerLoginLogout(t *testing.T) {
	scenario(t, "docker", "login (wrong password refused; the right one keeps an identity token), push and pull, logout: push refused, anonymous pull from the public library project works, from a private project refused")
	requireBerth(t)
	requireDocker(t)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	h := s.host()
	cfgFile := filepath.Join(dockerConfig(t), "config.json")
	t.Cleanup(func() { _, _ = dockerCLI(t, "logout", h) })

	img := imageFromLayers(t, randomLayer(t, rng, 64<<10))
	wantID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	localRef := fmt.Sprintf("berth-e2e-local/login:%08x", rng.Uint32())
	dockerLoad(t, img, localRef)
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", wantID.String()) })
	private, public := h+"/e2e/login:v1", h+"/library/login:v1"
	mustDocker(t, "tag", localRef, private)
	mustDocker(t, "tag", localRef, public)

	t.Run("login with a wrong password fails", func(t *testing.T) {
		dockerMustFail(t, loginWrongPassword, "login", "--username", adminUser, "--password-stdin", h)
		if e, ok := authFileEntries(t, cfgFile)[h]; ok {
			t.Errorf("a failed docker login stored credentials for %s: %v", h, e)
		}
	})

	t.Run("login", func(t *testing.T) {
		out, err := dockerCLIInput(t, adminPassword, "login", "--username", adminUser, "--password-stdin", h)
		if err != nil || !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login: %v\n%s", err, out)
		}
		// The engine asked berth for a refresh token (OAuth2 password
		// grant, access_type=offline); the CLI keeps it, not the password.
		e := authFileEntries(t, cfgFile)[h]
		if e["identitytoken"] == "" {
			t.Errorf("after docker login, %s holds %v for %s; want an identitytoken", cfgFile, e, h)
		}
		if raw, _ := base64.StdEncoding.DecodeString(e["auth"]); strings.Contains(string(raw), adminPassword) {
			t.Errorf("docker login stored the password for %s, want only the identity token", h)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	var pushed string
	t.Run("push and pull", func(t *testing.T) {
		for _, ref := range []string{private, public} {
			r := dockerPush(t, ref)
			pushed = r.Digest
		}
		if got := registryDigest(t, s, "e2e/login", "v1"); got != pushed {
			t.Errorf("berth serves e2e/login:v1 as %q, docker pushed %s", got, pushed)
		}
		removeImage(t, wantID.String(), private, public, localRef)
		out := mustDocker(t, "pull", private)
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != pushed {
			t.Errorf("docker pull %s printed %q, want Digest: %s", private, out, pushed)
		}
	})
	if pushed == "" {
		t.FailNow()
	}

	t.Run("logout", func(t *testing.T) {
		out := mustDocker(t, "logout", h)
		if !strings.Contains(out, "Removing login credentials for "+h) {
			t.Errorf("docker logout printed %q", out)
		}
		if e, ok := authFileEntries(t, cfgFile)[h]; ok {
			t.Errorf("after docker logout, %s still holds %v for %s", cfgFile, e, h)
		}
	})

	t.Run("push after logout refused", func(t *testing.T) {
		// One refused push only: the Docker engine 20.10 retries a refused
		// layer upload (five tries, 50s) when the 401 body is a bare
		// UNAUTHORIZED code without detail and the challenge names no
		// error="insufficient_scope".
		ref := h + "/e2e/login:v2"
		mustDocker(t, "tag", private, ref)
		began := time.Now()
		dockerMustFail(t, "", "push", ref)
		if d := time.Since(began); d > 20*time.Second {
			t.Logf("the refused docker push took %s: the engine retried berth's refusal as if it were transient", d.Round(time.Second))
		}
		if st, _, err := headStatus(context.Background(), s, "/v2/e2e/login/manifests/v2", manifestAccept); err != nil || st != http.StatusNotFound {
			t.Errorf("HEAD e2e/login:v2 after the refused push: status %d, %v; want 404", st, err)
		}
	})

	t.Run("anonymous pull from library", func(t *testing.T) {
		removeImage(t, wantID.String())
		out := mustDocker(t, "pull", public)
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != pushed {
			t.Errorf("anonymous docker pull %s printed %q, want Digest: %s", public, out, pushed)
		}
		if got := imageID(t, public); got != wantID.String() {
			t.Errorf("pulled image id %s, want %s", got, wantID)
		}
	})

	t.Run("anonymous pull from a private project refused", func(t *testing.T) {
		removeImage(t, wantID.String())
		dockerMustFail(t, "", "pull", private)
		if out, err := dockerCLI(t, "image", "inspect", private); err == nil {
			t.Errorf("%s is present after the refused pull:\n%s", private, out)
		}
	})
}

// skopeoInput runs skopeo with the private trust policy and stdin.
func (c *ctrTools) skopeoInput(t testing.TB, stdin, bin string, args ...string) (string, string, error) {
	t.Helper()
	return c.skopeoTools().runInput(t, stdin, bin, append([]string{"--policy", c.policy}, args...)...)
}

// TestSkopeoLoginLogout: skopeo login with a wrong password fails, with the
// right one succeeds; inspect of a private image then works; after skopeo
// logout it fails, while the public library project stays readable.
func TestSkopeoLoginLogout(t *testing.T) {
	scenario(t, "skopeo", "login (a wrong password refused), inspect of a private image, logout: inspect refused, the public library project still readable")
	requireBerth(t)
	bin := requireTool(t, "skopeo")
	c := newCtrTools(t) // no credentials yet
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	h := s.host()

	img := ctrOCIImage(t, rng, runtime.GOARCH, 1)
	d := ctrPush(t, s, "e2e/skopeo-login", img, "v1")
	ctrPush(t, s, "library/skopeo-login", img, "v1")
	private := "docker://" + h + "/e2e/skopeo-login:v1"
	public := "docker://" + h + "/library/skopeo-login:v1"

	inspect := func(t *testing.T, ref string) {
		t.Helper()
		out := c.mustSkopeo(t, bin, "inspect", "--tls-verify=false", ref)
		var got skopeoInspectOut
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("skopeo inspect output: %v\n%s", err, out)
		}
		if got.Digest != d.String() {
			t.Errorf("skopeo inspect %s: Digest %s, want %s", ref, got.Digest, d)
		}
	}
	inspectRefused := func(t *testing.T, ref string) {
		t.Helper()
		out, errOut, err := c.skopeo(t, bin, "inspect", "--tls-verify=false", ref)
		if !exitedNonZero(err) {
			t.Fatalf("skopeo inspect %s: err %v, want a non-zero exit\n%s%s", ref, err, out, errOut)
		}
		if !authRefusal(errOut) {
			t.Errorf("skopeo inspect %s printed %q, want an unauthorized/denied message", ref, errOut)
		}
	}
	login := func(t *testing.T, password string) (string, string, error) {
		t.Helper()
		return c.skopeoInput(t, password, bin, "login", "--tls-verify=false", "--username", adminUser, "--password-stdin", h)
	}

	t.Run("inspect without login refused", func(t *testing.T) { inspectRefused(t, private) })

	t.Run("login with a wrong password fails", func(t *testing.T) {
		out, errOut, err := login(t, loginWrongPassword)
		if !exitedNonZero(err) {
			t.Fatalf("skopeo login with a wrong password: err %v, want a non-zero exit\n%s%s", err, out, errOut)
		}
		if !authRefusal(errOut) {
			t.Errorf("skopeo login with a wrong password printed %q, want an invalid credentials message", errOut)
		}
		if e, ok := authFileEntries(t, c.authFile)[h]; ok {
			t.Errorf("a failed skopeo login stored credentials for %s: %v", h, e)
		}
	})

	t.Run("login", func(t *testing.T) {
		out, errOut, err := login(t, adminPassword)
		if err != nil || !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("skopeo login: %v\n%s%s", err, out, errOut)
		}
		want := base64.StdEncoding.EncodeToString([]byte(adminUser + ":" + adminPassword))
		if got := authFileEntries(t, c.authFile)[h]["auth"]; got != want {
			t.Errorf("after skopeo login, %s holds %q for %s, want the admin's credentials", c.authFile, got, h)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("inspect a private image", func(t *testing.T) { inspect(t, private) })

	t.Run("logout", func(t *testing.T) {
		out := c.mustSkopeo(t, bin, "logout", h)
		if !strings.Contains(out, "Removed login credentials for "+h) {
			t.Errorf("skopeo logout printed %q", out)
		}
		if e, ok := authFileEntries(t, c.authFile)[h]; ok {
			t.Errorf("after skopeo logout, %s still holds %v for %s", c.authFile, e, h)
		}
	})

	t.Run("inspect after logout refused", func(t *testing.T) { inspectRefused(t, private) })

	t.Run("anonymous inspect in library", func(t *testing.T) { inspect(t, public) })
}
