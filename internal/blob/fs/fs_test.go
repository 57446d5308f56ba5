package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/opencontainers/go-digest"
)

func newStore(t *testing.T) blob.Store {
	t.Helper()
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func newBufferedStore(t *testing.T) blob.Store {
	t.Helper()
	s, err := fs.New(t.TempDir(), fs.WithoutDirectIO())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name string
		new  func(*testing.T) blob.Store
	}{
		{"direct I/O for large writes", newStore},
		{"page cache only", newBufferedStore},
	} {
		t.Run(c.name, func(t *testing.T) {
			blobtest.Run(t, c.new, blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store {
				t.Helper()
				other, err := fs.New(s.(*fs.Store).Root())
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				return other
			}))
		})
	}
}

// TestDirectWrites: a large body goes to disk with direct I/O in its aligned
// part only — a small body, the unaligned head of a write that starts
// mid-block and the tail go through the page cache — and the blob holds
// exactly what was sent.
func TestDirectWrites(t *testing.T) {
	dir := t.TempDir()
	if !fs.DirectSupported(dir) {
		t.Skipf("the filesystem under %s takes no O_DIRECT", dir)
	}
	s, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := make([]byte, 5<<20+777)
	rand.Read(data)
	if err := s.CreateUpload(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		from, to   int
		wantDirect int64 // direct bytes added by this write
	}{
		{"small body: page cache", 0, 1000, 0},
		// Starts at 1000: the first buffer (1 MiB - 1000 bytes) ends on
		// a 4 KiB boundary and goes through the page cache; two full
		// aligned buffers go direct, the 5-byte tail through the cache.
		{"large body from an unaligned offset", 1000, 3<<20 + 5, 2 << 20},
		{"large body, rewritten from an aligned offset", 1 << 20, len(data), 4 << 20},
	}
	for _, st := range steps {
		before := fs.DirectBytes(s)
		n, err := s.WriteUpload(ctx, "big", int64(st.from), bytes.NewReader(data[st.from:st.to]))
		if err != nil || n != int64(st.to-st.from) {
			t.Fatalf("%s: WriteUpload = %d, %v", st.name, n, err)
		}
		if got := fs.DirectBytes(s) - before; got != st.wantDirect {
			t.Errorf("%s: %d bytes written with direct I/O, want %d", st.name, got, st.wantDirect)
		}
	}
	d := digest.FromBytes(data)
	if err := s.CommitUpload(ctx, "big", d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("the blob differs from what was written (%d bytes, want %d)", got.Len(), len(data))
	}
}
