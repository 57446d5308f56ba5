package app

import (
	"context"
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

	"github.com/berth-registry/berth/internal/transfer"
)

// signedIndex pushes to repo:tag a two-platform OCI index, an SBOM whose
// subject is the index (found through the referrers API) and a
// cosign-style signature tag sha256-<hex>.sig. It returns the index.
func signedIndex(t *testing.T, repo, tag string) (idx v1.ImageIndex, sbom, sig v1.Image) {
	t.Helper()
	idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img, err := random.Image(8<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if err := remote.WriteIndex(mustRef(t, repo+":"+tag), idx, asAdmin); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	raw, _ := idx.RawManifest()
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: int64(len(raw))}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.example.sbom")
	sbom = mutate.Subject(base, subject).(v1.Image)
	sd, _ := sbom.Digest()
	if err := remote.Write(mustRef(t, repo+"@"+sd.String()), sbom, asAdmin); err != nil {
		t.Fatal(err)
	}
	sig, _ = random.Image(512, 1)
	if err := remote.Write(mustRef(t, repo+":"+strings.Replace(d.String(), ":", "-", 1)+".sig"), sig, asAdmin); err != nil {
		t.Fatal(err)
	}
	return idx, sbom, sig
}

func headAs(t *testing.T, ref string) v1.Hash {
	t.Helper()
	d, err := remote.Head(mustRef(t, ref), asAdmin)
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest
}

// TestTransferBetweenBerths copies between two berth servers with the
// engine behind `berth copy` and `berth sync`.
func TestTransferBetweenBerths(t *testing.T) {
	ctx := context.Background()
	a, b := newServer(t), newServer(t)
	admin := &authn.Basic{Username: "admin", Password: testAdminPassword}
	opts := transfer.Options{Src: transfer.Endpoint{Auth: admin}, Dst: transfer.Endpoint{Auth: admin}}
	idx, sbom, sig := signedIndex(t, a+"/team/app", "v1")
	idxDigest, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	sigTag := strings.Replace(idxDigest.String(), ":", "-", 1) + ".sig"

	rep, err := transfer.Copy(ctx, mustRef(t, a+"/team/app:v1"), mustRef(t, b+"/mirror/app:v1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("index with all platforms, digests kept", func(t *testing.T) {
		if got := headAs(t, b+"/mirror/app:v1"); got != idxDigest {
			t.Fatalf("tag = %s, want %s", got, idxDigest)
		}
		for _, m := range im.Manifests {
			img, err := remote.Image(mustRef(t, b+"/mirror/app@"+m.Digest.String()), asAdmin)
			if err != nil {
				t.Fatalf("platform %s: %v", m.Platform, err)
			}
			if _, err := img.Layers(); err != nil {
				t.Fatal(err)
			}
		}
		// index, 2 images, SBOM, signature; 2×3 blobs, the SBOM's empty
		// config, the signature's config and layer.
		if rep.Manifests != 5 || rep.BlobsSent != 9 || rep.Tags != 2 {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("referrer and signature tag arrive", func(t *testing.T) {
		dref, _ := name.NewDigest(b + "/mirror/app@" + idxDigest.String())
		got, err := remote.Referrers(dref, asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		gm, _ := got.IndexManifest()
		sd, _ := sbom.Digest()
		if len(gm.Manifests) != 1 || gm.Manifests[0].Digest != sd {
			t.Fatalf("referrers = %+v", gm.Manifests)
		}
		if want, _ := sig.Digest(); headAs(t, b+"/mirror/app:"+sigTag) != want {
			t.Fatal("signature tag differs")
		}
	})
	t.Run("second copy sends nothing", func(t *testing.T) {
		rep, err := transfer.Copy(ctx, mustRef(t, a+"/team/app:v1"), mustRef(t, b+"/mirror/app:v1"), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.BlobsSent != 0 || rep.Manifests != 0 || rep.TagsUpToDate != 2 {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("within one berth, blobs are mounted", func(t *testing.T) {
		rep, err := transfer.Copy(ctx, mustRef(t, a+"/team/app:v1"), mustRef(t, a+"/other/app:v1"), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.BlobsSent != 0 || rep.BlobsMounted != 9 {
			t.Fatalf("report %+v", rep)
		}
		if headAs(t, a+"/other/app:v1") != idxDigest {
			t.Fatal("digest changed")
		}
	})
	t.Run("--platform", func(t *testing.T) {
		o := opts
		o.Platform = &v1.Platform{OS: "linux", Architecture: "arm64"}
		rep, err := transfer.Copy(ctx, mustRef(t, a+"/team/app:v1"), mustRef(t, b+"/arm/app:v1"), o)
		if err != nil {
			t.Fatal(err)
		}
		if got := headAs(t, b+"/arm/app:v1"); got != im.Manifests[1].Digest || rep.Images[0].Digest != got {
			t.Fatalf("arm64 copy = %s, want %s", got, im.Manifests[1].Digest)
		}
	})
	t.Run("sync: every tag, then up to date", func(t *testing.T) {
		img, _ := random.Image(1024, 1)
		if err := remote.Write(mustRef(t, a+"/team/app:v2"), img, asAdmin); err != nil {
			t.Fatal(err)
		}
		src, _ := name.NewRepository(a + "/team/app")
		dst, err := transfer.SyncDestination(src, b+"/synced")
		if err != nil || dst.String() != b+"/synced/app" {
			t.Fatalf("destination %v, %v", dst, err)
		}
		rep, err := transfer.CopyRepository(ctx, src, dst, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Images) != 3 { // v1, v2 and the signature tag
			t.Fatalf("images %+v", rep.Images)
		}
		rep, err = transfer.CopyRepository(ctx, src, dst, opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.BlobsSent != 0 || rep.Manifests != 0 || rep.Tags != 0 || rep.TagsUpToDate != 3 {
			t.Fatalf("second sync %+v", rep)
		}
	})
	t.Run("credentials refused", func(t *testing.T) {
		o := opts
		o.Dst.Auth = &authn.Basic{Username: "admin", Password: "wrong"}
		_, err := transfer.Copy(ctx, mustRef(t, a+"/team/app:v1"), mustRef(t, b+"/denied/app:v1"), o)
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Fatalf("err = %v", err)
		}
	})
}
