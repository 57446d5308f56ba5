package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

func testChunkedUploadCommit(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := randBytes(1, 3*4096+17)
	d := digest.FromBytes(data)
	const id = "chunked"
	create(t, s, id)
	if got := walkUploads(t, s); len(got) != 1 || got[id] != 0 {
		t.Fatalf("WalkUploads after create = %v, want {%s: 0}", got, id)
	}
	offsets := []int{0, 1, 4096, 4096 + 4000, len(data)}
	for i := 0; i+1 < len(offsets); i++ {
		write(t, s, id, int64(offsets[i]), data[offsets[i]:offsets[i+1]])
		if got := walkUploads(t, s)[id]; got != int64(offsets[i+1]) {
			t.Fatalf("after chunk %d the upload holds %d bytes, want %d", i, got, offsets[i+1])
		}
		checkAbsent(t, s, d)
	}
	commit(t, s, id, digest.SHA256, data)
	checkBlob(t, s, d, data)
	checkUploadGone(t, s, id)
	if err := s.CommitUpload(ctx, id, d, int64(len(data))); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("second CommitUpload error = %v, want ErrUploadNotFound", err)
	}
	checkBlob(t, s, d, data)
}

func testEmptyBlob(t *testing.T, s blob.Store) {
	create(t, s, "empty")
	write(t, s, "empty", 0, nil)
	d := commit(t, s, "empty", digest.SHA256, nil)
	if d != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("suite bug: empty digest %s", d)
	}
	checkBlob(t, s, d, nil)
	// Committing a fresh upload with no write at all works too.
	create(t, s, "empty2")
	d512 := commit(t, s, "empty2", digest.SHA512, nil)
	checkBlob(t, s, d512, nil)
}

func testRewriteDiscardsTail(t *testing.T, s blob.Store) {
	first := randBytes(2, 1000)
	retry := randBytes(3, 300)
	cases := []struct {
		name   string
		offset int
	}{
		{"from zero", 0},
		{"from middle", 400},
		{"at end", 1000},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("rewrite-%d", i)
			create(t, s, id)
			write(t, s, id, 0, first[:500])
			write(t, s, id, 500, first[500:])
			// The client retries from an earlier offset, e.g. after a crash
			// that lost the acknowledgement of the second chunk.
			write(t, s, id, int64(c.offset), retry)
			want := append(append([]byte(nil), first[:c.offset]...), retry...)
			if got := walkUploads(t, s)[id]; got != int64(len(want)) {
				t.Fatalf("upload holds %d bytes after rewrite, want %d", got, len(want))
			}
			d := commit(t, s, id, digest.SHA256, want)
			checkBlob(t, s, d, want)
		})
	}
}

func testInvalidOffset(t *testing.T, s blob.Store) {
	ctx := context.Background()
	const id = "offset"
	create(t, s, id)
	if _, err := s.WriteUpload(ctx, id, 1, bytes.NewReader([]byte("x"))); !errors.Is(err, blob.ErrInvalidOffset) {
		t.Errorf("write at 1 into an empty upload: error = %v, want ErrInvalidOffset", err)
	}
	data := []byte("0123456789")
	write(t, s, id, 0, data)
	for _, off := range []int64{11, 1 << 40, -1} {
		n, err := s.WriteUpload(ctx, id, off, bytes.NewReader([]byte("junk")))
		if !errors.Is(err, blob.ErrInvalidOffset) || n != 0 {
			t.Errorf("write at %d into a 10-byte upload = %d, %v; want 0, ErrInvalidOffset", off, n, err)
		}
	}
	// The failed writes changed nothing.
	write(t, s, id, 10, []byte("abc"))
	want := []byte("0123456789abc")
	checkBlob(t, s, commit(t, s, id, digest.SHA256, want), want)
}

func testUnknownUpload(t *testing.T, s blob.Store) {
	ctx := context.Background()
	create(t, s, "known")
	d := digest.FromString("x")
	if _, err := s.WriteUpload(ctx, "unknown", 0, strings.NewReader("x")); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("WriteUpload(unknown) error = %v, want ErrUploadNotFound", err)
	}
	if err := s.CommitUpload(ctx, "unknown", d, 1); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("CommitUpload(unknown) error = %v, want ErrUploadNotFound", err)
	}
	if err := s.AbortUpload(ctx, "unknown"); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("AbortUpload(unknown) error = %v, want ErrUploadNotFound", err)
	}
	checkAbsent(t, s, d)
	if got := walkUploads(t, s); len(got) != 1 {
		t.Errorf("WalkUploads = %v, want only the known upload", got)
	}
	if err := s.CreateUpload(ctx, "known"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateUpload of an id in use: error = %v, want fs.ErrExist", err)
	}
}

