package fs_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/opencontainers/go-digest"
)

func TestLayout(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("layout")
	if err := s.CreateUpload(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "uploads", "abc")); err != nil {
		t.Errorf("upload file not at uploads/abc: %v", err)
	}
	if _, err := s.WriteUpload(ctx, "abc", 0, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []digest.Algorithm{digest.SHA512} {
		d := alg.FromBytes(data)
		if err := s.CommitUpload(ctx, "abc", d, int64(len(data))); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, "blobs", string(alg), d.Encoded()[:2], d.Encoded())
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("blob not at %s: %v", p, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "uploads"))
	if err != nil || len(entries) != 0 {
		t.Errorf("uploads/ holds %d entries after commit (err %v), want 0", len(entries), err)
	}
}

func TestOpenReturnsFile(t *testing.T) {
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := putBlob(t, s, "f", []byte("sendfile me"))
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*os.File); !ok {
		t.Errorf("Open returned %T, want *os.File so net/http can use sendfile", r)
	}
}

func TestWalkSkipsStrayFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	d := putBlob(t, s, "real", []byte("real"))
	if err := s.CreateUpload(ctx, "open"); err != nil {
		t.Fatal(err)
	}
	hex := d.Encoded()
	other := strings.Repeat("0", 64)
	strays := []string{
		"blobs/sha256/" + hex[:2] + "/" + hex + ".tmp",
		"blobs/sha256/" + hex[:2] + "/" + strings.ToUpper(hex),
		"blobs/sha256/" + hex[:2] + "/" + other, // wrong prefix directory
		"blobs/sha256/zz/" + strings.Repeat("z", 64),
		"blobs/sha256/" + hex[:2] + "x/" + hex,
		"blobs/sha256/stray",
		"blobs/md5/" + hex[:2] + "/" + hex[:32],
		"blobs/stray",
		"uploads/.hidden",
		"uploads/bad name",
		"uploads/dir/file",
	}
	for _, p := range strays {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("stray"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory named like a blob is not a blob either.
	if err := os.MkdirAll(filepath.Join(root, "blobs/sha256/00", other), 0o755); err != nil {
		t.Fatal(err)
	}

	var blobs []digest.Digest
	if err := s.Walk(ctx, func(info blob.Info) error {
		blobs = append(blobs, info.Digest)
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(blobs) != 1 || blobs[0] != d {
		t.Errorf("Walk = %v, want only %s", blobs, d)
	}
	var ids []string
	if err := s.WalkUploads(ctx, func(info blob.UploadInfo) error {
		ids = append(ids, info.ID)
		return nil
	}); err != nil {
		t.Fatalf("WalkUploads: %v", err)
	}
	if len(ids) != 1 || ids[0] != "open" {
		t.Errorf("WalkUploads = %v, want only open", ids)
	}
}

func TestHostileIDStaysInside(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"../escape", "../../escape", "../uploads-x"} {
		if err := s.CreateUpload(ctx, id); err == nil {
			t.Errorf("CreateUpload(%q) succeeded", id)
		}
	}
	for _, p := range []string{filepath.Join(root, "escape"), filepath.Join(parent, "escape"), filepath.Join(root, "uploads-x")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists (err %v): an upload id escaped the uploads directory", p, err)
		}
	}
}

func TestNewRejectsEmptyRoot(t *testing.T) {
	if _, err := fs.New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
	// A root under a regular file cannot be created.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.New(filepath.Join(f, "root")); err == nil {
		t.Error("New under a regular file succeeded")
	}
}

// BenchmarkWriteCommit streams a 256 MiB blob through WriteUpload in 16 MiB
// requests and commits it (fsync included); hashing is left to the caller,
// as in the registry. Run with: go test -bench WriteCommit ./internal/blob/fs
func BenchmarkWriteCommit(b *testing.B) {
	ctx := context.Background()
	s, err := fs.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	const size, chunk = 256 << 20, 16 << 20
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		id := "bench"
		if err := s.CreateUpload(ctx, id); err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < size; off += chunk {
			// A reader without WriterTo, like an HTTP request body.
			r := io.LimitReader(&fakeData{}, chunk)
			if _, err := s.WriteUpload(ctx, id, off, r); err != nil {
				b.Fatal(err)
			}
		}
		// Distinct fake digests so every iteration really commits.
		d := digest.FromBytes([]byte{byte(i), byte(i >> 8)})
		if err := s.CommitUpload(ctx, id, d, size); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}
