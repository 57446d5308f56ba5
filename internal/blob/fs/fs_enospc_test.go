package fs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/opencontainers/go-digest"
)

// mountTmpfs mounts a fresh tmpfs with the given mount options on a
// temporary directory and unmounts it when the test ends. It skips the test
// when it cannot mount (not root, or no CAP_SYS_ADMIN in a container).
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a small tmpfs to fill the disk needs root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("skipping: cannot mount a tmpfs (%v: %s); the ENOSPC paths stay untested here", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fakeData is an endless reader of a repeating non-zero byte pattern: byte
// i of the stream is i%251+1, however the reads are split.
type fakeData struct{ pos int64 }

var pattern = func() []byte {
	b := make([]byte, 64<<10+251)
	for i := range b {
		b[i] = byte(i%251 + 1)
	}
	return b
}()

func (f *fakeData) Read(p []byte) (int, error) {
	off := int(f.pos % 251)
	n := copy(p, pattern[off:off+64<<10])
	f.pos += int64(n)
	return n, nil
}

func TestNoSpaceWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, err := fs.New(mountTmpfs(t, "size=2m"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.CreateUpload(ctx, "huge"); err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	const want = 3 << 20 // more than the filesystem holds
	n, err := s.WriteUpload(ctx, "huge", 0, io.LimitReader(&fakeData{}, want))
	if !errors.Is(err, blob.ErrNoSpace) {
		t.Fatalf("WriteUpload of %d bytes to a 2 MiB filesystem: n=%d, error = %v; want ErrNoSpace", want, n, err)
	}
	if n <= 0 || n >= want {
		t.Errorf("WriteUpload reported %d bytes written, want some but not all", n)
	}
	// Neither what the client meant to send nor what got stored is visible.
	for _, d := range []digest.Digest{
		digestOf(t, io.LimitReader(&fakeData{}, want)),
		digestOf(t, io.LimitReader(&fakeData{}, n)),
	} {
		if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%s) error = %v, want ErrNotFound", d, err)
		}
	}
	countBlobs(t, s, 0)

	if err := s.AbortUpload(ctx, "huge"); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	// With the space back, a normal upload works.
	data := bytes.Repeat([]byte("berth"), 100_000)
	d := putBlob(t, s, "normal", data)
	checkContent(t, s, d, data)
}

func TestNoSpaceWhileCommitting(t *testing.T) {
	ctx := context.Background()
	// Few inodes: the commit's mkdir of blobs/sha256/<xx> is what fails.
	root := mountTmpfs(t, "size=2m,nr_inodes=16")
	s, err := fs.New(root)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	data := []byte("a blob whose directory cannot be created")
	d := digest.FromBytes(data)
	if err := s.CreateUpload(ctx, "up"); err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if _, err := s.WriteUpload(ctx, "up", 0, bytes.NewReader(data)); err != nil {
		t.Fatalf("WriteUpload: %v", err)
	}
	fillers := fillInodes(t, root)

	if err := s.CreateUpload(ctx, "another"); !errors.Is(err, blob.ErrNoSpace) {
		t.Errorf("CreateUpload with no inode left: error = %v, want ErrNoSpace", err)
	}
	err = s.CommitUpload(ctx, "up", d, int64(len(data)))
	if !errors.Is(err, blob.ErrNoSpace) {
		t.Fatalf("CommitUpload with no inode left: error = %v, want ErrNoSpace", err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after failed commit: error = %v, want ErrNotFound", err)
	}
	countBlobs(t, s, 0)

	// The upload survived the failed commit; once space is freed the same
	// commit succeeds.
	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CommitUpload(ctx, "up", d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload after freeing space: %v", err)
	}
	checkContent(t, s, d, data)
}

// fillInodes creates empty files under root until the filesystem runs out
// of inodes and returns their paths.
func fillInodes(t *testing.T, root string) []string {
	t.Helper()
	var paths []string
	for i := 0; ; i++ {
		p := filepath.Join(root, fmt.Sprintf("filler-%d", i))
		f, err := os.Create(p)
		if errors.Is(err, syscall.ENOSPC) {
			return paths
		}
		if err != nil {
			t.Fatalf("creating filler files: %v", err)
		}
		f.Close()
		paths = append(paths, p)
		if i > 1000 {
			t.Fatal("the filesystem does not run out of inodes")
		}
	}
}

func digestOf(t *testing.T, r io.Reader) digest.Digest {
	t.Helper()
	d, err := digest.FromReader(r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func putBlob(t *testing.T, s *fs.Store, id string, data []byte) digest.Digest {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateUpload(ctx, id); err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if _, err := s.WriteUpload(ctx, id, 0, bytes.NewReader(data)); err != nil {
		t.Fatalf("WriteUpload: %v", err)
	}
	d := digest.FromBytes(data)
	if err := s.CommitUpload(ctx, id, d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	return d
}

func checkContent(t *testing.T, s *fs.Store, d digest.Digest, want []byte) {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open(%s): %v", d, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("blob %s: read %d bytes (err %v), want %d", d, len(got), err, len(want))
	}
}

func countBlobs(t *testing.T, s *fs.Store, want int) {
	t.Helper()
	n := 0
	if err := s.Walk(context.Background(), func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if n != want {
		t.Errorf("Walk found %d blobs, want %d", n, want)
	}
}

// TestNoSpaceWhilePutting: a whole-blob put that fills the filesystem fails
// with ErrNoSpace, leaves nothing visible and frees what it wrote, so the
// next put fits.
func TestNoSpaceWhilePutting(t *testing.T) {
	ctx := context.Background()
	s, err := fs.New(mountTmpfs(t, "size=2m"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	const want = 3 << 20
	d := digestOf(t, io.LimitReader(&fakeData{}, want))
	checked := false
	_, err = s.PutBlob(ctx, d, io.LimitReader(&fakeData{}, want), func(int64) error { checked = true; return nil })
	if !errors.Is(err, blob.ErrNoSpace) {
		t.Fatalf("PutBlob of %d bytes to a 2 MiB filesystem: error = %v; want ErrNoSpace", want, err)
	}
	if checked {
		t.Errorf("check was called after a failed copy")
	}
	countBlobs(t, s, 0)
	// Most of the filesystem again: only fits if the failed put freed its file.
	data := bytes.Repeat([]byte("berth"), 300_000)
	d = digest.FromBytes(data)
	if _, err := s.PutBlob(ctx, d, bytes.NewReader(data), func(int64) error { return nil }); err != nil {
		t.Fatalf("PutBlob after the failed one: %v", err)
	}
	checkContent(t, s, d, data)
}
