package transfer

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// copyBlobs copies the blobs the destination lacks, c.jobs at a time.
func (c *copier) copyBlobs(ctx context.Context, srcRepo, dstRepo name.Repository, descs []v1.Descriptor) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.jobs)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for _, d := range descs {
		if !c.once(c.blobs, dstRepo.String()+"@"+d.Digest.String()) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.copyBlob(ctx, srcRepo, dstRepo, d); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// copyBlob sends one blob unless the destination has it, trying again
// (from the HEAD on) after a failure that may pass.
func (c *copier) copyBlob(ctx context.Context, srcRepo, dstRepo name.Repository, d v1.Descriptor) error {
	ev := blobEvent(dstRepo, d)
	if !d.MediaType.IsDistributable() {
		ev.Note = "non-distributable layer"
		c.emit(withKind(ev, BlobSkipped))
		return nil
	}
	from := srcRepo.Digest(d.Digest.String())
	var mountFrom *name.Repository
	if srcRepo.Registry.String() == dstRepo.Registry.String() && srcRepo.String() != dstRepo.String() {
		mountFrom = &srcRepo
	}
	open := func() (io.ReadCloser, error) {
		l, err := c.src.Layer(ctx, from)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		return &countingReader{rc: rc, c: c, ev: ev}, nil
	}
	var (
		res blobResult
		err error
	)
	for attempt := 0; ; attempt++ {
		res, err = c.uploadBlob(noRetry(ctx), dstRepo, d, mountFrom, open)
		if err == nil || attempt >= len(retryWaits) || !temporary(err) {
			break
		}
		if serr := sleep(ctx, retryWaits[attempt]); serr != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("copying blob %s to %s: %w", d.Digest, dstRepo, err)
	}
	switch res {
	case blobThere:
		c.count(func(r *Report) { r.BlobsSkipped++ })
		c.emit(withKind(ev, BlobSkipped))
	case blobMounted:
		c.count(func(r *Report) { r.BlobsMounted++ })
		c.emit(withKind(ev, BlobMounted))
	default:
		c.count(func(r *Report) { r.BlobsSent++; r.BytesSent += d.Size })
		c.emit(withKind(ev, BlobSent))
	}
	return nil
}

func blobEvent(dstRepo name.Repository, d v1.Descriptor) Event {
	return Event{Repo: dstRepo.String(), Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}
}

// countingReader reports every read of a blob's bytes as BlobBytes.
type countingReader struct {
	rc   io.ReadCloser
	c    *copier
	ev   Event
	done int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.done += int64(n)
		e := withKind(r.ev, BlobBytes)
		e.Done = r.done
		r.c.emit(e)
	}
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }
