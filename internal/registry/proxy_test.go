package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// fakeOrigin is an upstream in memory: tags, manifests and blobs, with
// counters and a switch that makes it fail.
type fakeOrigin struct {
	mu        sync.Mutex
	tags      map[string]digest.Digest
	manifests map[digest.Digest][]byte
	blobs     map[digest.Digest][]byte
	down      bool
	gate      chan struct{} // when set, blob reads wait for it
	resolves  atomic.Int64
	fetches   atomic.Int64
	blobGets  atomic.Int64
}

func newFakeOrigin() *fakeOrigin {
	return &fakeOrigin{tags: map[string]digest.Digest{}, manifests: map[digest.Digest][]byte{}, blobs: map[digest.Digest][]byte{}}
}

func (o *fakeOrigin) Origin(_ context.Context, repo string) (Origin, bool, error) {
	if !strings.HasPrefix(repo, "hub/") {
		return nil, false, nil
	}
	return o, true, nil
}

func (o *fakeOrigin) String() string     { return "fake://upstream" }
func (o *fakeOrigin) TTL() time.Duration { return time.Minute }

var errDown = errors.New("connection refused")

func (o *fakeOrigin) Resolve(_ context.Context, tag string) (digest.Digest, error) {
	o.resolves.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return "", errDown
	}
	d, ok := o.tags[tag]
	if !ok {
		return "", ErrUpstreamNotFound
	}
	return d, nil
}

func (o *fakeOrigin) Manifest(_ context.Context, ref string) ([]byte, string, error) {
	o.fetches.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return nil, "", errDown
	}
	d, ok := o.tags[ref]
	if !ok {
		d = digest.Digest(ref)
	}
	b, ok := o.manifests[d]
	if !ok {
		return nil, "", fmt.Errorf("%w: %s", ErrUpstreamNotFound, ref)
	}
	return b, "application/vnd.oci.image.manifest.v1+json", nil
}

func (o *fakeOrigin) Blob(_ context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	o.blobGets.Add(1)
	o.mu.Lock()
	b, ok := o.blobs[d]
	down, gate := o.down, o.gate
	o.mu.Unlock()
	if down {
		return nil, 0, errDown
	}
	if !ok {
		return nil, 0, ErrUpstreamNotFound
	}
	if gate != nil {
		// Half now, the rest when the gate opens: readers join mid-way.
		return io.NopCloser(io.MultiReader(bytes.NewReader(b[:len(b)/2]), gatedReader{gate, bytes.NewReader(b[len(b)/2:])})), int64(len(b)), nil
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

type gatedReader struct {
	gate chan struct{}
	r    io.Reader
}

func (g gatedReader) Read(p []byte) (int, error) {
	<-g.gate
	return g.r.Read(p)
}

func (o *fakeOrigin) StatBlob(_ context.Context, d digest.Digest) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return 0, errDown
	}
	b, ok := o.blobs[d]
	if !ok {
		return 0, ErrUpstreamNotFound
	}
	return int64(len(b)), nil
}

