package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// countingUpstream is a berth whose blob and manifest GETs are counted.
type countingUpstream struct {
	srv       *httptest.Server
	host      string
	mu        sync.Mutex
	blobGets  map[string]int // by digest
	manifests atomic.Int64   // GETs
	heads     atomic.Int64   // manifest HEADs
}

func startCountingUpstream(t *testing.T) *countingUpstream {
	t.Helper()
	a, _ := startApp(t, nil)
	u := &countingUpstream{blobGets: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:"):
			u.mu.Lock()
			u.blobGets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			u.mu.Unlock()
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/"):
			u.manifests.Add(1)
		case r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/"):
			u.heads.Add(1)
		}
		a.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	u.host = strings.TrimPrefix(u.srv.URL, "http://")
	return u
}

func (u *countingUpstream) blobGetsOf(d v1.Hash) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.blobGets[d.String()]
}

// setUpProxy makes project a proxy of upstream on the berth at base.
func setUpProxy(t *testing.T, base, project, upstream string, ttl time.Duration) {
	t.Helper()
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/projects", `{"name":"`+project+`"}`, nil); code != 201 {
		t.Fatalf("create project %s: %d", project, code)
	}
	body := fmt.Sprintf(`{"url":"%s","username":"admin","password":"%s","ttl_seconds":%d}`, upstream, testAdminPassword, int(ttl/time.Second))
	if code := apiCall(t, base, "admin", testAdminPassword, "PUT", "/projects/"+project+"/proxy", body, nil); code != 200 {
		t.Fatalf("proxy %s: %d", project, code)
	}
}