func testHostileUploadID(t *testing.T, s blob.Store) {
	ctx := context.Background()
	create(t, s, "victim")
	write(t, s, "victim", 0, []byte("victim"))
	for _, id := range []string{
		"", ".", "..", "../victim", "../../escape", "a/b", `a\b`, "/abs", "a b", "a\x00b", "ü",
		strings.Repeat("a", 129),
	} {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			if err := s.CreateUpload(ctx, id); err == nil {
				t.Errorf("CreateUpload accepted an invalid id")
			}
			if _, err := s.WriteUpload(ctx, id, 0, strings.NewReader("x")); !errors.Is(err, blob.ErrUploadNotFound) {
				t.Errorf("WriteUpload error = %v, want ErrUploadNotFound", err)
			}
			if err := s.CommitUpload(ctx, id, digest.FromString("x"), 1); !errors.Is(err, blob.ErrUploadNotFound) {
				t.Errorf("CommitUpload error = %v, want ErrUploadNotFound", err)
			}
			if err := s.AbortUpload(ctx, id); !errors.Is(err, blob.ErrUploadNotFound) {
				t.Errorf("AbortUpload error = %v, want ErrUploadNotFound", err)
			}
		})
	}
	if got := walkUploads(t, s); len(got) != 1 || got["victim"] != 6 {
		t.Errorf("WalkUploads = %v, want only victim with 6 bytes", got)
	}
	// The longest valid id and every allowed character class work.
	for _, id := range []string{strings.Repeat("Z", 128), "aZ09_-"} {
		create(t, s, id)
		write(t, s, id, 0, []byte(id))
		checkBlob(t, s, commit(t, s, id, digest.SHA256, []byte(id)), []byte(id))
	}
}

