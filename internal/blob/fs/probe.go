package fs

import (
	"context"
	"fmt"
	"os"
)

// probeData is what a probe writes.
var probeData = []byte("berth readiness probe\n")

// Probe checks that the store can take writes: it creates a small file in
// uploads/ (where every push writes first), fsyncs and removes it. Its name
// starts with a dot, which no upload id does, so WalkUploads never sees
// it. A read-only or full file system, or a missing directory, fails it.
func (s *Store) Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.uploadDir, ".probe-*")
	if err != nil {
		return fmt.Errorf("blob/fs: write probe: %w", wrapNoSpace(err))
	}
	name := f.Name()
	_, err = f.Write(probeData)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("blob/fs: write probe: %w", wrapNoSpace(err))
	}
	return nil
}
