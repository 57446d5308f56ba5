package transfer

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newRegistry starts go-containerregistry's in-memory registry, with or
// without the referrers API (without, it is like registry:2), and
// returns its host:port.
func newRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func repo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// platformImage is a random image whose config names its platform.
func platformImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// pushIndex pushes a two-platform index to r and returns it.
func pushIndex(t *testing.T, r name.Reference) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range []v1.Platform{amd64, arm64} {
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: platformImage(t, p), Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// headDigest is the digest r names, or fails the test.
func headDigest(t *testing.T, r name.Reference) v1.Hash {
	t.Helper()
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("HEAD %s: %v", r, err)
	}
	return d.Digest
}

// recorder is a Progress that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Update(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) kinds(k EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func TestCopyIndexWithReferrers(t *testing.T) {
	ctx := context.Background()
	src, dst := newRegistry(t, true), newRegistry(t, false)
	idx := pushIndex(t, ref(t, src+"/team/app:v1"))
	idxDigest := digestOf(t, idx)
	im, _ := idx.IndexManifest()
	armDigest := im.Manifests[1].Digest

	// An SBOM that names the arm64 image as its subject (found through the
	// referrers API), and a cosign-style signature tag on the index.
	sbom, _ := random.Image(512, 1)
	sbom = mutate.ConfigMediaType(sbom, "application/vnd.example.sbom+json")
	sbom = mutate.Subject(sbom, im.Manifests[1]).(v1.Image)
	if err := remote.Write(ref(t, src+"/team/app@"+digestOf(t, sbom).String()), sbom); err != nil {
		t.Fatal(err)
	}
	sig, _ := random.Image(256, 1)
	sigTag := strings.Replace(idxDigest.String(), ":", "-", 1) + ".sig"
	if err := remote.Write(ref(t, src+"/team/app:"+sigTag), sig); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	rep, err := Copy(ctx, ref(t, src+"/team/app:v1"), ref(t, dst+"/mirror/app:v1"), Options{Progress: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("digests kept, all platforms", func(t *testing.T) {
		if got := headDigest(t, ref(t, dst+"/mirror/app:v1")); got != idxDigest {
			t.Fatalf("destination tag = %s, want %s", got, idxDigest)
		}
		for _, m := range im.Manifests {
			if got := headDigest(t, ref(t, dst+"/mirror/app@"+m.Digest.String())); got != m.Digest {
				t.Errorf("child %s: got %s", m.Digest, got)
			}
		}
	})
	t.Run("report", func(t *testing.T) {
		// index + 2 images + sbom + signature; blobs: 2×(config+2 layers) + sbom (config+layer) + sig (config+layer)
		if rep.Manifests != 5 || rep.BlobsSent != 10 || rep.BlobsSkipped != 0 || rep.Tags != 2 {
			t.Fatalf("report %+v", rep)
		}
		if len(rep.Images) != 1 || rep.Images[0].Digest != idxDigest || rep.Images[0].UpToDate {
			t.Fatalf("images %+v", rep.Images)
		}
		if n := len(rec.kinds(BlobSent)); n != 10 {
			t.Errorf("%d blob-sent events, want 10", n)
		}
		if len(rec.kinds(BlobBytes)) == 0 || len(rec.kinds(BlobStart)) != 10 {
			t.Errorf("progress events missing: %d bytes, %d starts", len(rec.kinds(BlobBytes)), len(rec.kinds(BlobStart)))
		}
	})
	t.Run("subject referrer arrives (referrers tag schema on a registry without the API)", func(t *testing.T) {
		got, err := remote.Referrers(ref(t, dst+"/mirror/app@"+armDigest.String()).(name.Digest))
		if err != nil {
			t.Fatal(err)
		}
		gm, _ := got.IndexManifest()
		if len(gm.Manifests) != 1 || gm.Manifests[0].Digest != digestOf(t, sbom) {
			t.Fatalf("referrers at destination: %+v", gm.Manifests)
		}
	})
	t.Run("cosign signature tag arrives", func(t *testing.T) {
		if got := headDigest(t, ref(t, dst+"/mirror/app:"+sigTag)); got != digestOf(t, sig) {
			t.Fatalf("signature tag = %s", got)
		}
	})
	t.Run("second copy sends nothing", func(t *testing.T) {
		rep, err := Copy(ctx, ref(t, src+"/team/app:v1"), ref(t, dst+"/mirror/app:v1"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.BlobsSent != 0 || rep.Manifests != 0 || rep.Tags != 0 || rep.TagsUpToDate != 2 || !rep.Images[0].UpToDate {
			t.Fatalf("second copy: %+v", rep)
		}
	})
	t.Run("blobs the destination has are not sent", func(t *testing.T) {
		// The same index under another tag of another repository of the
		// in-memory registry (whose blobs are global): manifests are
		// written, no blob is sent.
		rep, err := Copy(ctx, ref(t, src+"/team/app:v1"), ref(t, dst+"/other/app:v2"), Options{SkipReferrers: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.BlobsSent != 0 || rep.BlobsSkipped != 6 || rep.Manifests != 3 {
			t.Fatalf("report %+v", rep)
		}
		if _, err := remote.Head(ref(t, dst+"/other/app:"+sigTag)); err == nil {
			t.Fatal("SkipReferrers copied the signature tag")
		}
	})
}

func TestCopyPlatform(t *testing.T) {
	ctx := context.Background()
	src, dst := newRegistry(t, true), newRegistry(t, true)
	idx := pushIndex(t, ref(t, src+"/app:multi"))
	im, _ := idx.IndexManifest()
	single := platformImage(t, amd64)
	if err := remote.Write(ref(t, src+"/app:single"), single); err != nil {
		t.Fatal(err)
	}
	artifact, _ := random.Image(256, 1) // its config names no platform
	if err := remote.Write(ref(t, src+"/app:artifact"), artifact); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		src      string
		platform v1.Platform
		want     v1.Hash
		wantErr  string
	}{
		{"arm64 out of the index", "app:multi", v1.Platform{OS: "linux", Architecture: "arm64"}, im.Manifests[1].Digest, ""},
		{"variant given", "app:multi", arm64, im.Manifests[1].Digest, ""},
		{"amd64", "app:multi", amd64, im.Manifests[0].Digest, ""},
		{"missing platform", "app:multi", v1.Platform{OS: "linux", Architecture: "s390x"}, v1.Hash{}, "has no image for linux/s390x (it has: linux/amd64, linux/arm64/v8)"},
		{"single image, matching", "app:single", amd64, digestOf(t, single), ""},
		{"single image, other platform", "app:single", arm64, v1.Hash{}, "is an image for linux/amd64, not linux/arm64/v8"},
		{"artifact without a platform", "app:artifact", arm64, digestOf(t, artifact), ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.platform
			to := ref(t, dst+"/copy:"+string(rune('a'+i)))
			rep, err := Copy(ctx, ref(t, src+"/"+tt.src), to, Options{Platform: &p})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := headDigest(t, to); got != tt.want {
				t.Fatalf("destination = %s, want %s", got, tt.want)
			}
			if rep.Images[0].Digest != tt.want {
				t.Fatalf("report digest %s", rep.Images[0].Digest)
			}
		})
	}
}

func TestCopyRepository(t *testing.T) {
	ctx := context.Background()
	src, dst := newRegistry(t, true), newRegistry(t, true)
	want := map[string]v1.Hash{}
	for _, tag := range []string{"1.0", "1.1", "latest"} {
		img, _ := random.Image(1024, 1)
		if err := remote.Write(ref(t, src+"/tools/app:"+tag), img); err != nil {
			t.Fatal(err)
		}
		want[tag] = digestOf(t, img)
	}
	// latest and 1.1 name the same image.
	img11, _ := remote.Image(ref(t, src+"/tools/app:1.1"))
	if err := remote.Write(ref(t, src+"/tools/app:latest"), img11); err != nil {
		t.Fatal(err)
	}
	want["latest"] = want["1.1"]

	rep, err := CopyRepository(ctx, repo(t, src+"/tools/app"), repo(t, dst+"/app"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for tag, d := range want {
		if got := headDigest(t, ref(t, dst+"/app:"+tag)); got != d {
			t.Errorf("%s = %s, want %s", tag, got, d)
		}
	}
	if rep.Tags != 3 || rep.Manifests != 2 || len(rep.Images) != 3 {
		t.Fatalf("report %+v", rep)
	}
	rep, err = CopyRepository(ctx, repo(t, src+"/tools/app"), repo(t, dst+"/app"), Options{})
	if err != nil || rep.TagsUpToDate != 3 || rep.BlobsSent+rep.Manifests+rep.Tags != 0 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	if _, err := CopyRepository(ctx, repo(t, src+"/nothing"), repo(t, dst+"/nothing"), Options{}); err == nil {
		t.Fatal("copying a repository without tags succeeded")
	}
}

func TestCopyErrors(t *testing.T) {
	ctx := context.Background()
	src, dst := newRegistry(t, true), newRegistry(t, true)
	img, _ := random.Image(512, 1)
	if err := remote.Write(ref(t, src+"/app:v1"), img); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		src, dst string
		opts     Options
		wantErr  string
	}{
		{"unknown tag", src + "/app:nope", dst + "/app:nope", Options{}, "MANIFEST_UNKNOWN"},
		{"destination digest differs", src + "/app:v1", dst + "/app@sha256:" + strings.Repeat("0", 64), Options{}, "the source's digest is"},
		{"nothing listens", "127.0.0.1:1/app:v1", dst + "/app:v1", Options{}, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Copy(ctx, ref(t, tt.src), ref(t, tt.dst), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	t.Run("by digest to a digest", func(t *testing.T) {
		d := digestOf(t, img).String()
		rep, err := Copy(ctx, ref(t, src+"/app@"+d), ref(t, dst+"/app@"+d), Options{})
		if err != nil || rep.Manifests != 1 || rep.Tags != 0 {
			t.Fatalf("%+v, %v", rep, err)
		}
		if got := headDigest(t, ref(t, dst+"/app@"+d)); got.String() != d {
			t.Fatal(got)
		}
	})
}

func TestCopyTLS(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	dst := newRegistry(t, true)
	img, _ := random.Image(512, 1)
	if err := remote.Write(ref(t, dst+"/seed:v1"), img); err != nil {
		t.Fatal(err)
	}
	t.Run("certificate not trusted", func(t *testing.T) {
		tlsHost := strings.TrimPrefix(srv.URL, "https://")
		// 127.0.0.1 tries HTTPS first: the test server's certificate is
		// not trusted by the default transport.
		_, err := Copy(ctx, ref(t, dst+"/seed:v1"), ref(t, tlsHost+"/app:v1"), Options{})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want a certificate error", err)
		}
		rep, err := Copy(ctx, ref(t, dst+"/seed:v1"), ref(t, tlsHost+"/app:v1"), Options{Dst: Endpoint{Insecure: true}})
		if err != nil || rep.Manifests != 1 {
			t.Fatalf("with Insecure: %+v, %v", rep, err)
		}
	})
}

func TestSyncDestination(t *testing.T) {
	tests := []struct {
		src, prefix, want, wantErr string
	}{
		{"registry.example/team/tools/app", "mirror.example/copies", "mirror.example/copies/app", ""},
		{"registry.example/app", "mirror.example", "mirror.example/app", ""},
		{"127.0.0.1:5000/a/b", "127.0.0.1:6000/x/", "127.0.0.1:6000/x/b", ""},
		{"registry.example/app", "mirror.example/x@sha256:00", "", "without a digest"},
		{"registry.example/app", "mirror.example/x:tag", "", "destination prefix"},
		{"registry.example/app", "", "", "destination prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.src+" "+tt.prefix, func(t *testing.T) {
			got, err := SyncDestination(repo(t, tt.src), tt.prefix)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestEventString(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: BlobSent, Repo: "r/app", Digest: d, Size: 1536}, "r/app: blob sha256:aaaa"},
		{Event{Kind: BlobSent, Repo: "r/app", Digest: d, Size: 1536}, "(1.5 KiB): sent"},
		{Event{Kind: BlobSkipped, Repo: "r/app", Digest: d, Size: 10}, "skipped, already there"},
		{Event{Kind: ManifestSent, Repo: "r/app", Tag: "v1", Digest: d, MediaType: types.OCIImageIndex}, "r/app:v1: manifest sha256:aaaa"},
		{Event{Kind: TagUpToDate, Repo: "r/app", Tag: "v1", Digest: d}, "r/app:v1: up to date"},
		{Event{Kind: Warning, Repo: "r/app", Note: "oops"}, "warning: oops"},
	}
	for _, tt := range tests {
		t.Run(tt.e.Kind.String(), func(t *testing.T) {
			if got := tt.e.String(); !strings.Contains(got, tt.want) {
				t.Fatalf("%q does not contain %q", got, tt.want)
			}
		})
	}
	if got := humanBytes(3 << 30); got != "3.0 GiB" {
		t.Errorf("humanBytes = %q", got)
	}
	if !slices.Contains([]string{"blob-sent"}, BlobSent.String()) {
		t.Errorf("BlobSent.String() = %q", BlobSent.String())
	}
}