// pullManifest GETs a manifest as the admin and returns status, headers
// and body.
func pullManifest(t *testing.T, base, repo, ref string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v2/"+repo+"/manifests/"+ref, nil)
	req.SetBasicAuth("admin", testAdminPassword)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func pushRandom(t *testing.T, ref string) v1.Image {
	t.Helper()
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, ref), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullThroughCache(t *testing.T) {
	up := startCountingUpstream(t)
	a, cache := startApp(t, nil)
	setUpProxy(t, cache, "hub", up.srv.URL, time.Second)
	cacheHost := strings.TrimPrefix(cache, "http://")

	img := pushRandom(t, up.host+"/library/alpine:3")
	want, _ := img.Digest()
	idx, _, _ := signedIndex(t, up.host+"/library/multi", "1")
	idxDigest, _ := idx.Digest()

	t.Run("first pull fetches and serves the image, then it is cached", func(t *testing.T) {
		got, err := remote.Image(mustRef(t, cacheHost+"/hub/library/alpine:3"), asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("digest through the cache = %s, want %s", d, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("image through the cache: %v", err)
		}
		layers, _ := img.Layers()
		for _, l := range layers {
			d, _ := l.Digest()
			if n := up.blobGetsOf(d); n != 1 {
				t.Errorf("upstream served layer %s %d times, want 1", d, n)
			}
		}
		// Pulled again: nothing more from the upstream.
		got, _ = remote.Image(mustRef(t, cacheHost+"/hub/library/alpine@"+want.String()), asAdmin)
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, _ := l.Digest()
			if n := up.blobGetsOf(d); n != 1 {
				t.Errorf("after a second pull the upstream served layer %s %d times, want 1", d, n)
			}
		}
		var used int64
		if err := a.meta.View(context.Background(), func(r meta.Reader) error {
			var err error
			used, err = r.ProjectUsage("hub")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if size := mustSize(t, img); used < size {
			t.Errorf("usage of hub = %d, want at least the image's %d bytes", used, size)
		}
	})

	t.Run("concurrent misses of one blob make one upstream download", func(t *testing.T) {
		big := pushRandom(t, up.host+"/library/big:1")
		layers, _ := big.Layers()
		d, _ := layers[0].Digest()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := remote.Layer(mustRef(t, cacheHost+"/hub/library/big@"+d.String()).(name.Digest), asAdmin)
				if err != nil {
					errs <- err
					return
				}
				rc, err := l.Compressed()
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				h := sha256.New()
				if _, err := io.Copy(h, rc); err != nil {
					errs <- err
					return
				}
				if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d.String() {
					errs <- fmt.Errorf("read %s, want %s", got, d)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := up.blobGetsOf(d); n != 1 {
			t.Errorf("20 concurrent pulls made %d upstream downloads, want 1", n)
		}
	})

	t.Run("an index is cached sparse: children when asked for", func(t *testing.T) {
		if code, h, _ := pullManifest(t, cache, "hub/library/multi", "1"); code != 200 || h.Get("Docker-Content-Digest") != idxDigest.String() {
			t.Fatalf("index through the cache: %d %s", code, h.Get("Docker-Content-Digest"))
		}
		im, _ := idx.IndexManifest()
		first, second := im.Manifests[0].Digest, im.Manifests[1].Digest
		if code, h, _ := pullManifest(t, cache, "hub/library/multi", first.String()); code != 200 || h.Get("X-Berth-Cache") != "miss" {
			t.Fatalf("child through the cache: %d %v", code, h)
		}
		if code, h, _ := pullManifest(t, cache, "hub/library/multi", first.String()); code != 200 || h.Get("X-Berth-Cache") != "hit" {
			t.Fatalf("child again: %d %v", code, h)
		}
		err := a.meta.View(context.Background(), func(r meta.Reader) error {
			_, err := r.Manifest("hub/library/multi", digest.Digest(second.String()))
			return err
		})
		if !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("the platform nobody pulled is cached (err %v)", err)
		}
	})

	t.Run("pushes into a proxy project are refused", func(t *testing.T) {
		err := remote.Write(mustRef(t, cacheHost+"/hub/library/alpine:mine"), img, asAdmin)
		if err == nil || !strings.Contains(err.Error(), "DENIED") {
			t.Fatalf("push into the cache: %v, want DENIED", err)
		}
	})

	t.Run("a tag changed upstream is seen after the TTL", func(t *testing.T) {
		next := pushRandom(t, up.host+"/library/alpine:3")
		nd, _ := next.Digest()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, h, _ := pullManifest(t, cache, "hub/library/alpine", "3")
			if code == 200 && h.Get("Docker-Content-Digest") == nd.String() {
				if c := h.Get("X-Berth-Cache"); c != "miss" {
					t.Errorf("X-Berth-Cache of the moved tag = %q, want miss", c)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cache still serves %s (%d) 10 s after the tag moved; TTL is 1 s", h.Get("Docker-Content-Digest"), code)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Pull the new image whole, so its layers are cached too.
		got, err := remote.Image(mustRef(t, cacheHost+"/hub/library/alpine@"+nd.String()), asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatal(err)
		}
		heads := up.heads.Load()
		time.Sleep(1100 * time.Millisecond)
		if code, h, _ := pullManifest(t, cache, "hub/library/alpine", "3"); code != 200 || h.Get("X-Berth-Cache") != "revalidated" {
			t.Errorf("after the TTL: %d, X-Berth-Cache %q, want revalidated", code, h.Get("X-Berth-Cache"))
		}
		if up.heads.Load() == heads {
			t.Error("revalidation sent no HEAD upstream")
		}
	})

	t.Run("ns= moves a pull on the main listener into the proxy project", func(t *testing.T) {
		code, h, _ := pullManifest(t, cache, "library/alpine", "3?ns="+up.host)
		if code != 200 || h.Get("X-Berth-Cache") == "" {
			t.Fatalf("GET library/alpine:3?ns=%s: %d %v", up.host, code, h)
		}
		if code, _, _ := pullManifest(t, cache, "library/alpine", "3?ns=elsewhere.example"); code != 404 {
			t.Errorf("ns of a registry nobody caches on the main listener: %d, want 404 (library/alpine is not here)", code)
		}
	})

	t.Run("with the upstream down, cached tags are served stale", func(t *testing.T) {
		up.srv.Close()
		time.Sleep(1100 * time.Millisecond) // past the TTL
		code, h, _ := pullManifest(t, cache, "hub/library/alpine", "3")
		if code != 200 || h.Get("X-Berth-Cache") != "stale" || !strings.HasPrefix(h.Get("Warning"), "110 ") {
			t.Fatalf("cached tag with the upstream down: %d, X-Berth-Cache %q, Warning %q", code, h.Get("X-Berth-Cache"), h.Get("Warning"))
		}
		got, err := remote.Image(mustRef(t, cacheHost+"/hub/library/alpine:3"), asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("image with the upstream down: %v", err)
		}
		code, _, body := pullManifest(t, cache, "hub/library/never", "1")
		if code != http.StatusBadGateway || !strings.Contains(body, "UPSTREAM_UNAVAILABLE") {
			t.Errorf("uncached with the upstream down: %d %s", code, body)
		}
	})
}

// TestRegistryMirror: the mirror listener serves library/... of the
// configured proxy project, as Docker's registry-mirrors asks for it.
func TestRegistryMirror(t *testing.T) {
	up := startCountingUpstream(t)
	a, cache := startApp(t, func(c *config.Config) {
		c.Proxy.Mirror = config.Mirror{Addr: "127.0.0.1:0", Project: "dockerhub"}
	})
	setUpProxy(t, cache, "dockerhub", up.srv.URL, 0)
	img := pushRandom(t, up.host+"/library/busybox:latest")
	want, _ := img.Digest()
	mirror := httptest.NewServer(a.MirrorHandler())
	t.Cleanup(mirror.Close)
	got, err := remote.Image(mustRef(t, strings.TrimPrefix(mirror.URL, "http://")+"/library/busybox:latest"), asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("digest through the mirror = %s, want %s", d, want)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}
	// What the mirror cached is in the proxy project on the main listener.
	if code, h, _ := pullManifest(t, cache, "dockerhub/library/busybox", "latest"); code != 200 || h.Get("X-Berth-Cache") != "hit" {
		t.Errorf("dockerhub/library/busybox on the main listener: %d %q", code, h.Get("X-Berth-Cache"))
	}
	if code, _, _ := pullManifest(t, strings.TrimSuffix(mirror.URL, "/"), "library/busybox", "latest?ns=quay.io"); code != 404 {
		t.Errorf("ns of a registry the mirror does not cache: %d, want 404", code)
	}
}
