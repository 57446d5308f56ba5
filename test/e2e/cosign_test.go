//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cosignRegistryFlags let cosign talk plain HTTP to 127.0.0.1.
var cosignRegistryFlags = []string{"--allow-insecure-registry", "--allow-http-registry"}

// TestCosignSignVerify signs an image with a generated key pair without a
// transparency log, verifies it with that key, and checks that another key
// and an unsigned image fail verification.
func TestCosignSignVerify(t *testing.T) {
	scenario(t, "cosign", "sign with a generated key pair (no transparency log), verify with the right key; another key and an unsigned image fail")
	// COSIGN_PASSWORD set (empty) keeps cosign from prompting;
	// COSIGN_EXPERIMENTAL is stripped by newArtClient.
	cosign := newArtClient(t, "cosign", "COSIGN_PASSWORD=", "TUF_ROOT="+filepath.Join(t.TempDir(), "tuf"))
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	cosign.login(t, s.host())
	const repo = "e2e/cosign"

	keys := map[string]string{}
	for _, k := range []string{"right", "other"} {
		dir := filepath.Join(cosign.dir, k)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cosign.must(t, "generate-key-pair", "--output-key-prefix", filepath.Join(k, "cosign"))
		for _, f := range []string{"cosign.key", "cosign.pub"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Fatalf("cosign generate-key-pair: %v", err)
			}
		}
		keys[k] = filepath.Join(dir, "cosign")
	}

	signed := pushTestImage(t, s, repo, "signed", randomImage(t, rng, 1, 4<<10, 16<<10))
	unsigned := pushTestImage(t, s, repo, "unsigned", randomImage(t, rng, 1, 4<<10, 16<<10))
	signedRef := s.host() + "/" + repo + "@" + signed

	// An empty trusted root: a key needs no Fulcio or Rekor material, and
	// with it cosign does not try to fetch the public-good TUF root.
	trustedRoot := cosign.writeFile(t, "trusted_root.json", []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
	verify := func(key, ref string) []string {
		args := []string{"verify", "--key", key + ".pub", "--insecure-ignore-tlog=true", "--output", "json", "--trusted-root", trustedRoot}
		return append(append(args, cosignRegistryFlags...), ref)
	}

	t.Run("sign", func(t *testing.T) {
		args := []string{"sign", "--key", keys["right"] + ".key", "--tlog-upload=false", "--yes"}
		out, errOut, err := cosign.run(t, append(append(args, cosignRegistryFlags...), signedRef)...)
		if err != nil {
			t.Fatalf("cosign sign: %v\n%s%s", err, out, errOut)
		}
		if strings.Contains(errOut, "tlog entry created") {
			t.Errorf("cosign sign uploaded to a transparency log:\n%s", errOut)
		}
	})

	t.Run("signature stored in berth", func(t *testing.T) {
		sigTag := fallbackTag(signed) + ".sig"
		tags := registryTags(t, s, repo)
		if !slices.Contains(tags, sigTag) {
			t.Fatalf("tags of %s are %v; want cosign's signature tag %s", repo, tags, sigTag)
		}
		if slices.Contains(tags, fallbackTag(unsigned)+".sig") {
			t.Errorf("tags of %s are %v; the unsigned image has a signature tag", repo, tags)
		}
		m, _ := registryManifest(t, s, repo, sigTag)
		if len(m.Layers) != 1 {
			t.Fatalf("signature manifest has %d layers, want 1: %+v", len(m.Layers), m)
		}
		l := m.Layers[0]
		if l.Annotations["dev.cosignproject.cosign/signature"] == "" {
			t.Errorf("signature layer lacks the dev.cosignproject.cosign/signature annotation: %v", l.Annotations)
		}
		// The signed payload names the image digest.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		status, _, body, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/blobs/"+l.Digest, nil)
		if err != nil || status != http.StatusOK {
			t.Fatalf("GET signature payload %s: status %d, err %v", l.Digest, status, err)
		}
		if got := sha256Hash(body).String(); got != l.Digest {
			t.Fatalf("signature payload: digest %s, want %s", got, l.Digest)
		}
		var payload struct {
			Critical struct {
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
			} `json:"critical"`
		}
		if err := json.Unmarshal(body, &payload); err != nil {
			t.Fatalf("signature payload: %v\n%s", err, body)
		}
		if payload.Critical.Image.Digest != signed {
			t.Errorf("signature payload names %s, want %s", payload.Critical.Image.Digest, signed)
		}
	})

	t.Run("verify with the right key", func(t *testing.T) {
		out, errOut, err := cosign.run(t, verify(keys["right"], signedRef)...)
		if err != nil {
			t.Fatalf("cosign verify: %v\n%s%s", err, out, errOut)
		}
		if !strings.Contains(out, signed) {
			t.Errorf("cosign verify output does not name %s:\n%s", signed, out)
		}
		if strings.Contains(errOut, "TUF") || strings.Contains(errOut, "tlog entry") {
			t.Errorf("cosign verify went online (TUF or transparency log):\n%s", errOut)
		}
	})

	t.Run("verify by tag", func(t *testing.T) {
		cosign.must(t, verify(keys["right"], s.host()+"/"+repo+":signed")...)
	})

	t.Run("verify with another key fails", func(t *testing.T) {
		out := cosign.mustFail(t, verify(keys["other"], signedRef)...)
		if !strings.Contains(strings.ToLower(out), "signature") {
			t.Errorf("cosign verify with another key printed %q, want a signature error", out)
		}
	})

	t.Run("verify of an unsigned image fails", func(t *testing.T) {
		out := cosign.mustFail(t, verify(keys["right"], s.host()+"/"+repo+"@"+unsigned)...)
		if !strings.Contains(strings.ToLower(out), "no signatures found") && !strings.Contains(strings.ToLower(out), "no matching signatures") {
			t.Errorf("cosign verify of an unsigned image printed %q, want no signatures found", out)
		}
	})
}
