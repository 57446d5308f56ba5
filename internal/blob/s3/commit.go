package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
)

// CommitUpload makes the upload's first size bytes the blob d.
//
// An upload smaller than one part is a single server-side copy of its tail
// to the blob's key. A larger one sends its tail as the last part,
// completes the multipart upload into uploads/<id>/data and copies that to
// the blob's key (S3 cannot rename, and the key is only known now). The blob
// appears atomically with that copy. Then the upload's objects are removed.
// If the commit fails after the multipart upload was completed, a retry
// finds the data object and copies it.
func (s *Store) CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) error {
	if !blob.ValidUploadID(id) {
		return uploadNotFound(id)
	}
	alg, hex, ok := blob.SplitDigest(d)
	if !ok {
		return fmt.Errorf("blob/s3: commit upload %q: invalid or unsupported digest %q", id, d)
	}
	if size < 0 {
		return fmt.Errorf("blob/s3: commit upload %q: negative size %d", id, size)
	}
	u, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.Stat(ctx, d); err == nil {
		return s.removeUpload(ctx, u)
	} else if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	dst := s.blobKey(alg, hex)
	if u.data == size && u.info.Multipart == "" {
		// An earlier commit completed the multipart upload and failed later.
		if err := s.copyObject(ctx, s.dataKey(id), dst, size); err != nil {
			return fmt.Errorf("blob/s3: commit upload %q: %w", id, err)
		}
		return s.removeUpload(ctx, u)
	}
	if have := u.size(); size > have {
		return fmt.Errorf("%w: commit upload %q of %d bytes, it holds %d", blob.ErrInvalidOffset, id, size, have)
	} else if size < have {
		if err := s.rewind(ctx, u, size); err != nil {
			return err
		}
	}
	t := u.cur()
	k := u.parts()
	if k == 0 {
		err = s.copyObject(ctx, s.tailKey(id, t.base), dst, t.size)
		if err != nil && t.size == 0 && isNotFound(err) {
			err = s.put(ctx, dst, nil) // the implicit empty tail
		}
		if err != nil {
			return fmt.Errorf("blob/s3: commit upload %q: %w", id, err)
		}
		return s.removeUpload(ctx, u)
	}
	parts, err := s.partList(ctx, u, k)
	if err != nil {
		return err
	}
	data := s.dataKey(id)
	if t.size > 0 {
		p, err := s.core.CopyObjectPart(ctx, s.bucket, s.tailKey(id, t.base), s.bucket, data, u.info.Multipart, k+1, 0, t.size, nil)
		if err != nil {
			if isNoSuchUpload(err) {
				return uploadNotFound(id)
			}
			return fmt.Errorf("blob/s3: commit upload %q: last part: %w", id, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: k + 1, ETag: p.ETag})
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, data, u.info.Multipart, parts, minio.PutObjectOptions{}); err != nil {
		if isNoSuchUpload(err) {
			return uploadNotFound(id)
		}
		return fmt.Errorf("blob/s3: commit upload %q: complete multipart upload: %w", id, err)
	}
	// Record that the multipart upload is gone, so a retry uses the data object.
	u.info.Multipart = ""
	if err := s.putInfo(ctx, u); err != nil {
		return err
	}
	if err := s.copyObject(ctx, data, dst, size); err != nil {
		return fmt.Errorf("blob/s3: commit upload %q: %w", id, err)
	}
	return s.removeUpload(ctx, u)
}

