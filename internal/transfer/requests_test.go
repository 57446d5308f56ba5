package transfer

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// counted is a destination registry that counts the requests it answers,
// by kind: "ping", "HEAD blob <digest>", "PUT blob <digest>", "POST
// upload", "PATCH upload", "HEAD manifest", "PUT manifest". fail, when
// set, may answer a request itself (true) instead of the registry.
type counted struct {
	host string
	mu   sync.Mutex
	n    map[string]int
	fail func(w http.ResponseWriter, r *http.Request) bool
}

func newCounted(t *testing.T) *counted {
	t.Helper()
	c := &counted{n: map[string]int{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[requestKind(r)]++
		fail := c.fail
		c.mu.Unlock()
		if fail != nil && fail(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.host = strings.TrimPrefix(srv.URL, "http://")
	return c
}

func requestKind(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case strings.Contains(p, "/blobs/uploads/") && r.Method == http.MethodPut:
		return "PUT blob " + r.URL.Query().Get("digest")
	case strings.Contains(p, "/blobs/uploads/"):
		return r.Method + " upload"
	case strings.Contains(p, "/blobs/"):
		return r.Method + " blob " + p[strings.LastIndex(p, "/")+1:]
	case strings.Contains(p, "/manifests/"):
		return r.Method + " manifest"
	}
	return r.Method + " " + p
}

// take returns the counts so far and starts again from zero.
func (c *counted) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// blobDigests are an image's config and layer digests.
func blobDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ds := []v1.Hash{m.Config.Digest}
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

// TestCopyRequests pins the requests a copy sends to the destination per
// blob and per image: one HEAD per blob, then POST and PUT with the body
// (PATCH only for a blob above monolithicMax), one ping per copy.
func TestCopyRequests(t *testing.T) {
	small, err := random.Image(64<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	large, err := random.Image(monolithicMax+1, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		img   v1.Image
		setup func(t *testing.T, dst string) // before the copy, not counted
		// want per blob (config, then layers in order): HEAD, PUT.
		head, put []int
		// want in all.
		post, patch, manifestHeads, manifestPuts int
		sent, skipped                            int
	}{
		{name: "new image", img: small, head: []int{1, 1, 1, 1}, put: []int{1, 1, 1, 1},
			post: 4, manifestHeads: 2, manifestPuts: 1, sent: 4},
		{name: "a layer already there", img: small,
			setup: func(t *testing.T, dst string) {
				ls, err := small.Layers()
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.WriteLayer(repo(t, dst+"/team/app"), ls[1]); err != nil {
					t.Fatal(err)
				}
			},
			head: []int{1, 1, 1, 1}, put: []int{1, 1, 0, 1}, post: 3, manifestHeads: 2, manifestPuts: 1, sent: 3, skipped: 1},
		{name: "up to date", img: small,
			setup: func(t *testing.T, dst string) {
				if err := remote.Write(ref(t, dst+"/team/app:v1"), small); err != nil {
					t.Fatal(err)
				}
			},
			head: []int{0, 0, 0, 0}, put: []int{0, 0, 0, 0}, manifestHeads: 2},
		{name: "large blob streamed", img: large, head: []int{1, 1}, put: []int{1, 1},
			post: 2, patch: 1, manifestHeads: 2, manifestPuts: 1, sent: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newRegistry(t, false)
			dst := newCounted(t)
			if err := remote.Write(ref(t, src+"/team/app:v1"), tc.img); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, dst.host)
			}
			dst.take()
			rep, err := Copy(context.Background(), ref(t, src+"/team/app:v1"), ref(t, dst.host+"/team/app:v1"), Options{SkipReferrers: true})
			if err != nil {
				t.Fatal(err)
			}
			got := dst.take()
			for i, d := range blobDigests(t, tc.img) {
				if n := got["HEAD blob "+d.String()]; n != tc.head[i] {
					t.Errorf("blob %d: %d HEADs, want %d", i, n, tc.head[i])
				}
				if n := got["PUT blob "+d.String()]; n != tc.put[i] {
					t.Errorf("blob %d: %d PUTs, want %d", i, n, tc.put[i])
				}
			}
			for _, w := range []struct {
				kind string
				want int
			}{{"ping", 1}, {"POST upload", tc.post}, {"PATCH upload", tc.patch},
				{"HEAD manifest", tc.manifestHeads}, {"PUT manifest", tc.manifestPuts}} {
				if got[w.kind] != w.want {
					t.Errorf("%d × %s, want %d (all: %v)", got[w.kind], w.kind, w.want, got)
				}
			}
			if rep.BlobsSent != tc.sent || rep.BlobsSkipped != tc.skipped || rep.BlobsMounted != 0 {
				t.Errorf("report: %d sent, %d skipped, %d mounted; want %d, %d, 0", rep.BlobsSent, rep.BlobsSkipped, rep.BlobsMounted, tc.sent, tc.skipped)
			}
			if have := headDigest(t, ref(t, dst.host+"/team/app:v1")); have != digestOf(t, tc.img) {
				t.Errorf("the destination's v1 is %s", have)
			}
		})
	}
}

// TestConnectServesManyCopies: copies through one Connect-ed endpoint
// ping the destination once in all, and send its bytes through the
// endpoint's own transport (where a bandwidth limit sits).
func TestConnectServesManyCopies(t *testing.T) {
	src := newRegistry(t, false)
	dst := newCounted(t)
	var body atomic.Int64
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &countBody{ReadCloser: r.Body, n: &body}
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	reg, err := name.NewRegistry(dst.host)
	if err != nil {
		t.Fatal(err)
	}
	end, err := Connect(context.Background(), reg, Endpoint{Transport: base}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for i, tag := range []string{"a", "b", "c"} {
		img, err := random.Image(32<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref(t, src+"/team/app:"+tag), img); err != nil {
			t.Fatal(err)
		}
		rep, err := Copy(context.Background(), ref(t, src+"/team/app:"+tag), ref(t, dst.host+"/team/app:"+tag), Options{Dst: end, SkipReferrers: true})
		if err != nil || rep.BlobsSent != 3 {
			t.Fatalf("copy %d: %+v, %v", i, rep, err)
		}
		want += rep.BytesSent
	}
	if got := dst.take()["ping"]; got != 1 {
		t.Errorf("%d pings for three copies, want 1", got)
	}
	if body.Load() < want {
		t.Errorf("%d bytes went through the endpoint's transport, want at least the %d of the blobs", body.Load(), want)
	}
}

// TestCopyRetriesUpload: an upload the destination fails once (503 on the
// PUT) is done again from its HEAD, and the copy succeeds.
func TestCopyRetriesUpload(t *testing.T) {
	waits := retryWaits
	retryWaits = []time.Duration{time.Millisecond, time.Millisecond}
	t.Cleanup(func() { retryWaits = waits })
	tests := []struct {
		name     string
		failures int32
		ok       bool
	}{
		{"fails once", 1, true},
		{"fails every time", 100, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newRegistry(t, false)
			dst := newCounted(t)
			img, err := random.Image(16<<10, 1)
			if err != nil {
				t.Fatal(err)
			}
			layer := blobDigests(t, img)[1]
			var left atomic.Int32
			left.Store(tc.failures)
			dst.fail = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPut && r.URL.Query().Get("digest") == layer.String() && left.Add(-1) >= 0 {
					_, _ = io.Copy(io.Discard, r.Body)
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				return false
			}
			if err := remote.Write(ref(t, src+"/team/app:v1"), img); err != nil {
				t.Fatal(err)
			}
			dst.take()
			_, err = Copy(context.Background(), ref(t, src+"/team/app:v1"), ref(t, dst.host+"/team/app:v1"), Options{SkipReferrers: true})
			if (err == nil) != tc.ok {
				t.Fatalf("copy: %v, want ok=%v", err, tc.ok)
			}
			got := dst.take()
			wantPuts := 2
			if !tc.ok {
				wantPuts = 1 + len(retryWaits)
			}
			if got["PUT blob "+layer.String()] != wantPuts || got["HEAD blob "+layer.String()] != wantPuts {
				t.Errorf("layer: %d PUTs and %d HEADs, want %d each", got["PUT blob "+layer.String()], got["HEAD blob "+layer.String()], wantPuts)
			}
			if tc.ok && headDigest(t, ref(t, dst.host+"/team/app:v1")) != digestOf(t, img) {
				t.Error("the image did not arrive")
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type countBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
