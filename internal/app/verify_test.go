package app

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
)

// blobFile is where the filesystem driver keeps blob d under dir.
func blobFile(dir string, d v1.Hash) string {
	return filepath.Join(dir, "blobs", d.Algorithm, d.Hex[:2], d.Hex)
}

// corrupt flips the first byte of a stored blob (same length).
func corrupt(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyAndQuarantine(t *testing.T) {
	data := t.TempDir()
	_, base := startApp(t, func(cfg *config.Config) { cfg.Storage.Path = data })
	host := strings.TrimPrefix(base, "http://")
	img, _ := random.Image(64<<10, 2)
	ref := mustRef(t, host+"/team/app:v1")
	if err := remote.Write(ref, img, asAdmin); err != nil {
		t.Fatal(err)
	}
	other, _ := random.Image(1024, 1)
	if err := remote.Write(mustRef(t, host+"/team/other:v1"), other, asAdmin); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	bad, _ := layers[0].Digest()
	corrupt(t, blobFile(data, bad))
	ol, _ := other.Layers()
	gone, _ := ol[0].Digest()
	if err := os.Remove(blobFile(data, gone)); err != nil {
		t.Fatal(err)
	}
	orphan := []byte("stored, linked nowhere")
	od := digest.FromBytes(orphan)
	if err := os.MkdirAll(filepath.Dir(blobFile(data, v1.Hash{Algorithm: "sha256", Hex: od.Encoded()})), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobFile(data, v1.Hash{Algorithm: "sha256", Hex: od.Encoded()}), orphan, 0o644); err != nil {
		t.Fatal(err)
	}

	type report struct {
		Blobs   int
		Corrupt []string
		Missing []struct{ Repository, Digest string }
		Orphans []string
	}
	check := func(rep report) {
		t.Helper()
		if len(rep.Corrupt) != 1 || rep.Corrupt[0] != bad.String() ||
			len(rep.Missing) != 1 || rep.Missing[0].Digest != gone.String() || rep.Missing[0].Repository != "team/other" ||
			len(rep.Orphans) != 1 || rep.Orphans[0] != od.String() {
			t.Fatalf("report = %+v; want corrupt %s, missing %s, orphan %s", rep, bad, gone, od)
		}
	}
	var rep report
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/system/verify", `{"dry_run":true}`, &rep); code != 200 {
		t.Fatalf("dry run = %d", code)
	}
	check(rep)
	if _, err := remote.Image(ref, asAdmin); err != nil {
		t.Fatalf("a dry run quarantined something: %v", err)
	}
	rep = report{}
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/system/verify", "", &rep); code != 200 {
		t.Fatalf("verify = %d", code)
	}
	check(rep)

	t.Run("the corrupt blob and the manifest that needs it are not served", func(t *testing.T) {
		status, _, body := apiStatus(t, "HEAD", base+"/v2/team/app/blobs/"+bad.String())
		if status != 404 {
			t.Fatalf("HEAD = %d", status)
		}
		status, _, body = apiStatus(t, "GET", base+"/v2/team/app/blobs/"+bad.String())
		if status != 404 || !strings.Contains(body, "quarantined") {
			t.Fatalf("GET blob = %d %s", status, body)
		}
		status, _, body = apiStatus(t, "GET", base+"/v2/team/app/manifests/v1")
		if status != 404 || !strings.Contains(body, "quarantined") || !strings.Contains(body, "push the image again") {
			t.Fatalf("GET manifest = %d %s", status, body)
		}
		var q []struct{ Digest, Reason string }
		apiCall(t, base, "admin", testAdminPassword, "GET", "/system/quarantine", "", &q)
		if len(q) != 1 || q[0].Digest != bad.String() {
			t.Fatalf("quarantine = %+v", q)
		}
		if got := apiCall(t, base, "guest", "x", "GET", "/system/quarantine", "", nil); got != 401 {
			t.Fatalf("a non-admin reads the quarantine: %d", got)
		}
	})
	t.Run("pushing the image again replaces the bytes and lifts the quarantine", func(t *testing.T) {
		if err := remote.Write(ref, img, asAdmin); err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("after the re-push: %v", err)
		}
		var q []struct{ Digest string }
		apiCall(t, base, "admin", testAdminPassword, "GET", "/system/quarantine", "", &q)
		if len(q) != 0 {
			t.Fatalf("quarantine after the re-push = %+v", q)
		}
	})
}

// apiStatus sends a request as the test admin and returns status, headers
// and body.
func apiStatus(t *testing.T, method, url string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.SetBasicAuth("admin", testAdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestVerifyOnRead(t *testing.T) {
	data := t.TempDir()
	_, base := startApp(t, func(cfg *config.Config) {
		cfg.Storage.Path = data
		cfg.Storage.VerifyOnRead = true
	})
	img, _ := random.Image(256<<10, 1)
	if err := remote.Write(mustRef(t, strings.TrimPrefix(base, "http://")+"/team/app:v1"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	url := base + "/v2/team/app/blobs/" + d.String()
	get := func(rng string) (int, error) {
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth("admin", testAdminPassword)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return resp.StatusCode, err
	}
	if code, err := get(""); code != 200 || err != nil {
		t.Fatalf("intact blob = %d, %v", code, err)
	}
	corrupt(t, blobFile(data, d))
	if code, err := get(""); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("corrupt blob = %d, %v; want the response cut short", code, err)
	}
	if code, err := get("bytes=100-199"); code != 206 || err != nil {
		t.Fatalf("a range of it = %d, %v (ranges are not verified)", code, err)
	}
}
