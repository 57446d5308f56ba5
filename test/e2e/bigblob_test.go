//go:build e2e

package e2e

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	// bigPayload is the random file inside the big layer.
	bigPayload = 512 << 20
	// bigCmdTimeout bounds one client run that moves the big layer.
	bigCmdTimeout = 8 * time.Minute
	bigLayerName  = "big.tar.gz"
	bigLayerType  = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// bigLayer is a layer file on disk and what it must hash to.
type bigLayer struct {
	Path   string
	Size   int64
	Digest v1.Hash
}

// hashWriter hashes and counts what is written to it.
type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (w *hashWriter) Write(b []byte) (int, error) {
	n, err := w.h.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *hashWriter) digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// hashFile streams a file through sha256.
func hashFile(t testing.TB, path string) (v1.Hash, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hw := newHashWriter()
	if _, err := io.Copy(hw, f); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return hw.digest(), hw.n
}

// writeBigLayer streams a gzip layer (stored, not compressed: the contents
// are random) holding one file of bigPayload random bytes into dir, hashing
// it on the way; nothing of it is held in memory.
func writeBigLayer(t testing.TB, dir string) bigLayer {
	t.Helper()
	rng := newRand(t)
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			seed[i+j] = byte(v >> (8 * j))
		}
	}
	path := filepath.Join(dir, bigLayerName)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hw := newHashWriter()
	bw := bufio.NewWriterSize(io.MultiWriter(f, hw), 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{
		Name: "big/payload.bin", Mode: 0o644, Typeflag: tar.TypeReg, Size: bigPayload,
		ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.NewChaCha8(seed), bigPayload); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	for _, c := range []io.Closer{tw, zw} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	l := bigLayer{Path: path, Size: hw.n, Digest: hw.digest()}
	t.Logf("wrote %s: %d bytes, %s", path, l.Size, l.Digest)
	return l
}

// checkSingleLayer checks that a manifest names exactly the big layer.
func checkSingleLayer(t testing.TB, raw string, l bigLayer) {
	t.Helper()
	var m v1.Manifest
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("manifest: %v\n%s", err, raw)
	}
	if len(m.Layers) != 1 || m.Layers[0].Digest != l.Digest || m.Layers[0].Size != l.Size {
		t.Fatalf("manifest layers %+v, want one layer %s of %d bytes", m.Layers, l.Digest, l.Size)
	}
}

// TestBigLayerCrane pushes a 512 MiB layer with crane append and reads it
// back with crane blob, hashing the stream.
func TestBigLayerCrane(t *testing.T) {
	scenario(t, "crane", "512 MiB layer round trip (crane append, crane blob), sha256 checked")
	crane := newCrane(t)
	l := writeBigLayer(t, t.TempDir())
	s := startServer(t, serverOpts{})
	crane.login(t, s.host())
	ref := s.host() + "/big/crane:v1"

	r := runClientCmd(t, bigCmdTimeout, crane.env, "", nil, crane.bin, "--insecure", "append", "-f", l.Path, "-t", ref)
	if r.Err != nil {
		t.Fatalf("crane append: %s", r)
	}
	checkSingleLayer(t, crane.must(t, "manifest", ref), l)
	if err := os.Remove(l.Path); err != nil {
		t.Fatal(err)
	}

	hw := newHashWriter()
	blobRef := s.host() + "/big/crane@" + l.Digest.String()
	r = runClientCmd(t, bigCmdTimeout, crane.env, "", hw, crane.bin, "--insecure", "blob", blobRef)
	if r.Err != nil {
		t.Fatalf("crane blob: %s", r)
	}
	if got := hw.digest(); got != l.Digest || hw.n != l.Size {
		t.Fatalf("crane blob gave %d bytes with sha256 %s, pushed %d bytes with %s", hw.n, got, l.Size, l.Digest)
	}
}

// TestBigLayerOras pushes a 512 MiB layer with oras push and pulls it back
// with oras pull, hashing the file it wrote.
func TestBigLayerOras(t *testing.T) {
	scenario(t, "oras", "512 MiB layer round trip (oras push, oras pull), sha256 checked")
	bin := requireTool(t, "oras")
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
	}
	oras := func(timeout time.Duration, dir string, args ...string) string {
		t.Helper()
		r := runClientCmd(t, timeout, env, dir, nil, bin, args...)
		if r.Err != nil {
			t.Fatalf("oras %s: %s", strings.Join(args, " "), r)
		}
		return r.Stdout
	}
	src := t.TempDir()
	l := writeBigLayer(t, src)
	s := startServer(t, serverOpts{})
	addRegistryAuth(t, filepath.Join(home, ".docker", "config.json"), s.host())
	ref := s.host() + "/big/oras:v1"

	oras(bigCmdTimeout, src, "push", "--plain-http", "--no-tty", ref, bigLayerName+":"+bigLayerType)
	checkSingleLayer(t, oras(clientCmdTimeout, "", "manifest", "fetch", "--plain-http", ref), l)
	if err := os.Remove(l.Path); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	oras(bigCmdTimeout, "", "pull", "--plain-http", "--no-tty", "-o", out, ref)
	pulled := filepath.Join(out, bigLayerName)
	got, n := hashFile(t, pulled)
	if err := os.Remove(pulled); err != nil {
		t.Fatal(err)
	}
	if got != l.Digest || n != l.Size {
		t.Fatalf("oras pull gave %d bytes with sha256 %s, pushed %d bytes with %s", n, got, l.Size, l.Digest)
	}
}
