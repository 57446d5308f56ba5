package fs_test

import (
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/fs"
)

func newStore(t *testing.T) blob.Store {
	t.Helper()
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, newStore, blobtest.WithReopen(func(t *testing.T, s blob.Store) blob.Store {
		t.Helper()
		other, err := fs.New(s.(*fs.Store).Root())
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		return other
	}))
}
