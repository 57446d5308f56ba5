package fs

import (
	"io"
	"os"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

// DirectBytes is how many upload bytes s wrote with direct I/O.
func DirectBytes(s *Store) int64 { return s.directBytes.Load() }

// DirectReadBytes is how many blob bytes s read with direct I/O.
func DirectReadBytes(s *Store) int64 { return s.directReadBytes.Load() }

// DirectSupported says whether the filesystem under dir takes O_DIRECT.
func DirectSupported(dir string) bool {
	probe, err := os.CreateTemp(dir, "direct-probe-")
	if err != nil {
		return false
	}
	defer os.Remove(probe.Name())
	probe.Close()
	f, err := openDirect(probe.Name())
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// SetDirectMin sets how much of an upload goes through the page cache
// before direct I/O, until the test ends.
func SetDirectMin(t interface{ Cleanup(func()) }, n int64) {
	old := directMin
	directMin = n
	t.Cleanup(func() { directMin = old })
}

// SetColdMin lowers the size from which Open checks page-cache residency,
// until the test ends.
func SetColdMin(t interface{ Cleanup(func()) }, n int64) {
	old := coldMin
	coldMin = n
	t.Cleanup(func() { coldMin = old })
}

// Sender is what a cold blob's reader offers besides io.ReadSeekCloser.
type Sender interface {
	io.ReadSeekCloser
	SendTo(w io.Writer, n int64) (int64, error)
}

// OpenCold opens blob file path as a cold file whatever the page cache
// holds.
func OpenCold(s *Store, path string) (Sender, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &coldFile{File: f, size: fi.Size(), store: s}, nil
}

// HoldColdSends takes every direct-I/O send slot of s (further sends fall
// back to io.CopyN) until the returned func is called.
func HoldColdSends(s *Store) (release func()) {
	for i := 0; i < cap(s.coldSends); i++ {
		s.coldSends <- struct{}{}
	}
	return func() {
		for i := 0; i < cap(s.coldSends); i++ {
			<-s.coldSends
		}
	}
}

// BlobPath is where s keeps blob d.
func BlobPath(s *Store, d digest.Digest) string {
	alg, hex, _ := blob.SplitDigest(d)
	return s.blobPath(alg, hex)
}
