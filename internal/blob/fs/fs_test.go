package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
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
			fs.SetDirectMin(t, 0) // every large write direct, not only past 8 MiB
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

// TestPutBlobDirect: a large blob stored in one call is written with
// direct I/O too, through its unnamed file.
func TestPutBlobDirect(t *testing.T) {
	dir := t.TempDir()
	if !fs.DirectSupported(dir) {
		t.Skip("the filesystem of the test directory takes no O_DIRECT")
	}
	fs.SetDirectMin(t, 1<<20)
	s, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 6<<20+123)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	d := digest.FromBytes(data)
	if _, err := s.PutBlob(t.Context(), d, bytes.NewReader(data), func(int64) error { return nil }); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	if got := fs.DirectBytes(s); got < 4<<20 {
		t.Errorf("%d bytes written with direct I/O, want at least 4 MiB", got)
	}
	r, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (err %v), want the %d put", len(got), err, len(data))
	}
}

// TestDirectWrites: a large body goes to disk with direct I/O in its aligned
// part only — a small body, the unaligned head of a write that starts
// mid-block and the tail go through the page cache — and the blob holds
// exactly what was sent. (The page-cache prefix, directMin, is zero here;
// TestDirectMin covers it.)
func TestDirectWrites(t *testing.T) {
	s := newDirectStore(t)
	fs.SetDirectMin(t, 0)
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
	commitAndCheck(t, s, "big", data)
}

// commitAndCheck commits upload id as the blob of data and reads it back.
func commitAndCheck(t *testing.T, s *fs.Store, id string, data []byte) {
	t.Helper()
	ctx := context.Background()
	d := digest.FromBytes(data)
	if err := s.CommitUpload(ctx, id, d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back %d bytes (%v), want the %d written", got.Len(), err, len(data))
	}
}

// TestDirectMin: the first directMin bytes of an upload go through the page
// cache, whether they come in one body or in chunks; what follows goes
// direct.
func TestDirectMin(t *testing.T) {
	fs.SetDirectMin(t, 3<<20)
	ctx := context.Background()
	data := make([]byte, 7<<20)
	rand.Read(data)
	for _, c := range []struct {
		name   string
		chunks []int
		want   int64
	}{
		// 3 MiB cached, then four whole buffers direct.
		{"one body", []int{7 << 20}, 4 << 20},
		{"below the prefix", []int{2 << 20}, 0},
		// 2 MiB + 2 MiB: the second chunk crosses 3 MiB at its first
		// buffer boundary past it; 3 MiB more direct.
		{"chunks", []int{2 << 20, 2 << 20, 3 << 20}, 4 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newDirectStore(t)
			if err := s.CreateUpload(ctx, "u"); err != nil {
				t.Fatal(err)
			}
			off := 0
			for _, n := range c.chunks {
				if _, err := s.WriteUpload(ctx, "u", int64(off), bytes.NewReader(data[off:off+n])); err != nil {
					t.Fatal(err)
				}
				off += n
			}
			if got := fs.DirectBytes(s); got != c.want {
				t.Errorf("%d bytes written with direct I/O, want %d", got, c.want)
			}
			commitAndCheck(t, s, "u", data[:off])
		})
	}
}