func testReaderError(t *testing.T, s blob.Store) {
	ctx := context.Background()
	const id = "broken"
	data := randBytes(9, 5000)
	cut := 3000
	boom := errors.New("client went away")
	create(t, s, id)
	n, err := s.WriteUpload(ctx, id, 0, &errReader{data: data[:cut], err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteUpload error = %v, want the reader's error", err)
	}
	if n != int64(cut) {
		t.Fatalf("WriteUpload stored %d bytes before the reader failed, want every byte read (%d)", n, cut)
	}
	// The upload resumes at the returned offset.
	write(t, s, id, n, data[cut:])
	checkBlob(t, s, commit(t, s, id, digest.SHA256, data), data)
}

func testCommitExisting(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := []byte("the original bytes")
	d := put(t, s, "first", data)
	before, err := s.Stat(ctx, d)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	// The second upload claims the same digest with other bytes of the same
	// length: the store must keep what it has, not overwrite it.
	create(t, s, "second")
	write(t, s, "second", 0, []byte("XXXXXXXXXXXXXXXXXX"))
	if err := s.CommitUpload(ctx, "second", d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload of an existing digest: %v", err)
	}
	checkUploadGone(t, s, "second")
	checkBlob(t, s, d, data)
	after, err := s.Stat(ctx, d)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if !after.ModTime.Equal(before.ModTime) {
		t.Errorf("ModTime changed from %v to %v: the blob was replaced", before.ModTime, after.ModTime)
	}
}

func testCommitShorterSize(t *testing.T, s blob.Store) {
	data := randBytes(4, 100)
	create(t, s, "short")
	write(t, s, "short", 0, data)
	d := commit(t, s, "short", digest.SHA256, data[:60])
	checkBlob(t, s, d, data[:60])
	checkUploadGone(t, s, "short")
}

func testCommitLargerSize(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := randBytes(5, 100)
	create(t, s, "large")
	write(t, s, "large", 0, data)
	more := append(append([]byte(nil), data...), 0)
	d := digest.FromBytes(more)
	if err := s.CommitUpload(ctx, "large", d, int64(len(more))); err == nil {
		t.Fatalf("CommitUpload of %d bytes from a %d-byte upload succeeded", len(more), len(data))
	}
	checkAbsent(t, s, d)
	if err := s.CommitUpload(ctx, "large", digest.FromBytes(data), -1); err == nil {
		t.Errorf("CommitUpload with size -1 succeeded")
	}
}

func testCommitInvalidDigest(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := []byte("payload")
	create(t, s, "baddigest")
	write(t, s, "baddigest", 0, data)
	for _, d := range []digest.Digest{"", "sha256:../../x", "sha256:" + digest.Digest(strings.Repeat("G", 64)), "nohash"} {
		if err := s.CommitUpload(ctx, "baddigest", d, int64(len(data))); err == nil {
			t.Errorf("CommitUpload accepted digest %q", d)
		}
	}
	if got := walkBlobs(t, s); len(got) != 0 {
		t.Errorf("Walk reports %v after failed commits", got)
	}
	// The upload survives and commits under a valid digest.
	if got := walkUploads(t, s)["baddigest"]; got != int64(len(data)) {
		t.Fatalf("upload holds %d bytes after failed commits, want %d", got, len(data))
	}
	checkBlob(t, s, commit(t, s, "baddigest", digest.SHA256, data), data)
}

func testAbortUpload(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := []byte("abandoned")
	create(t, s, "abort")
	create(t, s, "stay")
	write(t, s, "abort", 0, data)
	if err := s.AbortUpload(ctx, "abort"); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	checkUploadGone(t, s, "abort")
	if err := s.CommitUpload(ctx, "abort", digest.FromBytes(data), int64(len(data))); !errors.Is(err, blob.ErrUploadNotFound) {
		t.Errorf("CommitUpload after abort: error = %v, want ErrUploadNotFound", err)
	}
	checkAbsent(t, s, digest.FromBytes(data))
	if got := walkUploads(t, s); len(got) != 1 {
		t.Errorf("WalkUploads = %v, want only the other upload", got)
	}
	// The id can be used again.
	create(t, s, "abort")
	write(t, s, "abort", 0, data)
	checkBlob(t, s, commit(t, s, "abort", digest.SHA256, data), data)
}

func testWalkUploads(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if got := walkUploads(t, s); len(got) != 0 {
		t.Fatalf("WalkUploads on an empty store = %v", got)
	}
	want := map[string]int64{"u0": 0, "u1": 1, "u2": 5000}
	for id, size := range want {
		create(t, s, id)
		if size > 0 {
			write(t, s, id, 0, randBytes(uint64(size), int(size)))
		}
	}
	put(t, s, "committed", []byte("not an upload any more"))
	got := walkUploads(t, s)
	if len(got) != len(want) {
		t.Errorf("WalkUploads = %v, want %v", got, want)
	}
	for id, size := range want {
		if gs, ok := got[id]; !ok || gs != size {
			t.Errorf("WalkUploads: %q size %d (found %v), want %d", id, gs, ok, size)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.WalkUploads(ctx, func(blob.UploadInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("WalkUploads with failing fn: %d calls, error %v; want 1 call and the fn's error", calls, err)
	}
}

func testLargeUnevenChunks(t *testing.T, s blob.Store) {
	const size = 8 << 20
	data := randBytes(8, size)
	const id = "large"
	create(t, s, id)
	chunks := []int{1, 4095, 1<<20 + 3, 777_777, 65_536, 3<<20 - 1, 12_345}
	off := 0
	for i := 0; off < size; i++ {
		n := size - off
		if i < len(chunks) && chunks[i] < n {
			n = chunks[i]
		}
		r := bytes.NewReader(data[off : off+n])
		// Readers that hand out a few bytes at a time, like a slow network.
		switch i % 3 {
		case 1:
			writeFrom(t, s, id, int64(off), iotest.HalfReader(r), int64(n))
		case 2:
			writeFrom(t, s, id, int64(off), iotest.DataErrReader(r), int64(n))
		default:
			writeFrom(t, s, id, int64(off), r, int64(n))
		}
		off += n
	}
	d := commit(t, s, id, digest.SHA256, data)
	checkBlob(t, s, d, data)
}

func testReopen(t *testing.T, s blob.Store, reopen func(*testing.T, blob.Store) blob.Store) {
	ctx := context.Background()
	data := randBytes(11, 200_000)
	const id = "shared"
	create(t, s, id)
	write(t, s, id, 0, data[:70_000])

	other := reopen(t, s)
	if got := walkUploads(t, other)[id]; got != 70_000 {
		t.Fatalf("second store sees the upload with %d bytes, want 70000", got)
	}
	// Continue on the second store, retrying part of the first chunk.
	write(t, other, id, 50_000, data[50_000:150_000])
	write(t, s, id, 150_000, data[150_000:])
	d := commit(t, other, id, digest.SHA256, data)
	checkBlob(t, s, d, data)
	checkBlob(t, other, d, data)
	checkUploadGone(t, s, id)

	if err := other.Delete(ctx, d); err != nil {
		t.Fatalf("Delete through the second store: %v", err)
	}
	checkAbsent(t, s, d)
}