// copyObject copies src to dst server-side; objects above 5 GiB go through
// a multipart copy.
func (s *Store) copyObject(ctx context.Context, src, dst string, size int64) error {
	from := minio.CopySrcOptions{Bucket: s.bucket, Object: src}
	to := minio.CopyDestOptions{Bucket: s.bucket, Object: dst}
	var err error
	if size <= maxCopySize {
		_, err = s.client.CopyObject(ctx, to, from)
	} else {
		to.PartSize = uint64(s.cfg.PartSize)
		if to.PartSize < 512<<20 {
			to.PartSize = 512 << 20 // fewer, larger copy parts; at most 10000
		}
		_, err = s.client.ComposeObject(ctx, to, from)
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// AbortUpload removes everything the upload has in the bucket: its info
// object first (from then on it is gone for every node), its multipart
// uploads, tails and data object.
func (s *Store) AbortUpload(ctx context.Context, id string) error {
	if !blob.ValidUploadID(id) {
		return uploadNotFound(id)
	}
	u, err := s.list(ctx, id)
	if err != nil {
		return err
	}
	mpus, err := s.multipartUploads(ctx, s.dataKey(id))
	if err != nil {
		return err
	}
	if !u.anything && len(mpus) == 0 {
		return uploadNotFound(id)
	}
	return s.removeUpload(ctx, u)
}

// removeUpload deletes the info object, aborts every multipart upload on the
// data key, and deletes the tails and the data object.
func (s *Store) removeUpload(ctx context.Context, u *upload) error {
	if err := s.remove(ctx, s.infoKey(u.id)); err != nil {
		return fmt.Errorf("blob/s3: remove upload %q: %w", u.id, err)
	}
	mpus, err := s.multipartUploads(ctx, s.dataKey(u.id))
	if err != nil {
		return err
	}
	for _, m := range mpus {
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, m.Key, m.UploadID); err != nil && !isNoSuchUpload(err) {
			return fmt.Errorf("blob/s3: remove upload %q: abort multipart upload: %w", u.id, err)
		}
	}
	// List again: another node may have written a tail meanwhile.
	rest, err := s.list(ctx, u.id)
	if err != nil {
		return err
	}
	keys := []string{s.dataKey(u.id)}
	for _, t := range rest.tails {
		keys = append(keys, s.tailKey(u.id, t.base))
	}
	for _, key := range keys {
		if err := s.remove(ctx, key); err != nil && !isNotFound(err) {
			return fmt.Errorf("blob/s3: remove upload %q: %w", u.id, err)
		}
	}
	return nil
}

// multipartUploads lists the unfinished multipart uploads whose key starts
// with prefix.
func (s *Store) multipartUploads(ctx context.Context, prefix string) ([]minio.ObjectMultipartInfo, error) {
	var out []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, fmt.Errorf("blob/s3: list multipart uploads: %w", err)
		}
		out = append(out, res.Uploads...)
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return out, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// WalkUploads reports every upload with objects under uploads/, and every
// multipart upload on an uploads/<id>/data key whose upload has no objects
// left (an orphan of a crash), so that the purger aborts them too.
func (s *Store) WalkUploads(ctx context.Context, fn func(blob.UploadInfo) error) error {
	type entry struct {
		info  blob.UploadInfo
		tails []tailRef
	}
	found := map[string]*entry{}
	var order []string
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + uploadsDir, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("blob/s3: walk uploads: %w", oi.Err)
		}
		id, name, ok := s.parseUploadKey(oi.Key)
		if !ok {
			continue
		}
		e := found[id]
		if e == nil {
			e = &entry{info: blob.UploadInfo{ID: id}}
			found[id] = e
			order = append(order, id)
		}
		if oi.LastModified.After(e.info.ModTime) {
			e.info.ModTime = oi.LastModified
		}
		if base, ok := parseTailName(name); ok && base+oi.Size > e.info.Size {
			// The highest tail is the longest: every base is a part boundary
			// and every tail is shorter than a part.
			e.info.Size = base + oi.Size
		}
	}
	mpus, err := s.multipartUploads(ctx, s.prefix+uploadsDir)
	if err != nil {
		return err
	}
	for _, m := range mpus {
		id, name, ok := s.parseUploadKey(m.Key)
		if !ok || name != dataName || found[id] != nil {
			continue
		}
		mod := m.Initiated
		if mod.IsZero() {
			mod = time.Unix(0, 0)
		}
		found[id] = &entry{info: blob.UploadInfo{ID: id, ModTime: mod}}
		order = append(order, id)
	}
	for _, id := range order {
		if err := fn(found[id].info); err != nil {
			return err
		}
	}
	return nil
}

// ReadUpload returns a reader over the first size bytes of an upload, for
// re-hashing with another algorithm. An upload that fits its tail is read
// directly. A larger one must be made readable first: its multipart upload
// is completed into the data object and restarted with the parts copied
// server-side (slow, and costs a copy of the upload).
func (s *Store) ReadUpload(ctx context.Context, id string, size int64) (io.ReadCloser, error) {
	u, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > u.size() {
		return nil, fmt.Errorf("%w: read %d bytes of upload %q, it holds %d", blob.ErrInvalidOffset, size, id, u.size())
	}
	t := u.cur()
	k := u.parts()
	if k == 0 {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(s.getInto(ctx, s.tailKey(id, t.base), 0, size, pw)) }()
		return pr, nil
	}
	if err := s.materialize(ctx, u, k); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		// The data object goes before the reader can see the end, since
		// the caller may commit (into the data key) right after.
		err := s.getInto(ctx, s.dataKey(id), 0, min(size, t.base), pw)
		if rerr := s.remove(context.WithoutCancel(ctx), s.dataKey(id)); err == nil && rerr != nil {
			err = rerr
		}
		if err == nil && size > t.base {
			err = s.getInto(ctx, s.tailKey(id, t.base), 0, size-t.base, pw)
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}
