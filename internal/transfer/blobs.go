package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// copyBlob sends one blob unless the destination has it.
func (c *copier) copyBlob(ctx context.Context, srcRepo, dstRepo name.Repository, d v1.Descriptor) error {
	ev := Event{Repo: dstRepo.String(), Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}
	if !d.MediaType.IsDistributable() {
		ev.Note = "non-distributable layer"
		c.emit(withKind(ev, BlobSkipped))
		return nil
	}
	there, err := c.dstGet.Layer(ctx, dstRepo.Digest(d.Digest.String()))
	if err != nil {
		return err
	}
	exists, err := partial.Exists(there)
	if err != nil {
		return fmt.Errorf("checking blob %s in %s: %w", d.Digest, dstRepo, err)
	}
	if exists {
		c.count(func(r *Report) { r.BlobsSkipped++ })
		c.emit(withKind(ev, BlobSkipped))
		return nil
	}
	from := srcRepo.Digest(d.Digest.String())
	b := &blob{c: c, desc: d, ev: ev, open: func() (io.ReadCloser, error) {
		l, err := c.src.Layer(ctx, from)
		if err != nil {
			return nil, err
		}
		return l.Compressed()
	}}
	var l v1.Layer = b
	if srcRepo.Registry.String() == dstRepo.Registry.String() && srcRepo.String() != dstRepo.String() {
		l = &remote.MountableLayer{Layer: b, Reference: from}
	}
	c.emit(withKind(ev, BlobStart))
	if err := c.dst.Upload(ctx, dstRepo, l); err != nil {
		return fmt.Errorf("copying blob %s to %s: %w", d.Digest, dstRepo, err)
	}
	if b.read.Load() == 0 && d.Size > 0 {
		c.count(func(r *Report) { r.BlobsMounted++ })
		c.emit(withKind(ev, BlobMounted))
		return nil
	}
	c.count(func(r *Report) { r.BlobsSent++; r.BytesSent += d.Size })
	c.emit(withKind(ev, BlobSent))
	return nil
}

// blob is a source blob as the v1.Layer go-containerregistry uploads: its
// descriptor from the manifest, its bytes read from the source (and
// verified against the digest there) as the upload asks for them.
type blob struct {
	c    *copier
	desc v1.Descriptor
	ev   Event
	open func() (io.ReadCloser, error)
	read atomic.Int64 // bytes read by the last attempt
}

var errNotNeeded = errors.New("transfer: not needed for a copy")

func (b *blob) Digest() (v1.Hash, error)             { return b.desc.Digest, nil }
func (b *blob) DiffID() (v1.Hash, error)             { return v1.Hash{}, errNotNeeded }
func (b *blob) Uncompressed() (io.ReadCloser, error) { return nil, errNotNeeded }
func (b *blob) Size() (int64, error)                 { return b.desc.Size, nil }
func (b *blob) MediaType() (types.MediaType, error)  { return b.desc.MediaType, nil }

// Compressed opens the source blob; every read is reported as BlobBytes.
func (b *blob) Compressed() (io.ReadCloser, error) {
	rc, err := b.open()
	if err != nil {
		return nil, err
	}
	b.read.Store(0)
	return &countingReader{rc: rc, b: b}, nil
}

var _ v1.Layer = (*blob)(nil)

type countingReader struct {
	rc io.ReadCloser
	b  *blob
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		done := r.b.read.Add(int64(n))
		e := withKind(r.b.ev, BlobBytes)
		e.Done = done
		r.b.c.emit(e)
	}
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }
