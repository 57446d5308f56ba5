package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/opencontainers/go-digest"
)

// putDirect stores data as a blob through an upload large enough to be
// written with direct I/O, so the page cache does not hold it.
func putDirect(t *testing.T, s *fs.Store, data []byte) digest.Digest {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateUpload(ctx, "cold"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.WriteUpload(ctx, "cold", 0, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("WriteUpload = %d, %v", n, err)
	}
	d := digest.FromBytes(data)
	if err := s.CommitUpload(ctx, "cold", d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	return d
}

func newDirectStore(t *testing.T) *fs.Store {
	t.Helper()
	dir := t.TempDir()
	if !fs.DirectSupported(dir) {
		t.Skipf("the filesystem under %s takes no O_DIRECT", dir)
	}
	s, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenCold: a large blob the page cache does not hold opens as a reader
// that sends itself; small blobs, and any blob of a store without direct
// I/O, open as plain files.
func TestOpenCold(t *testing.T) {
	fs.SetColdMin(t, 2<<20)
	fs.SetDirectMin(t, 0)
	ctx := context.Background()
	big := make([]byte, 3<<20)
	rand.Read(big)
	small := make([]byte, 1<<20)
	rand.Read(small)

	s := newDirectStore(t)
	for _, c := range []struct {
		name     string
		data     []byte
		wantCold bool
	}{
		{"large, written with direct I/O", big, true},
		{"below the size worth asking", small, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.Open(ctx, putDirect(t, s, c.data))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, cold := r.(fs.Sender)
			if _, plain := r.(*os.File); cold == plain || cold != c.wantCold {
				t.Fatalf("Open returned %T, want a cold sender: %v", r, c.wantCold)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, c.data) {
				t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(c.data))
			}
		})
	}
	t.Run("store without direct I/O", func(t *testing.T) {
		s, err := fs.New(t.TempDir(), fs.WithoutDirectIO())
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(ctx, putDirect(t, s, big))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, plain := r.(*os.File); !plain {
			t.Fatalf("Open returned %T, want *os.File", r)
		}
	})
}

// TestColdSend: SendTo sends exactly the asked range, from any offset, with
// direct I/O and through the fallback when every direct send slot is taken,
// and leaves the offset after what it sent.
func TestColdSend(t *testing.T) {
	fs.SetDirectMin(t, 0)
	s := newDirectStore(t)
	data := make([]byte, 20<<20+123) // more than two 8 MiB chunks, unaligned end
	rand.Read(data)
	path := fs.BlobPath(s, putDirect(t, s, data))
	size := int64(len(data))
	ranges := []struct {
		name    string
		off, n  int64
		wantLen int64
	}{
		{"whole blob", 0, size, size},
		{"unaligned start, a few KiB", 1000, 5000, 5000},
		{"aligned start, across chunks", 4096, 9 << 20, 9 << 20},
		{"unaligned start, to the end", 8<<20 + 7, size - (8<<20 + 7), size - (8<<20 + 7)},
		{"the last bytes", size - 10, 10, 10},
		{"past the end is cut", size - 10, 100, 10},
		{"nothing", 12345, 0, 0},
	}
	for _, mode := range []string{"direct", "fallback"} {
		for _, rg := range ranges {
			t.Run(mode+"/"+rg.name, func(t *testing.T) {
				if mode == "fallback" {
					defer fs.HoldColdSends(s)()
				}
				f, err := fs.OpenCold(s, path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.Seek(rg.off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				before := fs.DirectReadBytes(s)
				n, err := f.SendTo(&buf, rg.n)
				direct := fs.DirectReadBytes(s) - before
				if mode == "direct" && rg.wantLen >= 4096 && direct+4096 < rg.wantLen {
					t.Errorf("%d bytes read with direct I/O for %d sent", direct, rg.wantLen)
				}
				if mode == "fallback" && direct != 0 {
					t.Errorf("%d bytes read with direct I/O while every slot was taken", direct)
				}
				if err != nil && !(rg.wantLen < rg.n && err == io.EOF) {
					t.Fatalf("SendTo: %d, %v", n, err)
				}
				if n != rg.wantLen || !bytes.Equal(buf.Bytes(), data[rg.off:rg.off+rg.wantLen]) {
					t.Fatalf("sent %d bytes (returned %d), want bytes %d..%d", buf.Len(), n, rg.off, rg.off+rg.wantLen)
				}
				if pos, _ := f.Seek(0, io.SeekCurrent); pos != rg.off+rg.wantLen {
					t.Fatalf("offset after SendTo = %d, want %d", pos, rg.off+rg.wantLen)
				}
			})
		}
	}
}
