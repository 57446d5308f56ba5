package blobtest

import (
	"bytes"
	"context"
	_ "crypto/sha256" // the suite hashes with sha256 and sha512 itself
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

// Option changes what Run covers.
type Option func(*options)

type options struct {
	reopen func(t *testing.T, s blob.Store) blob.Store
}

// WithReopen gives the suite a way to open a second Store on the same
// backend as s (the same directory, bucket, …). The suite then starts an
// upload through one Store and continues, commits and reads it through the
// other, as two registry nodes (or a restarted process) would.
func WithReopen(reopen func(t *testing.T, s blob.Store) blob.Store) Option {
	return func(o *options) { o.reopen = reopen }
}

// Run runs the conformance suite. newStore must return a new, empty Store
// each time it is called; it may register cleanups on t.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"MissingBlob", testMissingBlob},
		{"InvalidDigest", testInvalidDigest},
		{"ChunkedUploadCommit", testChunkedUploadCommit},
		{"OpenSeek", testOpenSeek},
		{"EmptyBlob", testEmptyBlob},
		{"RewriteDiscardsTail", testRewriteDiscardsTail},
		{"InvalidOffset", testInvalidOffset},
		{"UnknownUpload", testUnknownUpload},
		{"HostileUploadID", testHostileUploadID},
		{"ReaderError", testReaderError},
		{"CommitExisting", testCommitExisting},
		{"CommitShorterSize", testCommitShorterSize},
		{"CommitLargerSize", testCommitLargerSize},
		{"CommitInvalidDigest", testCommitInvalidDigest},
		{"AbortUpload", testAbortUpload},
		{"WalkUploads", testWalkUploads},
		{"Walk", testWalk},
		{"Delete", testDelete},
		{"Algorithms", testAlgorithms},
		{"LargeUnevenChunks", testLargeUnevenChunks},
		{"ConcurrentUploads", testConcurrentUploads},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
	}
	t.Run("PutBlob", func(t *testing.T) { testPutBlob(t, newStore) })
	t.Run("Reopen", func(t *testing.T) {
		if o.reopen == nil {
			t.Skip("driver has no shared backend (no WithReopen option)")
		}
		testReopen(t, newStore(t), o.reopen)
	})
}

// randBytes returns n pseudo-random bytes, different for each seed.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// create starts upload id or fails the test.
func create(t *testing.T, s blob.Store, id string) {
	t.Helper()
	if err := s.CreateUpload(context.Background(), id); err != nil {
		t.Fatalf("CreateUpload(%q): %v", id, err)
	}
}

// write writes p to upload id at offset and checks the count.
func write(t *testing.T, s blob.Store, id string, offset int64, p []byte) {
	t.Helper()
	writeFrom(t, s, id, offset, bytes.NewReader(p), int64(len(p)))
}

// writeFrom writes r to upload id at offset and expects want bytes written.
func writeFrom(t *testing.T, s blob.Store, id string, offset int64, r io.Reader, want int64) {
	t.Helper()
	n, err := s.WriteUpload(context.Background(), id, offset, r)
	if err != nil {
		t.Fatalf("WriteUpload(%q, %d): %v", id, offset, err)
	}
	if n != want {
		t.Fatalf("WriteUpload(%q, %d) wrote %d bytes, want %d", id, offset, n, want)
	}
}

// commit commits upload id as the blob holding data, hashed here with alg.
func commit(t *testing.T, s blob.Store, id string, alg digest.Algorithm, data []byte) digest.Digest {
	t.Helper()
	d := alg.FromBytes(data)
	if err := s.CommitUpload(context.Background(), id, d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload(%q, %s, %d): %v", id, d, len(data), err)
	}
	return d
}

// put uploads data in one write and commits it under its sha256 digest.
func put(t *testing.T, s blob.Store, id string, data []byte) digest.Digest {
	t.Helper()
	create(t, s, id)
	write(t, s, id, 0, data)
	return commit(t, s, id, digest.SHA256, data)
}

// readBlob opens d and returns all its bytes.
func readBlob(t *testing.T, s blob.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", d, err)
	}
	return b
}

// checkBlob checks that d is stored with exactly the bytes want.
func checkBlob(t *testing.T, s blob.Store, d digest.Digest, want []byte) {
	t.Helper()
	info, err := s.Stat(context.Background(), d)
	if err != nil {
		t.Fatalf("Stat(%s): %v", d, err)
	}
	if info.Digest != d || info.Size != int64(len(want)) {
		t.Fatalf("Stat(%s) = {%s, %d}, want {%s, %d}", d, info.Digest, info.Size, d, len(want))
	}
	if info.ModTime.IsZero() {
		t.Errorf("Stat(%s): zero ModTime", d)
	}
	got := readBlob(t, s, d)
	if !bytes.Equal(got, want) {
		t.Fatalf("blob %s: read %d bytes (%s), want %d bytes", d, len(got), d.Algorithm().FromBytes(got), len(want))
	}
}

// checkAbsent checks that nothing is visible under d.
func checkAbsent(t *testing.T, s blob.Store, d digest.Digest) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%s) error = %v, want ErrNotFound", d, err)
	}
	r, err := s.Open(ctx, d)
	if !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open(%s) error = %v, want ErrNotFound", d, err)
	}
	if err == nil {
		r.Close()
	}
	if _, ok := walkBlobs(t, s)[d]; ok {
		t.Errorf("Walk lists %s, which should not be visible", d)
	}
}

// walkBlobs returns every blob Walk reports, with its size.
func walkBlobs(t *testing.T, s blob.Store) map[digest.Digest]int64 {
	t.Helper()
	got := map[digest.Digest]int64{}
	err := s.Walk(context.Background(), func(info blob.Info) error {
		if _, dup := got[info.Digest]; dup {
			return fmt.Errorf("Walk reported %s twice", info.Digest)
		}
		got[info.Digest] = info.Size
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

// walkUploads returns every upload WalkUploads reports, with its size.
func walkUploads(t *testing.T, s blob.Store) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.WalkUploads(context.Background(), func(info blob.UploadInfo) error {
		if _, dup := got[info.ID]; dup {
			return fmt.Errorf("WalkUploads reported %q twice", info.ID)
		}
		if info.ModTime.IsZero() {
			return fmt.Errorf("WalkUploads: upload %q has a zero ModTime", info.ID)
		}
		got[info.ID] = info.Size
		return nil
	})
	if err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	return got
}

// checkUploadGone checks that upload id no longer exists.
func checkUploadGone(t *testing.T, s blob.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.WriteUpload(ctx, id, 0, bytes.NewReader([]byte("x"))); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("WriteUpload(%q) after it ended: error = %v, want ErrUploadNotFound", id, err)
	}
	if err := s.AbortUpload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("AbortUpload(%q) after it ended: error = %v, want ErrUploadNotFound", id, err)
	}
	if _, ok := walkUploads(t, s)[id]; ok {
		t.Errorf("WalkUploads still lists %q", id)
	}
}

// errReader returns data, then err instead of io.EOF.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
