// This file drives berth with go-containerregistry's remote package as a
// real client and checks what it pulls with its validate package.

package conformance

import (
	"net/http"
	"slices"
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
)

func TestGoContainerRegistry(t *testing.T) {
	reg := newRegistry(t)
	repo := reg.repo(t, "gcr")
	// Through berth's token service: a 401 with the Bearer challenge, a
	// token for the scope, then the request again.
	opts := []remote.Option{remote.WithTransport(http.DefaultTransport), remote.WithAuth(&authn.Basic{Username: reg.user, Password: reg.password})}
	ref := func(t *testing.T, r, tagOrDigest string) name.Reference {
		t.Helper()
		sep := ":"
		if len(tagOrDigest) > 7 && tagOrDigest[:7] == "sha256:" {
			sep = "@"
		}
		n, err := name.ParseReference(reg.base.Host+"/"+r+sep+tagOrDigest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	imgDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("remote.Write then remote.Image round-trips and validates", func(t *testing.T) {
		if err := remote.Write(ref(t, repo, "v1"), img, opts...); err != nil {
			t.Fatalf("remote.Write: %v", err)
		}
		got, err := remote.Image(ref(t, repo, "v1"), opts...)
		if err != nil {
			t.Fatalf("remote.Image: %v", err)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("validate.Image: %v", err)
		}
		d, err := got.Digest()
		if err != nil || d != imgDigest {
			t.Errorf("pulled digest %v (%v), want %v", d, err, imgDigest)
		}
	})

	t.Run("second repository push (mount path) round-trips", func(t *testing.T) {
		other := reg.repo(t, "gcr-other")
		// go-containerregistry mounts layers from the image's source
		// repository when it was pulled from the same registry.
		src, err := remote.Image(ref(t, repo, "v1"), opts...)
		if err != nil {
			t.Fatalf("remote.Image: %v", err)
		}
		if err := remote.Write(ref(t, other, "copy"), src, opts...); err != nil {
			t.Fatalf("remote.Write: %v", err)
		}
		got, err := remote.Image(ref(t, other, imgDigest.String()), opts...)
		if err != nil {
			t.Fatalf("remote.Image: %v", err)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("validate.Image: %v", err)
		}
	})

	t.Run("index round-trips and validates", func(t *testing.T) {
		idx, err := random.Index(512, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(ref(t, repo, "multi"), idx, opts...); err != nil {
			t.Fatalf("remote.WriteIndex: %v", err)
		}
		got, err := remote.Index(ref(t, repo, "multi"), opts...)
		if err != nil {
			t.Fatalf("remote.Index: %v", err)
		}
		if err := validate.Index(got); err != nil {
			t.Errorf("validate.Index: %v", err)
		}
	})

	t.Run("referrers through remote.Referrers", func(t *testing.T) {
		sig := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.MediaType(mtOCIEmpty)), types.OCIManifestSchema1)
		sig = mutate.Annotations(sig, map[string]string{"org.example": "sig"}).(v1.Image)
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		subject := v1.Descriptor{MediaType: mf.MediaType, Digest: imgDigest, Size: int64(len(raw))}
		withSubject := mutate.Subject(sig, subject).(v1.Image)
		sd, err := withSubject.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref(t, repo, sd.String()), withSubject, opts...); err != nil {
			t.Fatalf("remote.Write: %v", err)
		}
		d, err := name.NewDigest(reg.base.Host+"/"+repo+"@"+imgDigest.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Referrers(d, opts...)
		if err != nil {
			t.Fatalf("remote.Referrers: %v", err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 1 || im.Manifests[0].Digest != sd {
			t.Errorf("referrers %+v, want just %v", im.Manifests, sd)
		}
	})

	t.Run("remote.List and remote.Delete", func(t *testing.T) {
		tags, err := remote.List(ref(t, repo, "v1").Context(), opts...)
		if err != nil {
			t.Fatalf("remote.List: %v", err)
		}
		if !slices.Equal(tags, []string{"multi", "v1"}) {
			t.Errorf("tags %q, want [multi v1]", tags)
		}
		if err := remote.Delete(ref(t, repo, imgDigest.String()), opts...); err != nil {
			t.Fatalf("remote.Delete: %v", err)
		}
		if _, err := remote.Image(ref(t, repo, "v1"), opts...); err == nil {
			t.Errorf("image still pullable by tag after delete by digest")
		}
	})
}
