package s3_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
)

// TestProbe: a probe succeeds on a live bucket and leaves nothing behind,
// neither an object nor an upload WalkUploads would report.
func TestProbe(t *testing.T) {
	cfg := serverConfig(t)
	s := open(t, cfg)
	ctx := context.Background()
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			if err := s.Probe(ctx); err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if keys := objectKeys(t, rawClient(t, cfg), cfg, ""); len(keys) != 0 {
				t.Fatalf("objects left after a probe: %v", keys)
			}
			var ups []string
			if err := s.WalkUploads(ctx, func(u blob.UploadInfo) error { ups = append(ups, u.ID); return nil }); err != nil || len(ups) != 0 {
				t.Fatalf("WalkUploads after a probe = %v, %v", ups, err)
			}
		})
	}
	t.Run("a cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Probe(cctx); err == nil {
			t.Fatal("Probe with a cancelled context succeeded")
		}
	})
}
