package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/opencontainers/go-digest"
)

// testConcurrentUploads runs uploads in parallel goroutines: some of
// distinct content, some all pushing the same blob, as parallel pushes of
// images sharing a base layer do.
func testConcurrentUploads(t *testing.T, s blob.Store) {
	const workers = 8
	shared := randBytes(1000, 300_000)
	distinct := make([][]byte, workers)
	for i := range distinct {
		distinct[i] = randBytes(uint64(2000+i), 100_000+i*777)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for i := 0; i < workers; i++ {
		for _, job := range []struct {
			id   string
			data []byte
		}{
			{fmt.Sprintf("distinct-%d", i), distinct[i]},
			{fmt.Sprintf("shared-%d", i), shared},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- uploadInChunks(s, job.id, job.data, 10_000+i*1000)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	for _, data := range distinct {
		checkBlob(t, s, digest.FromBytes(data), data)
	}
	checkBlob(t, s, digest.FromBytes(shared), shared)
	if got := walkBlobs(t, s); len(got) != workers+1 {
		t.Errorf("Walk reports %d blobs, want %d", len(got), workers+1)
	}
	if got := walkUploads(t, s); len(got) != 0 {
		t.Errorf("uploads left after all commits: %v", got)
	}
}

// uploadInChunks creates, writes (in chunk-sized writes) and commits one
// upload, reporting failures as an error so it can run off the test goroutine.
func uploadInChunks(s blob.Store, id string, data []byte, chunk int) error {
	ctx := context.Background()
	if err := s.CreateUpload(ctx, id); err != nil {
		return fmt.Errorf("CreateUpload(%q): %w", id, err)
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		n, err := s.WriteUpload(ctx, id, int64(off), bytes.NewReader(data[off:end]))
		if err != nil || n != int64(end-off) {
			return fmt.Errorf("WriteUpload(%q, %d) = %d, %v; want %d bytes", id, off, n, err, end-off)
		}
	}
	if err := s.CommitUpload(ctx, id, digest.FromBytes(data), int64(len(data))); err != nil {
		return fmt.Errorf("CommitUpload(%q): %w", id, err)
	}
	return nil
}
