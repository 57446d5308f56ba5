//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const notarySignatureType = "application/vnd.cncf.notary.signature"

var notationDigestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// TestNotationSignVerify signs images with a test certificate (once through
// the referrers API, once with notation's default tag schema), verifies them
// against a strict trust policy, lists the signatures, and checks that an
// unsigned image fails verification.
func TestNotationSignVerify(t *testing.T) {
	scenario(t, "notation", "sign with a test certificate (referrers API and tag schema), strict trust policy, verify, list signatures; an unsigned image and an untrusted certificate fail")
	notation := newArtClient(t, "notation")
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	notation.login(t, s.host())
	const (
		repo    = "e2e/notation"
		keyName = "berth-e2e.test"
	)
	h := s.host()

	notation.must(t, "cert", "generate-test", "--default", keyName)
	notation.must(t, "policy", "import", "--force", notation.writeFile(t, "trustpolicy.json", trustPolicy(h+"/"+repo, keyName)))

	images := map[string]string{}
	for _, tag := range []string{"api", "tagschema", "unsigned"} {
		images[tag] = pushTestImage(t, s, repo, tag, randomImage(t, rng, 1, 4<<10, 16<<10))
	}
	ref := func(tag string) string { return h + "/" + repo + "@" + images[tag] }

	cases := []struct {
		tag        string
		signFlags  []string
		wantTagIdx bool // notation writes the referrers tag-schema index
	}{
		{"api", []string{"--force-referrers-tag=false"}, false},
		{"tagschema", nil, true},
	}
	for _, tc := range cases {
		t.Run("sign "+tc.tag, func(t *testing.T) {
			args := append([]string{"sign", "--insecure-registry"}, tc.signFlags...)
			out := notation.must(t, append(args, ref(tc.tag))...)
			if !strings.Contains(out, "Successfully signed "+ref(tc.tag)) {
				t.Errorf("notation sign printed %q", out)
			}
			sigs := storedReferrers(t, s, repo, images[tc.tag])
			if len(sigs) != 1 {
				t.Fatalf("berth's referrers API lists %v for the %s image, want one signature", sigs, tc.tag)
			}
			for d, at := range sigs {
				if at != notarySignatureType {
					t.Errorf("referrer %s has artifactType %q, want %q", d, at, notarySignatureType)
				}
				m, _ := registryManifest(t, s, repo, d)
				if m.Subject == nil || m.Subject.Digest != images[tc.tag] {
					t.Errorf("signature manifest %s: subject %+v, want %s", d, m.Subject, images[tc.tag])
				}
			}
			tags := registryTags(t, s, repo)
			// Without the referrers API, notation falls back to the tag schema.
			want := tc.wantTagIdx || !hasReferrersAPI(t)
			if got := slices.Contains(tags, fallbackTag(images[tc.tag])); got != want {
				t.Errorf("tags %v: fallback tag %s present = %v, want %v", tags, fallbackTag(images[tc.tag]), got, want)
			}
		})
	}

	for _, tc := range cases {
		t.Run("verify "+tc.tag, func(t *testing.T) {
			out := notation.must(t, "verify", "--insecure-registry", ref(tc.tag))
			if !strings.Contains(out, "Successfully verified signature for "+ref(tc.tag)) {
				t.Errorf("notation verify printed %q", out)
			}
		})
		t.Run("list "+tc.tag, func(t *testing.T) {
			out := notation.must(t, "ls", "--insecure-registry", ref(tc.tag))
			want := storedReferrers(t, s, repo, images[tc.tag])
			var got []string
			for _, d := range notationDigestRE.FindAllString(out, -1) {
				if d != images[tc.tag] {
					got = append(got, d)
				}
			}
			if !strings.Contains(out, notarySignatureType) || len(got) != len(want) {
				t.Fatalf("notation ls printed %q, want the %d signature(s) %v", out, len(want), want)
			}
			for _, d := range got {
				if _, ok := want[d]; !ok {
					t.Errorf("notation ls lists %s, not a signature berth knows (%v)", d, want)
				}
			}
		})
	}

	t.Run("verify of an unsigned image fails", func(t *testing.T) {
		out := notation.mustFail(t, "verify", "--insecure-registry", ref("unsigned"))
		if !strings.Contains(out, "no signature is associated") {
			t.Errorf("notation verify of an unsigned image printed %q, want no signature is associated", out)
		}
		if sigs := storedReferrers(t, s, repo, images["unsigned"]); len(sigs) != 0 {
			t.Errorf("berth lists referrers %v for the unsigned image", sigs)
		}
	})

	t.Run("verify against another certificate fails", func(t *testing.T) {
		// A second test certificate (not the signing key) becomes the only
		// trusted one.
		notation.must(t, "cert", "generate-test", "berth-e2e-other.test")
		notation.must(t, "policy", "import", "--force", notation.writeFile(t, "other-policy.json", trustPolicy(h+"/"+repo, "berth-e2e-other.test")))
		out := notation.mustFail(t, "verify", "--insecure-registry", ref("api"))
		if !strings.Contains(out, "signature verification failed") {
			t.Errorf("notation verify against another certificate printed %q, want signature verification failed", out)
		}
	})
}

// storedReferrers returns the referrers of digest the registry holds, by
// digest with their artifact types: from the referrers API, or from the
// tag-schema index when the target has no such API.
func storedReferrers(t *testing.T, s *server, repo, digest string) map[string]string {
	t.Helper()
	if hasReferrersAPI(t) {
		return registryReferrers(t, s, repo, digest, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, _, body, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/manifests/"+fallbackTag(digest), manifestAccept)
	if err != nil {
		t.Fatalf("GET referrers tag of %s: %v", digest, err)
	}
	out := map[string]string{}
	switch status {
	case http.StatusNotFound:
		return out
	case http.StatusOK:
	default:
		t.Fatalf("GET referrers tag of %s: status %d: %s", digest, status, body)
	}
	var idx ociManifest
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("referrers tag of %s: %v\n%s", digest, err, body)
	}
	for _, d := range idx.Manifests {
		out[d.Digest] = d.ArtifactType
	}
	return out
}

// trustPolicy is a notation trust policy document that trusts the test
// certificate cert for the repository scope, with strict verification.
func trustPolicy(scope, cert string) []byte {
	raw, err := json.Marshal(map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "berth-e2e",
			"registryScopes":        []string{scope},
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{"ca:" + cert},
			"trustedIdentities":     []string{"*"},
		}},
	})
	if err != nil {
		panic(err)
	}
	return raw
}
