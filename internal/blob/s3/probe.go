package s3

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
)

// probeData is what a probe writes.
var probeData = []byte("berth readiness probe\n")

// Probe checks that the bucket takes writes: it puts a tiny object under
// uploads/ and deletes it. Its key (<prefix>uploads/.probe-<random>) has no
// upload id segment, so WalkUploads never reports it.
func (s *Store) Probe(ctx context.Context) error {
	var b [8]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	key := s.prefix + uploadsDir + ".probe-" + hex.EncodeToString(b[:])
	if err := s.put(ctx, key, probeData); err != nil {
		return fmt.Errorf("blob/s3: write probe: %w", err)
	}
	if err := s.remove(ctx, key); err != nil {
		return fmt.Errorf("blob/s3: remove probe: %w", err)
	}
	return nil
}
