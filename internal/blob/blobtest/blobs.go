package blobtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

func testMissingBlob(t *testing.T, s blob.Store) {
	ctx := context.Background()
	d := digest.FromString("never stored")
	checkAbsent(t, s, d)
	if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Delete(missing) error = %v, want ErrNotFound", err)
	}
	// Another blob being present changes nothing.
	put(t, s, "other", []byte("other"))
	checkAbsent(t, s, d)
}

func testInvalidDigest(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, "present", []byte("present"))
	for _, d := range []digest.Digest{
		"",
		"sha256",
		"sha256:",
		"sha256:../../../../etc/passwd",
		"sha256:" + digest.Digest(strings.Repeat("A", 64)),
		"sha256:" + digest.Digest(strings.Repeat("0", 63)),
		"../sha256:" + digest.Digest(strings.Repeat("0", 64)),
		"sha256/../x:" + digest.Digest(strings.Repeat("0", 64)),
	} {
		t.Run(fmt.Sprintf("%q", d), func(t *testing.T) {
			if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat error = %v, want ErrNotFound", err)
			}
			r, err := s.Open(ctx, d)
			if !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Open error = %v, want ErrNotFound", err)
			}
			if err == nil {
				r.Close()
			}
			if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Delete error = %v, want ErrNotFound", err)
			}
		})
	}
}

func testOpenSeek(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := randBytes(7, 10000)
	d := put(t, s, "seek", data)
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	steps := []struct {
		name   string
		offset int64
		whence int
		pos    int64
		read   int
	}{
		{"start", 0, io.SeekStart, 0, 10},
		{"middle", 4321, io.SeekStart, 4321, 100},
		{"current forward", 50, io.SeekCurrent, 4321 + 100 + 50, 7},
		{"current back", -200, io.SeekCurrent, 4321 + 100 + 50 + 7 - 200, 1},
		{"from end", -3, io.SeekEnd, int64(len(data)) - 3, 3},
		{"end", 0, io.SeekEnd, int64(len(data)), 0},
	}
	for _, st := range steps {
		pos, err := r.Seek(st.offset, st.whence)
		if err != nil || pos != st.pos {
			t.Fatalf("%s: Seek(%d, %d) = %d, %v; want %d", st.name, st.offset, st.whence, pos, err, st.pos)
		}
		buf := make([]byte, st.read)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("%s: read %d bytes at %d: %v", st.name, st.read, pos, err)
		}
		if string(buf) != string(data[pos:pos+int64(st.read)]) {
			t.Fatalf("%s: bytes at %d differ", st.name, pos)
		}
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read at end = %d, %v; want 0, io.EOF", n, err)
	}
	// A second reader is independent of the first.
	r2, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer r2.Close()
	head := make([]byte, 16)
	if _, err := io.ReadFull(r2, head); err != nil || string(head) != string(data[:16]) {
		t.Errorf("second reader does not start at offset 0 (err %v)", err)
	}
}

func testWalk(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if got := walkBlobs(t, s); len(got) != 0 {
		t.Fatalf("Walk on an empty store reported %d blobs", len(got))
	}
	want := map[digest.Digest]int64{}
	for i, size := range []int{0, 1, 300, 70000} {
		data := randBytes(uint64(100+i), size)
		want[put(t, s, fmt.Sprintf("walk-%d", i), data)] = int64(size)
	}
	// An open upload is not a blob.
	create(t, s, "walk-open")
	write(t, s, "walk-open", 0, []byte("pending"))

	got := walkBlobs(t, s)
	if len(got) != len(want) {
		t.Errorf("Walk reported %d blobs, want %d", len(got), len(want))
	}
	for d, size := range want {
		if gs, ok := got[d]; !ok || gs != size {
			t.Errorf("Walk: blob %s size %d (found %v), want size %d", d, gs, ok, size)
		}
	}

	stop := errors.New("stop here")
	calls := 0
	err := s.Walk(ctx, func(blob.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk with failing fn: %d calls, error %v; want 1 call and the fn's error", calls, err)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := context.Background()
	keep := put(t, s, "keep", []byte("keep me"))
	d := put(t, s, "gone", []byte("delete me"))
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, s, d)
	if err := s.Delete(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("second Delete error = %v, want ErrNotFound", err)
	}
	checkBlob(t, s, keep, []byte("keep me"))

	// The digest can be stored again after a delete.
	create(t, s, "again")
	write(t, s, "again", 0, []byte("delete me"))
	if got := commit(t, s, "again", digest.SHA256, []byte("delete me")); got != d {
		t.Fatalf("digest changed: %s vs %s", got, d)
	}
	checkBlob(t, s, d, []byte("delete me"))
}

func testAlgorithms(t *testing.T, s blob.Store) {
	data := randBytes(42, 5000)
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		t.Run(string(alg), func(t *testing.T) {
			id := "alg-" + string(alg)
			create(t, s, id)
			write(t, s, id, 0, data[:1234])
			write(t, s, id, 1234, data[1234:])
			d := commit(t, s, id, alg, data)
			if d.Algorithm() != alg {
				t.Fatalf("digest %s is not %s", d, alg)
			}
			checkBlob(t, s, d, data)
			if size, ok := walkBlobs(t, s)[d]; !ok || size != int64(len(data)) {
				t.Errorf("Walk: %s found %v size %d, want size %d", d, ok, size, len(data))
			}
		})
	}
	// The same bytes under two algorithms are two blobs.
	if got := walkBlobs(t, s); len(got) != 2 {
		t.Errorf("Walk reported %d blobs, want 2 (one per algorithm)", len(got))
	}
	sha512 := digest.SHA512.FromBytes(data)
	if err := s.Delete(context.Background(), sha512); err != nil {
		t.Fatalf("Delete(%s): %v", sha512, err)
	}
	checkBlob(t, s, digest.SHA256.FromBytes(data), data)
}
