package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/berth-registry/berth/internal/blob"
)

// An upload of part size P is, at any moment:
//
//   - parts 1…k of the multipart upload on uploads/<id>/data, each exactly
//     P bytes: the upload's bytes [0, kP);
//   - the tail object tail-<kP>: the bytes [kP, size), fewer than P.
//
// The tail with the highest base offset defines the upload (its size is
// base + tail length); a tail that does not exist counts as an empty
// tail-0. Every tail that exists is a true snapshot: its bytes are the
// upload's bytes at its offsets, and parts 1…base/P hold the bytes before
// it. Keeping that true is what makes every step crash-safe:
//
//   - An append buffers the current tail plus new bytes, uploads each full
//     part (numbers above k, which no tail refers to), then writes the new
//     tail. A crash before that last PUT leaves the old tail in charge and
//     the new parts unreferenced (the next append overwrites them).
//   - Truncating to an offset inside a tail first deletes the tails above
//     it, highest first, then rewrites that tail shortened.
//   - After an append that crossed a part boundary the tail it started from
//     is kept (older ones are deleted): it is the checkpoint that lets a
//     retry of that same write - the only rewind the registry service ever
//     makes - restart cheaply. Rewinding further back, into bytes that are
//     only in parts, cannot read the parts (S3 does not serve unfinished
//     multipart uploads): rewind completes the multipart upload, starts a
//     new one with the kept parts copied server-side, and reads the new
//     tail back. That path is slow and, unlike the others, not crash-safe.

// uploadInfo is the JSON in uploads/<id>/info.
type uploadInfo struct {
	PartSize  int64     `json:"partSize"`
	Multipart string    `json:"multipart,omitempty"` // S3 UploadId on the data key
	Created   time.Time `json:"created"`
}

type tailRef struct {
	base, size int64
}

// upload is an upload's state as read from the bucket.
type upload struct {
	id       string
	info     uploadInfo
	hasInfo  bool
	tails    []tailRef // by base, ascending
	data     int64     // size of the data object, -1 when absent
	modTime  time.Time
	anything bool // any object exists under uploads/<id>/
}

// cur is the tail that defines the upload.
func (u *upload) cur() tailRef {
	if len(u.tails) == 0 {
		return tailRef{}
	}
	return u.tails[len(u.tails)-1]
}

func (u *upload) size() int64 { c := u.cur(); return c.base + c.size }

// parts is k, the number of full parts before the current tail.
func (u *upload) parts() int { return int(u.cur().base / u.info.PartSize) }

func uploadNotFound(id string) error {
	return fmt.Errorf("%w: %q", blob.ErrUploadNotFound, id)
}

// list reads what exists of upload id (one LIST), without the info body.
func (s *Store) list(ctx context.Context, id string) (*upload, error) {
	u := &upload{id: id, data: -1}
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.uploadDir(id), Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("blob/s3: upload %q: list: %w", id, oi.Err)
		}
		_, name, ok := s.parseUploadKey(oi.Key)
		if !ok {
			continue
		}
		u.anything = true
		if oi.LastModified.After(u.modTime) {
			u.modTime = oi.LastModified
		}
		switch name {
		case infoName:
			u.hasInfo = true
		case dataName:
			u.data = oi.Size
		default:
			if base, ok := parseTailName(name); ok {
				u.tails = append(u.tails, tailRef{base: base, size: oi.Size})
			}
		}
	}
	slices.SortFunc(u.tails, func(a, b tailRef) int { return int(a.base - b.base) })
	return u, nil
}

