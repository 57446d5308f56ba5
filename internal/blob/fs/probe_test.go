package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, root string)
		wantErr bool
	}{
		{"a writable store", func(*testing.T, string) {}, false},
		{"uploads/ is gone", func(t *testing.T, root string) {
			if err := os.RemoveAll(filepath.Join(root, "uploads")); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"uploads/ is a file", func(t *testing.T, root string) {
			if err := os.RemoveAll(filepath.Join(root, "uploads")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "uploads"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s, err := fs.New(root)
			if err != nil {
				t.Fatal(err)
			}
			tt.breakIt(t, root)
			err = s.Probe(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Probe = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			entries, err := os.ReadDir(filepath.Join(root, "uploads"))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Fatalf("the probe left %d files in uploads/ (%s)", len(entries), entries[0].Name())
			}
			var ups []string
			if err := s.WalkUploads(context.Background(), func(u blob.UploadInfo) error { ups = append(ups, u.ID); return nil }); err != nil || len(ups) != 0 {
				t.Fatalf("WalkUploads after a probe = %v, %v", ups, err)
			}
		})
	}
	t.Run("a cancelled context", func(t *testing.T) {
		s, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Probe(ctx); err == nil {
			t.Fatal("Probe with a cancelled context succeeded")
		}
	})
}