// image adds an image of one layer under tag and returns its digests.
func (o *fakeOrigin) image(t *testing.T, tag string, layer []byte) (m, l digest.Digest) {
	t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	l, c := digest.FromBytes(layer), digest.FromBytes(cfg)
	body := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`, c, len(cfg), l, len(layer)))
	m = digest.FromBytes(body)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tags[tag] = m
	o.manifests[m] = body
	o.blobs[l], o.blobs[c] = layer, cfg
	return m, l
}

func (o *fakeOrigin) setDown(down bool) {
	o.mu.Lock()
	o.down = down
	o.mu.Unlock()
}

func TestPullThroughTags(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	up := newFakeOrigin()
	now := time.Unix(1700000000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	svc := st.service(Options{Upstream: up, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	first, _ := up.image(t, "latest", randomBytes(t, 1000))

	pull := func(t *testing.T, wantDigest digest.Digest, wantStatus CacheStatus) {
		t.Helper()
		m, status, err := svc.PullManifest(ctx, "hub/app", Reference{Tag: "latest"})
		if err != nil {
			t.Fatal(err)
		}
		if m.Digest != wantDigest || status != wantStatus {
			t.Fatalf("pull latest = %s (%s), want %s (%s)", m.Digest, status, wantDigest, wantStatus)
		}
	}
	steps := []struct {
		name     string
		act      func()
		digest   *digest.Digest
		status   CacheStatus
		resolves int64
	}{
		{"first pull fetches", func() {}, &first, CacheMiss, 0},
		{"within the TTL: from the cache, no upstream request", func() { advance(59 * time.Second) }, &first, CacheHit, 0},
		{"past the TTL: a HEAD confirms it", func() { advance(2 * time.Second) }, &first, CacheRevalidated, 1},
		{"confirmed: the TTL starts again", func() { advance(30 * time.Second) }, &first, CacheHit, 1},
		{"upstream down past the TTL: stale", func() { up.setDown(true); advance(time.Minute) }, &first, CacheStale, 2},
		{"stale again while down (not confirmed)", func() { advance(time.Second) }, &first, CacheStale, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.act()
			pull(t, *s.digest, s.status)
			if n := up.resolves.Load(); n != s.resolves {
				t.Errorf("upstream HEADs = %d, want %d", n, s.resolves)
			}
		})
	}
	t.Run("the tag moved upstream: the new manifest, the tag moved", func(t *testing.T) {
		up.setDown(false)
		second, _ := up.image(t, "latest", randomBytes(t, 1000))
		pull(t, second, CacheMiss)
		m, err := svc.GetManifest(ctx, "hub/app", Reference{Tag: "latest"})
		if err != nil || m.Digest != second {
			t.Fatalf("the cache's tag = %s, %v; want %s", m.Digest, err, second)
		}
		// The old manifest stays, untagged, for GC to judge.
		if _, err := svc.GetManifest(ctx, "hub/app", Reference{Digest: first}); err != nil {
			t.Errorf("old manifest: %v", err)
		}
	})
	t.Run("digests are never revalidated", func(t *testing.T) {
		up.setDown(true)
		advance(time.Hour)
		before := up.resolves.Load()
		if _, status, err := svc.PullManifest(ctx, "hub/app", Reference{Digest: first}); err != nil || status != CacheHit {
			t.Fatalf("by digest: %s, %v", status, err)
		}
		if up.resolves.Load() != before {
			t.Error("a pull by digest asked the upstream")
		}
	})
	t.Run("uncached with the upstream down: UPSTREAM_UNAVAILABLE; missing upstream: MANIFEST_UNKNOWN", func(t *testing.T) {
		_, _, err := svc.PullManifest(ctx, "hub/other", Reference{Tag: "x"})
		if codeOf(err) != "UPSTREAM_UNAVAILABLE" {
			t.Errorf("down: %v", err)
		}
		up.setDown(false)
		_, _, err = svc.PullManifest(ctx, "hub/other", Reference{Tag: "x"})
		if codeOf(err) != "MANIFEST_UNKNOWN" {
			t.Errorf("missing upstream: %v", err)
		}
	})
	t.Run("repositories outside proxy projects never reach the upstream", func(t *testing.T) {
		fetches := up.fetches.Load()
		if _, status, err := svc.PullManifest(ctx, "team/app", Reference{Tag: "latest"}); codeOf(err) != "MANIFEST_UNKNOWN" || status != "" {
			t.Errorf("team/app: %s, %v", status, err)
		}
		if up.fetches.Load() != fetches {
			t.Error("a plain repository asked the upstream")
		}
	})
}

func TestPullThroughBlobs(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	up := newFakeOrigin()
	svc := st.service(Options{Upstream: up, SpoolDir: t.TempDir()})
	layer := randomBytes(t, 3<<20+5)
	m, l := up.image(t, "v1", layer)
	if _, _, err := svc.PullManifest(ctx, "hub/app", Reference{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}

	t.Run("concurrent misses share one download, each reader gets every byte", func(t *testing.T) {
		gate := make(chan struct{})
		up.mu.Lock()
		up.gate = gate
		up.mu.Unlock()
		const readers = 12
		var wg sync.WaitGroup
		got := make([][]byte, readers)
		errs := make([]error, readers)
		started := make(chan struct{}, readers)
		for i := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc, size, _, err := svc.PullBlob(ctx, "hub/app", l)
				started <- struct{}{}
				if err != nil {
					errs[i] = err
					return
				}
				defer rc.Close()
				if size != int64(len(layer)) {
					errs[i] = fmt.Errorf("size %d", size)
				}
				got[i], errs[i] = io.ReadAll(rc)
			}()
		}
		for range readers {
			<-started
		}
		close(gate) // every reader joined before the second half arrives
		wg.Wait()
		for i := range readers {
			if errs[i] != nil || !bytes.Equal(got[i], layer) {
				t.Fatalf("reader %d: %d bytes, %v", i, len(got[i]), errs[i])
			}
		}
		if n := up.blobGets.Load(); n != 1 {
			t.Errorf("upstream blob downloads = %d, want 1", n)
		}
		up.mu.Lock()
		up.gate = nil
		up.mu.Unlock()
	})
	t.Run("once fetched it is stored and linked: served without the upstream", func(t *testing.T) {
		up.setDown(true)
		defer up.setDown(false)
		rc, info, err := svc.OpenBlob(ctx, "hub/app", l)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		if info.Size != int64(len(layer)) || !bytes.Equal(b, layer) {
			t.Fatalf("stored blob: %d bytes", len(b))
		}
		var used int64
		if err := st.meta.View(ctx, func(r meta.Reader) error {
			var err error
			used, err = r.ProjectUsage("hub")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if used < int64(len(layer)) {
			t.Errorf("usage of hub = %d after the layer was cached, want at least %d", used, len(layer))
		}
	})
	t.Run("a corrupt upstream blob ends the read with an error and is not stored", func(t *testing.T) {
		bad := randomBytes(t, 4096)
		d := digest.FromBytes(bad)
		up.mu.Lock()
		up.blobs[d] = append([]byte{}, bad...)
		up.blobs[d][10] ^= 0xff
		up.mu.Unlock()
		rc, _, _, err := svc.PullBlob(ctx, "hub/app", d)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if err == nil {
			t.Fatal("a corrupt blob was read to the end without error")
		}
		if _, err := st.blobs.Stat(ctx, d); err == nil {
			t.Error("the corrupt blob was stored")
		}
	})
	t.Run("pushes into a proxy project are refused", func(t *testing.T) {
		if _, err := svc.StartUpload(ctx, "hub/app", ""); codeOf(err) != "DENIED" {
			t.Errorf("upload: %v", err)
		}
		body, _, _ := up.Manifest(ctx, m.String())
		if _, err := svc.PutManifest(ctx, "hub/app", Reference{Tag: "mine"}, "application/vnd.oci.image.manifest.v1+json", body, nil); codeOf(err) != "DENIED" {
			t.Errorf("manifest: %v", err)
		}
	})
	t.Run("a blob stored for another repository is linked once the upstream confirms it", func(t *testing.T) {
		before := up.blobGets.Load()
		rc, _, status, err := svc.PullBlob(ctx, "hub/other", l)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if status != CacheHit || !bytes.Equal(b, layer) || up.blobGets.Load() != before {
			t.Errorf("status %s, %d bytes, %d downloads", status, len(b), up.blobGets.Load()-before)
		}
		up.mu.Lock()
		delete(up.blobs, l)
		up.mu.Unlock()
		if _, _, _, err := svc.PullBlob(ctx, "hub/third", l); codeOf(err) != "BLOB_UNKNOWN" {
			t.Errorf("a blob the upstream repository lacks was served from another one: %v", err)
		}
	})
}