// load reads upload id's full state, or returns ErrUploadNotFound.
func (s *Store) load(ctx context.Context, id string) (*upload, error) {
	if !blob.ValidUploadID(id) {
		return nil, uploadNotFound(id)
	}
	u, err := s.list(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.hasInfo {
		return nil, uploadNotFound(id)
	}
	b, err := s.getBytes(ctx, s.infoKey(id), 0, -1)
	if err != nil {
		if isNotFound(err) {
			return nil, uploadNotFound(id)
		}
		return nil, fmt.Errorf("blob/s3: upload %q: read info: %w", id, err)
	}
	if err := json.Unmarshal(b, &u.info); err != nil || u.info.PartSize < MinPartSize || u.info.PartSize > MaxPartSize {
		return nil, fmt.Errorf("blob/s3: upload %q: corrupt info object", id)
	}
	return u, nil
}

// getBytes reads n bytes of key from off (n < 0: to the end).
func (s *Store) getBytes(ctx context.Context, key string, off, n int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.getInto(ctx, key, off, n, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// getInto copies n bytes of key from off (n < 0: to the end) into w.
func (s *Store) getInto(ctx context.Context, key string, off, n int64, w io.Writer) error {
	if n == 0 {
		return nil
	}
	opts := minio.GetObjectOptions{}
	if off > 0 || n > 0 {
		end := int64(0)
		if n > 0 {
			end = off + n - 1
		}
		if err := opts.SetRange(off, end); err != nil {
			return err
		}
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.Copy(w, rc)
	if err != nil {
		return err
	}
	if n > 0 && got != n {
		return fmt.Errorf("blob/s3: %s: read %d bytes at %d, want %d", key, got, off, n)
	}
	return nil
}

func (s *Store) put(ctx context.Context, key string, b []byte) error {
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), "", "", minio.PutObjectOptions{})
	return err
}

func (s *Store) remove(ctx context.Context, key string) error {
	return s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
}

func (s *Store) putInfo(ctx context.Context, u *upload) error {
	b, err := json.Marshal(u.info)
	if err != nil {
		return err
	}
	if err := s.put(ctx, s.infoKey(u.id), b); err != nil {
		return fmt.Errorf("blob/s3: upload %q: write info: %w", u.id, err)
	}
	return nil
}

// CreateUpload writes the upload's info object. The id must match
// [A-Za-z0-9_-]{1,128} and must not be in use.
func (s *Store) CreateUpload(ctx context.Context, id string) error {
	if !blob.ValidUploadID(id) {
		return fmt.Errorf("blob/s3: invalid upload id %q", id)
	}
	u, err := s.list(ctx, id)
	if err != nil {
		return err
	}
	if u.hasInfo {
		return fmt.Errorf("blob/s3: upload %q already exists: %w", id, fs.ErrExist)
	}
	if u.anything {
		// Leftovers of an aborted upload under the same id.
		if err := s.removeUpload(ctx, u); err != nil {
			return err
		}
		u = &upload{id: id, data: -1}
	}
	u.info = uploadInfo{PartSize: s.cfg.PartSize, Created: time.Now().UTC()}
	return s.putInfo(ctx, u)
}

// WriteUpload discards whatever the upload holds from offset on, then
// appends r. Bytes read from r are stored before an error from r is
// returned; n counts the bytes consumed and durably stored.
func (s *Store) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	if offset < 0 {
		if !blob.ValidUploadID(id) {
			return 0, uploadNotFound(id)
		}
		return 0, fmt.Errorf("%w: negative offset %d", blob.ErrInvalidOffset, offset)
	}
	u, err := s.load(ctx, id)
	if err != nil {
		return 0, err
	}
	if size := u.size(); offset > size {
		return 0, fmt.Errorf("%w: upload %q holds %d bytes, write at %d", blob.ErrInvalidOffset, id, size, offset)
	} else if offset < size {
		if err := s.rewind(ctx, u, offset); err != nil {
			return 0, err
		}
	}
	return s.appendTo(ctx, u, r)
}

// rewind shortens the upload to offset (< its size).
func (s *Store) rewind(ctx context.Context, u *upload, offset int64) error {
	i := len(u.tails) - 1
	for ; i >= 0; i-- {
		t := u.tails[i]
		if t.base <= offset && offset <= t.base+t.size {
			break
		}
	}
	if i < 0 && offset > 0 {
		return s.rewindParts(ctx, u, offset)
	}
	// offset lies in tail i (or in the implicit empty tail-0).
	for j := len(u.tails) - 1; j > i; j-- {
		if err := s.remove(ctx, s.tailKey(u.id, u.tails[j].base)); err != nil {
			return fmt.Errorf("blob/s3: upload %q: %w", u.id, err)
		}
	}
	u.tails = u.tails[:i+1]
	if i < 0 {
		return nil
	}
	t := &u.tails[i]
	if keep := offset - t.base; keep < t.size {
		key := s.tailKey(u.id, t.base)
		b, err := s.getBytes(ctx, key, 0, keep)
		if err == nil {
			err = s.put(ctx, key, b)
		}
		if err != nil {
			return fmt.Errorf("blob/s3: upload %q: shorten tail: %w", u.id, err)
		}
		t.size = keep
	}
	return nil
}

// appendTo appends r at the end of the upload.
func (s *Store) appendTo(ctx context.Context, u *upload, r io.Reader) (int64, error) {
	start := u.cur()
	p := u.info.PartSize
	// The buffer grows with what arrives, up to one part: a small blob costs
	// about its own size, not a whole part.
	var buf []byte
	if start.size > 0 {
		b, err := s.getBytes(ctx, s.tailKey(u.id, start.base), 0, start.size)
		if err != nil {
			return 0, fmt.Errorf("blob/s3: upload %q: read tail: %w", u.id, err)
		}
		buf = make([]byte, len(b), growTo(int64(len(b)), p))
		copy(buf, b)
	} else {
		buf = make([]byte, 0, growTo(0, p))
	}
	base := start.base
	var rerr error
	for {
		if err := ctx.Err(); err != nil {
			rerr = err
			break
		}
		if len(buf) == cap(buf) && int64(cap(buf)) < p {
			grown := make([]byte, len(buf), growTo(int64(cap(buf)), p))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) == p {
			part := int(base/p) + 1
			if err := s.uploadPart(ctx, u, part, buf); err != nil {
				return 0, err // the old tail still rules: nothing was stored
			}
			base += p
			buf = buf[:0]
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break // the body ended (ReadFull says "unexpected" when it ended mid-buffer)
		}
		if err != nil {
			rerr = err
			break
		}
	}
	filled := len(buf)
	// Store what was read even if the client went away meanwhile.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	n := base + int64(filled) - (start.base + start.size)
	if n == 0 {
		return 0, readErr(u.id, rerr)
	}
	if err := s.put(sctx, s.tailKey(u.id, base), buf[:filled]); err != nil {
		return 0, fmt.Errorf("blob/s3: upload %q: write tail: %w", u.id, err)
	}
	if base != start.base {
		// Keep the tail this write started from as its checkpoint; drop older.
		for _, t := range u.tails {
			if t.base < start.base {
				if err := s.remove(sctx, s.tailKey(u.id, t.base)); err != nil {
					break // harmless leftovers, removed with the upload
				}
			}
		}
	}
	return n, readErr(u.id, rerr)
}

func readErr(id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("blob/s3: upload %q: read upload body: %w", id, err)
}

// uploadPart stores b as part number part, starting the multipart upload
// first if the upload has none yet.
func (s *Store) uploadPart(ctx context.Context, u *upload, part int, b []byte) error {
	if u.info.Multipart == "" {
		mpu, err := s.core.NewMultipartUpload(ctx, s.bucket, s.dataKey(u.id), minio.PutObjectOptions{})
		if err != nil {
			return fmt.Errorf("blob/s3: upload %q: start multipart upload: %w", u.id, err)
		}
		u.info.Multipart = mpu
		if err := s.putInfo(ctx, u); err != nil {
			return err
		}
	}
	_, err := s.core.PutObjectPart(ctx, s.bucket, s.dataKey(u.id), u.info.Multipart, part,
		bytes.NewReader(b), int64(len(b)), minio.PutObjectPartOptions{})
	if err != nil {
		if isNoSuchUpload(err) {
			return uploadNotFound(u.id)
		}
		return fmt.Errorf("blob/s3: upload %q: part %d: %w", u.id, part, err)
	}
	return nil
}

// growTo is the next buffer capacity after have bytes: 1 MiB to start,
// then doubling, never past one part.
func growTo(have, part int64) int {
	next := max(2*have, 1<<20)
	return int(min(next, part))
}

// partList returns the completed-part list for parts 1…k, checking each
// exists with the upload's part size.
func (s *Store) partList(ctx context.Context, u *upload, k int) ([]minio.CompletePart, error) {
	if k == 0 {
		return nil, nil
	}
	if u.info.Multipart == "" {
		return nil, fmt.Errorf("blob/s3: upload %q: %d parts expected but no multipart upload", u.id, k)
	}
	got := make(map[int]minio.ObjectPart, k)
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, s.dataKey(u.id), u.info.Multipart, marker, 1000)
		if err != nil {
			if isNoSuchUpload(err) {
				return nil, uploadNotFound(u.id)
			}
			return nil, fmt.Errorf("blob/s3: upload %q: list parts: %w", u.id, err)
		}
		for _, p := range res.ObjectParts {
			got[p.PartNumber] = p
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	parts := make([]minio.CompletePart, k)
	for i := 1; i <= k; i++ {
		p, ok := got[i]
		if !ok || p.Size != u.info.PartSize {
			return nil, fmt.Errorf("blob/s3: upload %q: part %d missing or of the wrong size", u.id, i)
		}
		parts[i-1] = minio.CompletePart{PartNumber: i, ETag: p.ETag}
	}
	return parts, nil
}

// materialize turns parts 1…k into the readable object uploads/<id>/data
// and starts a fresh multipart upload holding copies of parts 1…keep
// (keep <= k), recorded in the info object. The caller removes the data
// object when done with it.
func (s *Store) materialize(ctx context.Context, u *upload, keep int) error {
	k := u.parts()
	parts, err := s.partList(ctx, u, k)
	if err != nil {
		return err
	}
	key := s.dataKey(u.id)
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, u.info.Multipart, parts, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("blob/s3: upload %q: complete multipart upload: %w", u.id, err)
	}
	u.info.Multipart = ""
	if keep > 0 {
		mpu, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{})
		if err != nil {
			return fmt.Errorf("blob/s3: upload %q: start multipart upload: %w", u.id, err)
		}
		p := u.info.PartSize
		for i := 1; i <= keep; i++ {
			if _, err := s.core.CopyObjectPart(ctx, s.bucket, key, s.bucket, key, mpu, i, int64(i-1)*p, p, nil); err != nil {
				return fmt.Errorf("blob/s3: upload %q: copy part %d: %w", u.id, i, err)
			}
		}
		u.info.Multipart = mpu
	}
	return s.putInfo(ctx, u)
}

