//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The pull-through cache with the real Docker engine: scripts/test.sh
// starts the private dockerd with --registry-mirror http://$E2E_MIRROR_ADDR,
// and this test runs the caching berth's mirror listener there, in front of
// a second berth (the upstream, as Docker Hub would be). Nothing reaches
// the internet: a pull the mirror cannot serve fails.
func TestDockerRegistryMirror(t *testing.T) {
	requireBerth(t)
	mirrorAddr := os.Getenv("E2E_MIRROR_ADDR")
	if mirrorAddr == "" {
		t.Skip("E2E_MIRROR_ADDR is not set: the Docker engine has no registry mirror (scripts/test.sh sets both)")
	}
	requireDocker(t)
	scenario(t, "docker", "pull through berth as registry-mirrors (pull-through cache): first pull, upstream down, tag moved upstream")
	ctx := context.Background()

	upstream := startServer(t, serverOpts{})
	cache := startServer(t, serverOpts{Env: []string{
		"BERTH_PROXY_MIRROR_ADDR=" + mirrorAddr,
		"BERTH_PROXY_MIRROR_PROJECT=hub",
	}})
	apiCall(t, cache, "POST", "/api/v1/projects", map[string]any{"name": "hub", "public": true}, 201, nil)
	apiCall(t, cache, "PUT", "/api/v1/projects/hub/proxy", map[string]any{
		"url": "http://" + upstream.host(), "username": adminUser, "password": adminPassword, "ttl_seconds": 2,
	}, 200, nil)

	rng := newRand(t)
	repo := fmt.Sprintf("library/mirrored-%08x", rng.Uint32())
	short := strings.TrimPrefix(repo, "library/")
	img := randomImage(t, rng, 3, 16<<10, 256<<10)
	if err := pushImage(ctx, mustParse(t, upstream.host()+"/"+repo+":1"), img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	wantID, _ := img.ConfigName()
	t.Cleanup(func() { _, _ = dockerCLI(t, "rmi", "-f", short+":1") })

	pull := func(t *testing.T, wantDigest v1.Hash) {
		t.Helper()
		out := mustDocker(t, "pull", short+":1")
		if m := pullDigestRE.FindStringSubmatch(out); m == nil || m[1] != wantDigest.String() {
			t.Fatalf("docker pull %s:1 printed:\n%s\nwant Digest: %s", short, out, wantDigest)
		}
	}

	t.Run("docker pulls an image only the upstream has", func(t *testing.T) {
		pull(t, want)
		if got := imageID(t, short+":1"); got != wantID.String() {
			t.Errorf("image id %s, want %s", got, wantID)
		}
		// Cached in the proxy project, where the main listener shows it.
		if got := registryDigest(t, cache, "hub/"+repo, "1"); got != want.String() {
			t.Errorf("hub/%s:1 on the cache = %q, want %s", repo, got, want)
		}
	})

	t.Run("twenty concurrent pulls of an uncached image download each blob once upstream", func(t *testing.T) {
		other := fmt.Sprintf("library/crowd-%08x", rng.Uint32())
		crowd := randomImage(t, rng, 2, 512<<10, 1<<20)
		if err := pushImage(ctx, mustParse(t, upstream.host()+"/"+other+":1"), crowd); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := remote.Image(mustParse(t, mirrorAddr+"/"+other+":1"), remote.WithTransport(e2eTransport), registryAuth())
				if err == nil {
					err = validate.Image(got)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		layers, _ := crowd.Layers()
		for _, l := range layers {
			d, _ := l.Digest()
			if n := countAccess(t, upstream, "GET", "/v2/"+other+"/blobs/"+d.String()); n != 1 {
				t.Errorf("upstream served layer %s %d times for 20 concurrent pulls, want 1", d, n)
			}
		}
	})

	t.Run("with the upstream stopped the same pull still succeeds", func(t *testing.T) {
		upstream.stop()
		mustDocker(t, "rmi", "-f", short+":1")
		time.Sleep(2100 * time.Millisecond) // past the TTL: the tag is revalidated, and the upstream is gone
		pull(t, want)
		upstream.start()
	})

	t.Run("a tag changed upstream is seen after the TTL", func(t *testing.T) {
		next := randomImage(t, rng, 2, 16<<10, 64<<10)
		if err := pushImage(ctx, mustParse(t, upstream.host()+"/"+repo+":1"), next); err != nil {
			t.Fatal(err)
		}
		nd, _ := next.Digest()
		time.Sleep(2100 * time.Millisecond)
		pull(t, nd)
	})
}

// countAccess counts the access log lines of s for method and path
// answered 200.
func countAccess(t *testing.T, s *server, method, path string) int {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "method="+method+" ") && strings.Contains(line, "path="+path+" ") && strings.Contains(line, "status=200") {
			n++
		}
	}
	return n
}
