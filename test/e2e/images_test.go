//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

var (
	seedOnce sync.Once
	seedVal  uint64
)

// newRand returns a generator seeded from E2E_SEED (or the clock), logging
// the seed so a failing run can be repeated.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seedOnce.Do(func() {
		seedVal = uint64(time.Now().UnixNano())
		if s := os.Getenv("E2E_SEED"); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err == nil {
				seedVal = v
			}
		}
	})
	t.Logf("E2E_SEED=%d", seedVal)
	return rand.New(rand.NewPCG(seedVal, uint64(len(t.Name()))))
}

// tarFile is one regular file or directory of a generated layer.
type tarFile struct {
	Name string
	Dir  bool
	Data []byte
}

// memLayer is a gzip layer held in memory with its digests computed once.
type memLayer struct {
	compressed []byte
	raw        []byte
	digest     v1.Hash
	diffID     v1.Hash
}

var _ v1.Layer = (*memLayer)(nil)

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.raw)), nil
}
func (l *memLayer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// newTarLayer packs files into a tar, gzips it (stored, no compression: the
// contents are random anyway) and returns the layer.
func newTarLayer(files []tarFile) (*memLayer, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, ModTime: mtime, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.Data))}
		if f.Dir {
			h.Mode, h.Typeflag, h.Size = 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !f.Dir {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.NoCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &memLayer{
		compressed: gz.Bytes(),
		raw:        raw.Bytes(),
		digest:     sha256Hash(gz.Bytes()),
		diffID:     sha256Hash(raw.Bytes()),
	}, nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// randomLayer returns a layer holding one directory with a file of size
// random bytes (so its compressed size is a little above size).
func randomLayer(t testing.TB, rng *rand.Rand, size int) *memLayer {
	t.Helper()
	dir := fmt.Sprintf("d%016x", rng.Uint64())
	l, err := newTarLayer([]tarFile{
		{Name: dir + "/", Dir: true},
		{Name: dir + "/blob.bin", Data: randBytes(rng, size)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageFromLayers builds a Docker schema 2 image of the layers with a config
// that names this platform, so the Docker engine accepts it.
func imageFromLayers(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	cfg := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		Config:       v1.Config{Cmd: []string{"/bin/true"}, Env: []string{"PATH=/bin"}},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// randomImage builds an image of n random layers, sizes in [minSize, maxSize].
func randomImage(t testing.TB, rng *rand.Rand, n, minSize, maxSize int) v1.Image {
	t.Helper()
	layers := make([]v1.Layer, n)
	for i := range layers {
		layers[i] = randomLayer(t, rng, minSize+rng.IntN(maxSize-minSize+1))
	}
	return imageFromLayers(t, layers...)
}

// pushedImage is what a push sent: enough to check the registry later.
type pushedImage struct {
	Repo   string
	Tag    string
	Digest v1.Hash
	Blobs  []v1.Hash // config and layers
}

func (p pushedImage) String() string { return p.Repo + ":" + p.Tag + "@" + p.Digest.String() }

func describeImage(t testing.TB, repo, tag string, img v1.Image) pushedImage {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	p := pushedImage{Repo: repo, Tag: tag, Digest: d, Blobs: []v1.Hash{cfg}}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		p.Blobs = append(p.Blobs, ld)
	}
	return p
}

func tagRef(t testing.TB, host, repo, tag string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// e2eTransport bounds every request, so a hanging registry fails a test in
// a minute instead of using up the whole timeout.
var e2eTransport = func() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = time.Minute
	return tr
}()

// httpClient is used for the tests' own requests.
var httpClient = &http.Client{Transport: e2eTransport, Timeout: 2 * time.Minute}

// registryAuth is the go-containerregistry option that logs in as the
// admin when the target asks for credentials.
func registryAuth() remote.Option {
	if !authOn() {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(&authn.Basic{Username: adminUser, Password: adminPassword})
}

// pushImage writes img with go-containerregistry, without retries, so the
// error (if any) is the registry's first answer.
func pushImage(ctx context.Context, ref name.Reference, img v1.Image) error {
	return remote.Write(ref, img,
		remote.WithContext(ctx),
		remote.WithTransport(e2eTransport),
		registryAuth(),
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1}),
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithJobs(2),
	)
}

// registryStatus returns the HTTP status of a registry error, or 0 when the
// error was not an HTTP answer (connection refused, reset, timeout).
func registryStatus(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// verifyImage pulls p back by tag and by digest, checks the digest and runs
// validate.Image, which downloads every blob and checks its digest.
func verifyImage(ctx context.Context, host string, p pushedImage) error {
	tag, err := name.NewTag(host+"/"+p.Repo+":"+p.Tag, name.Insecure)
	if err != nil {
		return err
	}
	img, err := remote.Image(tag, remote.WithContext(ctx), remote.WithTransport(e2eTransport), registryAuth())
	if err != nil {
		return fmt.Errorf("%s: pull by tag: %w", p, err)
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("%s: digest: %w", p, err)
	}
	if d != p.Digest {
		return fmt.Errorf("%s: tag now points to %s", p, d)
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("%s: validate: %w", p, err)
	}
	dig, err := name.NewDigest(host+"/"+p.Repo+"@"+p.Digest.String(), name.Insecure)
	if err != nil {
		return err
	}
	if _, err := remote.Head(dig, remote.WithContext(ctx), remote.WithTransport(e2eTransport), registryAuth()); err != nil {
		return fmt.Errorf("%s: HEAD by digest: %w", p, err)
	}
	return nil
}

// checkBlobGet fetches a blob; a 200 must carry exactly the bytes of the
// digest asked for. It reports whether the blob was served.
func checkBlobGet(ctx context.Context, s *server, repo string, d v1.Hash) (bool, error) {
	status, hdr, body, err := s.httpDo(ctx, http.MethodGet, "/v2/"+repo+"/blobs/"+d.String(), nil)
	if err != nil {
		return false, fmt.Errorf("GET blob %s in %s: %w", d, repo, err)
	}
	switch status {
	case http.StatusOK:
		if got := sha256Hash(body); got != d {
			return true, fmt.Errorf("GET blob %s in %s: served %d bytes with digest %s", d, repo, len(body), got)
		}
		if cl := hdr.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
			return true, fmt.Errorf("GET blob %s in %s: Content-Length %s, body %d bytes", d, repo, cl, len(body))
		}
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("GET blob %s in %s: status %d: %s", d, repo, status, body)
	}
}

// headStatus returns the status of a HEAD request.
func headStatus(ctx context.Context, s *server, path string, hdr http.Header) (int, http.Header, error) {
	status, h, _, err := s.httpDo(ctx, http.MethodHead, path, hdr)
	return status, h, err
}

// manifestAccept asks for any manifest type docker or OCI clients push.
var manifestAccept = http.Header{"Accept": {
	string(types.DockerManifestSchema2),
	string(types.DockerManifestList),
	string(types.OCIManifestSchema1),
	string(types.OCIImageIndex),
}}