// rewindParts shortens the upload to an offset that only the parts hold.
func (s *Store) rewindParts(ctx context.Context, u *upload, offset int64) error {
	p := u.info.PartSize
	keep := int(offset / p)
	if err := s.materialize(ctx, u, keep); err != nil {
		return err
	}
	base := int64(keep) * p
	b, err := s.getBytes(ctx, s.dataKey(u.id), base, offset-base)
	if err != nil {
		return fmt.Errorf("blob/s3: upload %q: read back: %w", u.id, err)
	}
	for j := len(u.tails) - 1; j >= 0 && u.tails[j].base > base; j-- {
		if err := s.remove(ctx, s.tailKey(u.id, u.tails[j].base)); err != nil {
			return fmt.Errorf("blob/s3: upload %q: %w", u.id, err)
		}
		u.tails = u.tails[:j]
	}
	if err := s.put(ctx, s.tailKey(u.id, base), b); err != nil {
		return fmt.Errorf("blob/s3: upload %q: write tail: %w", u.id, err)
	}
	u.tails = append(slices.DeleteFunc(u.tails, func(t tailRef) bool { return t.base == base }), tailRef{base: base, size: int64(len(b))})
	if err := s.remove(ctx, s.dataKey(u.id)); err != nil {
		return fmt.Errorf("blob/s3: upload %q: %w", u.id, err)
	}
	return nil
}
