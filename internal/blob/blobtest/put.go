package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

// Putter is the optional capability of storing a whole blob in one call:
// r is copied, check is called with the number of bytes copied, and the
// blob becomes visible under d only if check returns nil (its error is
// returned as it is). A blob already stored is kept.
type Putter interface {
	PutBlob(ctx context.Context, d digest.Digest, r io.Reader, check func(n int64) error) (int64, error)
}

// testPutBlob runs the PutBlob cases on stores that have it.
func testPutBlob(t *testing.T, newStore func(t *testing.T) blob.Store) {
	if _, ok := newStore(t).(Putter); !ok {
		t.Skip("driver has no PutBlob")
	}
	ctx := context.Background()
	accept := func(want int64) func(int64) error {
		return func(n int64) error {
			if n != want {
				return errors.New("wrong length")
			}
			return nil
		}
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, s blob.Store, p Putter)
	}{
		{"sizes", func(t *testing.T, s blob.Store, p Putter) {
			for _, size := range []int{0, 1, 4095, 64 << 10, 1<<20 + 3, 5 << 20} {
				data := randBytes(uint64(size)+1, size)
				d := digest.FromBytes(data)
				n, err := p.PutBlob(ctx, d, bytes.NewReader(data), accept(int64(size)))
				if err != nil || n != int64(size) {
					t.Fatalf("PutBlob of %d bytes = %d, %v", size, n, err)
				}
				checkBlob(t, s, d, data)
			}
			if ups := walkUploads(t, s); len(ups) != 0 {
				t.Errorf("uploads left after PutBlob: %v", ups)
			}
		}},
		{"sha512", func(t *testing.T, s blob.Store, p Putter) {
			data := randBytes(512, 70_000)
			d := digest.SHA512.FromBytes(data)
			if _, err := p.PutBlob(ctx, d, bytes.NewReader(data), accept(int64(len(data)))); err != nil {
				t.Fatalf("PutBlob: %v", err)
			}
			checkBlob(t, s, d, data)
		}},
		{"check refuses", func(t *testing.T, s blob.Store, p Putter) {
			data := randBytes(7, 100_000)
			d := digest.FromBytes(data)
			refused := errors.New("digest does not match")
			var saw int64 = -1
			n, err := p.PutBlob(ctx, d, bytes.NewReader(data), func(n int64) error { saw = n; return refused })
			if !errors.Is(err, refused) {
				t.Fatalf("PutBlob with a refusing check: error = %v, want the check's", err)
			}
			if saw != int64(len(data)) || n != saw {
				t.Errorf("check saw %d bytes, PutBlob returned %d; want %d", saw, n, len(data))
			}
			checkAbsent(t, s, d)
			if ups := walkUploads(t, s); len(ups) != 0 {
				t.Errorf("uploads left after a refused PutBlob: %v", ups)
			}
		}},
		{"reader fails", func(t *testing.T, s blob.Store, p Putter) {
			data := randBytes(8, 3<<20)
			d := digest.FromBytes(data)
			broken := errors.New("client went away")
			called := false
			_, err := p.PutBlob(ctx, d, &errReader{data: data[:2<<20], err: broken}, func(int64) error { called = true; return nil })
			if !errors.Is(err, broken) {
				t.Fatalf("PutBlob from a failing reader: error = %v, want it to wrap %v", err, broken)
			}
			if called {
				t.Errorf("check was called although the copy failed")
			}
			checkAbsent(t, s, d)
		}},
		{"already stored", func(t *testing.T, s blob.Store, p Putter) {
			data := randBytes(9, 10_000)
			d := put(t, s, "first", data)
			n, err := p.PutBlob(ctx, d, bytes.NewReader(data), accept(int64(len(data))))
			if err != nil || n != int64(len(data)) {
				t.Fatalf("PutBlob of a stored blob = %d, %v", n, err)
			}
			checkBlob(t, s, d, data)
			if got := walkBlobs(t, s); len(got) != 1 {
				t.Errorf("Walk lists %d blobs, want 1", len(got))
			}
		}},
		{"concurrent same digest", func(t *testing.T, s blob.Store, p Putter) {
			data := randBytes(10, 300_000)
			d := digest.FromBytes(data)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = p.PutBlob(ctx, d, bytes.NewReader(data), accept(int64(len(data))))
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("PutBlob %d: %v", i, err)
				}
			}
			checkBlob(t, s, d, data)
		}},
		{"invalid digest", func(t *testing.T, s blob.Store, p Putter) {
			if _, err := p.PutBlob(ctx, "sha256:nothex", bytes.NewReader(nil), accept(0)); err == nil {
				t.Errorf("PutBlob with an invalid digest succeeded")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			c.fn(t, s, s.(Putter))
		})
	}
}
