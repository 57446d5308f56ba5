package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/berth-registry/berth/internal/config"
)

// testAdminPassword is the admin password of the servers these tests start.
const testAdminPassword = "app-test-admin-secret"

// asAdmin makes go-containerregistry log in as the admin, through berth's
// token service.
var asAdmin = remote.WithAuth(&authn.Basic{Username: "admin", Password: testAdminPassword})

// startApp starts berth behind httptest on a temp data dir with the test
// admin password, after edit (nil: none) changes the configuration. It
// returns the App and the server's base URL; both stop when the test ends.
func startApp(t *testing.T, edit func(*config.Config)) (*App, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return a, srv.URL
}

// newServer starts berth and returns its host:port.
func newServer(t *testing.T) string {
	t.Helper()
	_, base := startApp(t, nil)
	return strings.TrimPrefix(base, "http://")
}

func TestPushPullWithGGCR(t *testing.T) {
	host := newServer(t)
	ctx := context.Background()
	img, err := random.Image(256<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/team/app:v1")
	if err := remote.Write(ref, img, remote.WithContext(ctx), asAdmin); err != nil {
		t.Fatalf("push: %v", err)
	}
	want, _ := img.Digest()

	t.Run("pull by tag validates", func(t *testing.T) {
		got, err := remote.Image(ref, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("digest %s, want %s", d, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pull by digest", func(t *testing.T) {
		dref, _ := name.ParseReference(host + "/team/app@" + want.String())
		got, err := remote.Image(dref, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("blob does not leak into another repository", func(t *testing.T) {
		layers, _ := img.Layers()
		ld, _ := layers[0].Digest()
		req, _ := http.NewRequest(http.MethodHead, "http://"+host+"/v2/other/blobs/"+ld.String(), nil)
		req.SetBasicAuth("admin", testAdminPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("HEAD in another repo = %d, want 404", resp.StatusCode)
		}
	})
	t.Run("mount into another repository", func(t *testing.T) {
		ref2, _ := name.ParseReference(host + "/team/copy:v1")
		if err := remote.Write(ref2, img, remote.WithContext(ctx), asAdmin); err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref2, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("catalog and tags", func(t *testing.T) {
		reg, _ := name.NewRegistry(host, name.Insecure)
		repos, err := remote.Catalog(ctx, reg, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(repos, ",") != "team/app,team/copy" {
			t.Fatalf("catalog = %v", repos)
		}
		tags, err := remote.List(ref.Context(), asAdmin)
		if err != nil || strings.Join(tags, ",") != "v1" {
			t.Fatalf("tags = %v, %v", tags, err)
		}
	})
	t.Run("index and referrers", func(t *testing.T) {
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
		iref, _ := name.ParseReference(host + "/team/app:multi")
		if err := remote.WriteIndex(iref, idx, asAdmin); err != nil {
			t.Fatal(err)
		}
		base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.MediaType("application/vnd.example.sig"))
		sig := mutate.Subject(base, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: want, Size: mustSize(t, img)}).(v1.Image)
		sref, _ := name.ParseReference(host + "/team/app:sig")
		if err := remote.Write(sref, sig, asAdmin); err != nil {
			t.Fatal(err)
		}
		dref, _ := name.NewDigest(host + "/team/app@" + want.String())
		got, err := remote.Referrers(dref, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		im, _ := got.IndexManifest()
		if len(im.Manifests) != 1 || im.Manifests[0].ArtifactType != "application/vnd.example.sig" {
			t.Fatalf("referrers = %+v", im.Manifests)
		}
	})
}

func mustSize(t *testing.T, img v1.Image) int64 {
	n, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
