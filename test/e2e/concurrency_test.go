//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestConcurrentPushesSharedLayer pushes twenty images at once, all sharing
// one layer, into four repositories, and checks every image and the shared
// layer in each repository afterwards.
func TestConcurrentPushesSharedLayer(t *testing.T) {
	scenario(t, "go-containerregistry", "twenty concurrent pushes sharing one layer into four repositories")
	const (
		pushes = 20
		repos  = 4
	)
	rng := newRand(t)
	s := startServer(t, serverOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	shared := randomLayer(t, rng, 2<<20)
	images := make([]pushedImage, pushes)
	imgs := make([]v1.Image, pushes)
	for i := range imgs {
		own := randomLayer(t, rng, 64<<10+rng.IntN(256<<10))
		imgs[i] = imageFromLayers(t, shared, own)
		images[i] = describeImage(t, fmt.Sprintf("conc/r%d", i%repos), fmt.Sprintf("t%02d", i), imgs[i])
	}

	// All goroutines start together so the shared layer's uploads overlap.
	start := make(chan struct{})
	errs := make([]error, pushes)
	var wg sync.WaitGroup
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = pushImage(ctx, tagRef(t, s.host(), images[i].Repo, images[i].Tag), imgs[i])
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("push %s: %v (status %d)", images[i], err, registryStatus(err))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, p := range images {
		if err := verifyImage(ctx, s.host(), p); err != nil {
			t.Error(err)
		}
	}
	sharedDigest, err := shared.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < repos; r++ {
		repo := fmt.Sprintf("conc/r%d", r)
		served, err := checkBlobGet(ctx, s, repo, sharedDigest)
		if err != nil {
			t.Error(err)
		} else if !served {
			t.Errorf("shared layer %s missing from %s", sharedDigest, repo)
		}
		var want []string
		for i := r; i < pushes; i += repos {
			want = append(want, images[i].Tag)
		}
		// Content only: the order is the conformance suite's business (and
		// the reference registry does not sort).
		got := tagList(t, ctx, s, repo)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s tags %q, want %q", repo, got, want)
		}
	}
}

// tagList returns the tags of repo from GET /v2/<repo>/tags/list, in the
// registry's order.
func tagList(t testing.TB, ctx context.Context, s *server, repo string) []string {
	t.Helper()
	status, _, body, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/tags/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET tags of %s: status %d: %s", repo, status, body)
	}
	var tl struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatalf("GET tags of %s: %v: %s", repo, err, body)
	}
	return tl.Tags
}
