package registry

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// UploadState is what a client learns about an upload session.
type UploadState struct {
	ID     string
	Repo   string
	Offset int64 // bytes received so far
}

// Putter is an optional blob store capability: storing a whole blob in one
// call, visible under d only once check accepts the n bytes copied from r
// (check's error is returned as it is). A blob already stored is kept.
type Putter interface {
	PutBlob(ctx context.Context, d digest.Digest, r io.Reader, check func(n int64) error) (int64, error)
}

// UploadReader is an optional blob store capability: reading back what an
// upload holds. The service uses it only when a client finishes an upload
// with a digest algorithm other than the one it hashed with.
type UploadReader interface {
	ReadUpload(ctx context.Context, id string, size int64) (io.ReadCloser, error)
}

func newUploadID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

func marshalHash(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, fmt.Errorf("hash %T cannot be saved", h)
	}
	return m.MarshalBinary()
}

func restoreHash(alg digest.Algorithm, state []byte) (hash.Hash, error) {
	if !alg.Available() {
		return nil, fmt.Errorf("digest algorithm %q unavailable", alg)
	}
	h := alg.Hash()
	if len(state) == 0 {
		return h, nil
	}
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, fmt.Errorf("hash %T cannot be restored", h)
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("restore hash state: %w", err)
	}
	return h, nil
}

// StartUpload opens an upload session in repo hashing with alg.
func (s *Service) StartUpload(ctx context.Context, repo string, alg digest.Algorithm) (UploadState, error) {
	if alg == "" {
		alg = digest.Canonical
	}
	if err := s.refuseProxied(ctx, repo); err != nil {
		return UploadState{}, err
	}
	if err := s.checkUploadQuota(ctx, repo, "", -1); err != nil {
		return UploadState{}, err
	}
	now := s.opts.Now()
	if id := newRowlessID(repo, alg, now); id != "" {
		// Nothing to write: the session lives in its id until a PATCH
		// saves progress (see uploadid.go).
		return UploadState{ID: id, Repo: repo}, nil
	}
	id := newUploadID()
	// The metadata row first: a driver upload without a row is purged by age,
	// a row without a driver upload answers BLOB_UPLOAD_UNKNOWN.
	// Session state is cheap to lose (the client starts the upload again),
	// so it is committed asynchronously; the link of the finished blob is not.
	err := s.meta.UpdateAsync(ctx, func(tx meta.Tx) error {
		return tx.CreateUpload(meta.Upload{ID: id, Repo: repo, Algorithm: alg, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		return UploadState{}, err
	}
	if err := s.blobs.CreateUpload(ctx, id); err != nil {
		s.dropSession(ctx, id, false)
		return UploadState{}, storageErr(err)
	}
	return UploadState{ID: id, Repo: repo}, nil
}

// session returns the upload session id of repo. fresh reports a session
// that so far lives only in its id: no row, no driver upload, no bytes.
func (s *Service) session(ctx context.Context, repo, id string) (u meta.Upload, fresh bool, err error) {
	return s.sessionAnd(ctx, repo, id, nil)
}

// sessionAnd is session, then also (when not nil) with the session found,
// in the same read transaction.
func (s *Service) sessionAnd(ctx context.Context, repo, id string, also func(meta.Reader, meta.Upload) error) (u meta.Upload, fresh bool, err error) {
	rid, rowless := parseRowlessID(id)
	err = s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		u, err = r.Upload(id)
		switch {
		case err == nil && u.Repo != repo:
			return errcode.BlobUploadUnknown.New()
		case err == nil && rowless:
			// A PATCH saving the row on one node while a PUT ends the
			// session on another can leave the row behind the ended
			// record (PostgreSQL's READ COMMITTED lets both commit): the
			// record wins, the purge removes the row by age.
			ended, err := r.UploadEnded(id)
			if err != nil {
				return err
			}
			if ended {
				return errcode.BlobUploadUnknown.New()
			}
		case errors.Is(err, meta.ErrNotFound) && rowless && rid.accepts(repo, s.opts.Now(), s.uploadMaxAge()):
			ended, err := r.UploadEnded(id)
			if err != nil {
				return err
			}
			if ended {
				return errcode.BlobUploadUnknown.New()
			}
			u, fresh = meta.Upload{ID: id, Repo: repo, Algorithm: rid.alg, CreatedAt: rid.start, UpdatedAt: rid.start}, true
		case errors.Is(err, meta.ErrNotFound):
			return errcode.BlobUploadUnknown.New()
		case err != nil:
			return err
		}
		if also != nil {
			return also(r, u)
		}
		return nil
	})
	if err != nil {
		return meta.Upload{}, false, err
	}
	return u, fresh, nil
}

// createDriverUpload creates the driver upload of a fresh session. One may
// exist already: a PATCH that failed before saving the session's row.
func (s *Service) createDriverUpload(ctx context.Context, id string) error {
	if err := s.blobs.CreateUpload(ctx, id); err != nil && !errors.Is(err, fs.ErrExist) {
		return storageErr(err)
	}
	return nil
}

// endSession deletes the session's row, if any, and records a session
// without one as over, so its id is refused from now on.
func (s *Service) endSession(tx meta.Tx, id string) error {
	if err := tx.DeleteUpload(id); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	if _, rowless := parseRowlessID(id); rowless {
		return tx.EndUpload(id)
	}
	return nil
}

// UploadStatus reports how much of an upload the registry holds.
func (s *Service) UploadStatus(ctx context.Context, repo, id string) (UploadState, error) {
	u, _, err := s.session(ctx, repo, id)
	if err != nil {
		return UploadState{}, err
	}
	return UploadState{ID: id, Repo: repo, Offset: u.Offset}, nil
}

// WriteUpload appends r to the upload. start is where the client says the
// chunk begins (-1 when it did not say); a chunk that does not start where the
// upload ends is refused with 416. length is the declared length (-1 unknown).
func (s *Service) WriteUpload(ctx context.Context, repo, id string, start, length int64, r io.Reader) (UploadState, error) {
	defer s.lockUpload(id)()
	u, fresh, err := s.session(ctx, repo, id)
	if err != nil {
		return UploadState{}, err
	}
	if start >= 0 && start != u.Offset {
		return UploadState{}, errcode.BlobUploadInvalid.Errorf("chunk starts at %d but the upload holds %d bytes", start, u.Offset).
			WithStatus(http.StatusRequestedRangeNotSatisfiable)
	}
	h, err := restoreHash(u.Algorithm, u.HashState)
	if err != nil {
		return UploadState{}, err
	}
	if fresh && length != 0 {
		if err := s.createDriverUpload(ctx, id); err != nil {
			return UploadState{}, err
		}
	}
	if err := s.appendChunk(ctx, &u, fresh, h, length, r, true); err != nil {
		return UploadState{}, err
	}
	return UploadState{ID: id, Repo: repo, Offset: u.Offset}, nil
}

// appendChunk streams r into the upload through the hash and, when save is
// set, records the new offset and hash state in the session (a closing PUT
// does not: the session is deleted in the same breath). The first bytes of
// a fresh session create its row.
func (s *Service) appendChunk(ctx context.Context, u *meta.Upload, fresh bool, h hash.Hash, length int64, r io.Reader, save bool) error {
	if err := s.checkSize(u.Offset, length); err != nil {
		return err
	}
	if length == 0 {
		return nil // e.g. the empty closing PUT after PATCHes; CommitUpload keeps only Offset bytes
	}
	n, err := s.blobs.WriteUpload(ctx, u.ID, u.Offset, io.TeeReader(s.limit(r, u.Offset), h))
	if err != nil {
		return s.failWrite(ctx, u, err)
	}
	if length >= 0 && n != length {
		s.truncate(ctx, u)
		return errcode.SizeInvalid.Errorf("received %d bytes, Content-Length said %d", n, length)
	}
	u.Offset += n
	if n == 0 || !save {
		return nil
	}
	state, err := marshalHash(h)
	if err != nil {
		return err
	}
	u.HashState = state
	u.UpdatedAt = s.opts.Now()
	if fresh {
		return s.meta.UpdateAsync(ctx, func(tx meta.Tx) error {
			// Finished or cancelled meanwhile (another node, a
			// misbehaving client): the session is over.
			if ended, err := tx.UploadEnded(u.ID); err != nil || ended {
				if err == nil {
					err = errcode.BlobUploadUnknown.New()
				}
				return err
			}
			return tx.CreateUpload(*u)
		})
	}
	return s.meta.UpdateAsync(ctx, func(tx meta.Tx) error { return tx.UpdateUpload(*u) })
}

// failWrite handles a failed chunk write: a full disk aborts the whole
// session (freeing its space); anything else (a client that went away)
// discards the partial chunk and keeps the session so the client can resume.
func (s *Service) failWrite(ctx context.Context, u *meta.Upload, err error) error {
	if errors.Is(err, blob.ErrNoSpace) {
		s.abort(ctx, u.ID)
		return storageErr(err)
	}
	s.truncate(ctx, u)
	var e *errcode.Error
	if errors.As(err, &e) {
		return e
	}
	if lost := uploadLost(err); lost != nil {
		s.abort(ctx, u.ID)
		return lost
	}
	return fmt.Errorf("write upload %s: %w", u.ID, err)
}

// uploadLost recognises a driver upload that is gone or holds less than the
// session recorded (its unsynced tail was lost in a machine crash): the
// session cannot continue and the client must upload the blob again.
func uploadLost(err error) *errcode.Error {
	switch {
	case errors.Is(err, blob.ErrUploadNotFound):
		return errcode.BlobUploadUnknown.New()
	case errors.Is(err, blob.ErrInvalidOffset):
		return errcode.BlobUploadUnknown.Errorf("the upload lost data in a crash of the registry's machine; start it again")
	}
	return nil
}

func (s *Service) truncate(ctx context.Context, u *meta.Upload) {
	if _, err := s.blobs.WriteUpload(context.WithoutCancel(ctx), u.ID, u.Offset, strings.NewReader("")); err != nil {
		s.log.WarnContext(ctx, "discarding a partial chunk failed", "upload", u.ID, "err", err)
	}
}

func (s *Service) checkSize(offset, length int64) error {
	if s.opts.MaxBlobSize > 0 && length >= 0 && offset+length > s.opts.MaxBlobSize {
		return tooLarge(s.opts.MaxBlobSize)
	}
	return nil
}

func tooLarge(max int64) *errcode.Error {
	return errcode.SizeInvalid.Errorf("blob exceeds the maximum blob size of %d bytes", max).WithStatus(http.StatusRequestEntityTooLarge)
}

// limit wraps r so reading past the maximum blob size fails.
func (s *Service) limit(r io.Reader, offset int64) io.Reader {
	if s.opts.MaxBlobSize <= 0 {
		return r
	}
	return &maxReader{r: r, left: s.opts.MaxBlobSize - offset, max: s.opts.MaxBlobSize}
}

type maxReader struct {
	r         io.Reader
	left, max int64
}

func (m *maxReader) Read(p []byte) (int, error) {
	if m.left <= 0 {
		// Probe for one more byte: only an actual excess is an error.
		var one [1]byte
		if n, _ := m.r.Read(one[:]); n > 0 {
			return 0, tooLarge(m.max)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.r.Read(p)
	m.left -= int64(n)
	return n, err
}

// FinishUpload appends the final chunk (possibly empty), verifies the digest
// and commits the blob into repo.
func (s *Service) FinishUpload(ctx context.Context, repo, id string, d digest.Digest, length int64, r io.Reader) (blob.Info, error) {
	defer s.lockUpload(id)()
	var quota func(meta.Reader, meta.Upload) error
	overQuota := false
	if length >= 0 {
		// What the client says it sends may take the project over its
		// quota: refuse before receiving it (read with the session).
		quota = func(r meta.Reader, u meta.Upload) error {
			err := uploadQuotaIn(r, repo, d, u.Offset+length)
			overQuota = err != nil
			return err
		}
	}
	u, fresh, err := s.sessionAnd(ctx, repo, id, quota)
	if err != nil {
		if overQuota {
			s.abort(ctx, id) // as when the finished upload is refused
		}
		return blob.Info{}, err
	}
	if fresh {
		if p, ok := s.blobs.(Putter); ok && u.Algorithm == d.Algorithm() {
			// The whole blob in this request (POST, then PUT with the
			// body): no driver upload, no session row.
			return s.putWhole(ctx, p, repo, d, length, r, id, false)
		}
		if err := s.createDriverUpload(ctx, id); err != nil {
			return blob.Info{}, err
		}
	}
	h, err := restoreHash(u.Algorithm, u.HashState)
	if err != nil {
		return blob.Info{}, err
	}
	if err := s.appendChunk(ctx, &u, false, h, length, r, false); err != nil {
		return blob.Info{}, err
	}
	got, err := s.uploadDigest(ctx, &u, h, d.Algorithm())
	if err != nil {
		return blob.Info{}, err
	}
	if got != d {
		s.abort(ctx, id)
		return blob.Info{}, errcode.DigestInvalid.Errorf("upload has digest %s, not %s", got, d)
	}
	if err := s.checkUploadQuota(ctx, repo, d, u.Offset); err != nil {
		s.abort(ctx, id)
		return blob.Info{}, err
	}
	replaced, err := s.replaceQuarantined(ctx, d)
	if err != nil {
		return blob.Info{}, storageErr(err)
	}
	if err := s.blobs.CommitUpload(ctx, id, d, u.Offset); err != nil {
		if lost := uploadLost(err); lost != nil {
			s.abort(ctx, id)
			return blob.Info{}, lost
		}
		if errors.Is(err, blob.ErrNoSpace) {
			s.abort(ctx, id)
		}
		return blob.Info{}, storageErr(err)
	}
	info := blob.Info{Digest: d, Size: u.Offset}
	err = s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := s.linkBlob(ctx, tx, repo, d, u.Offset); err != nil {
			return err
		}
		return s.endSession(tx, id)
	})
	if err == nil && replaced {
		err = s.liftQuarantine(ctx, d)
	}
	return info, err
}

// uploadDigest returns the upload's digest in algorithm alg: from the running
// hash when it matches, else by reading the upload back.
func (s *Service) uploadDigest(ctx context.Context, u *meta.Upload, h hash.Hash, alg digest.Algorithm) (digest.Digest, error) {
	if alg == u.Algorithm {
		return digest.NewDigest(alg, h), nil
	}
	ur, ok := s.blobs.(UploadReader)
	if !ok {
		return "", errcode.DigestInvalid.Errorf("upload was hashed with %s; start it with ?digest-algorithm=%s", u.Algorithm, alg)
	}
	rc, err := ur.ReadUpload(ctx, u.ID, u.Offset)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	return alg.FromReader(rc)
}

// CancelUpload discards an upload session.
func (s *Service) CancelUpload(ctx context.Context, repo, id string) error {
	defer s.lockUpload(id)()
	if _, _, err := s.session(ctx, repo, id); err != nil {
		return err
	}
	s.abort(ctx, id)
	return nil
}

// abort ends an upload session: it removes the driver upload and the
// session's row and makes its id unusable, best effort.
func (s *Service) abort(ctx context.Context, id string) {
	s.discard(ctx, id, true)
}

// discard removes an upload from the blob store and the index, best effort;
// end also records the session as over (a purge need not: ids expire).
func (s *Service) discard(ctx context.Context, id string, end bool) {
	ctx = context.WithoutCancel(ctx)
	if err := s.blobs.AbortUpload(ctx, id); err != nil && !errors.Is(err, blob.ErrUploadNotFound) {
		s.log.WarnContext(ctx, "aborting upload failed", "upload", id, "err", err)
	}
	s.dropSession(ctx, id, end)
}

func (s *Service) dropSession(ctx context.Context, id string, end bool) {
	err := s.meta.UpdateAsync(context.WithoutCancel(ctx), func(tx meta.Tx) error {
		if end {
			return s.endSession(tx, id)
		}
		return tx.DeleteUpload(id)
	})
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		s.log.WarnContext(ctx, "deleting upload session failed", "upload", id, "err", err)
	}
}

// PutBlob stores a whole blob sent in one request (POST ?digest=) into repo.
// No session is recorded: a crash leaves only a driver upload that the purge
// removes by age.
func (s *Service) PutBlob(ctx context.Context, repo string, d digest.Digest, length int64, r io.Reader) (blob.Info, error) {
	if err := s.refuseProxied(ctx, repo); err != nil {
		return blob.Info{}, err
	}
	if p, ok := s.blobs.(Putter); ok {
		return s.putWhole(ctx, p, repo, d, length, r, "", true)
	}
	if err := s.checkSize(0, length); err != nil {
		return blob.Info{}, err
	}
	if length >= 0 {
		if err := s.checkUploadQuota(ctx, repo, d, length); err != nil {
			return blob.Info{}, err
		}
	}
	id := newUploadID()
	if err := s.blobs.CreateUpload(ctx, id); err != nil {
		return blob.Info{}, storageErr(err)
	}
	h := d.Algorithm().Hash()
	n, err := s.blobs.WriteUpload(ctx, id, 0, io.TeeReader(s.limit(r, 0), h))
	if err == nil && length >= 0 && n != length {
		err = errcode.SizeInvalid.Errorf("received %d bytes, Content-Length said %d", n, length)
	}
	if err == nil && digest.NewDigest(d.Algorithm(), h) != d {
		err = errcode.DigestInvalid.Errorf("content has digest %s, not %s", digest.NewDigest(d.Algorithm(), h), d)
	}
	if err == nil && length < 0 {
		err = s.checkUploadQuota(ctx, repo, d, n)
	}
	replaced := false
	if err == nil {
		replaced, err = s.replaceQuarantined(ctx, d)
	}
	if err == nil {
		err = s.blobs.CommitUpload(ctx, id, d, n)
	}
	if err != nil {
		if aerr := s.blobs.AbortUpload(context.WithoutCancel(ctx), id); aerr != nil && !errors.Is(aerr, blob.ErrUploadNotFound) {
			s.log.WarnContext(ctx, "aborting upload failed", "upload", id, "err", aerr)
		}
		return blob.Info{}, storageErr(err)
	}
	err = s.meta.Update(ctx, func(tx meta.Tx) error { return s.linkBlob(ctx, tx, repo, d, n) })
	if err == nil && replaced {
		err = s.liftQuarantine(ctx, d)
	}
	return blob.Info{Digest: d, Size: n}, err
}

// linkBlob links committed blob d to repo under the digest's lock, after
// making sure its bytes are still there: garbage collection may have swept
// them between the commit (which found them present) and this link. Then
// the upload fails and the client sends the blob again; a link never
// points at swept bytes.
func (s *Service) linkBlob(ctx context.Context, tx meta.Tx, repo string, d digest.Digest, size int64) error {
	if err := tx.LockDigests(d); err != nil {
		return err
	}
	if _, err := s.blobs.Stat(ctx, d); errors.Is(err, blob.ErrNotFound) {
		return errcode.BlobUploadInvalid.Errorf("blob %s was removed by garbage collection while it was uploaded: upload it again", d)
	} else if err != nil {
		return err
	}
	return tx.LinkBlob(repo, d, size)
}

// putWhole stores a blob sent whole in one request with the store's
// PutBlob: it is hashed as it is copied, and becomes visible only once its
// size, digest and the project's quota are checked; then it is linked to
// repo. session, when not "", is the fresh upload session the request
// finishes: it ends with the link, or when the blob is refused. checkQuota
// false means the caller has checked the declared length (if any) against
// the quota already.
func (s *Service) putWhole(ctx context.Context, p Putter, repo string, d digest.Digest, length int64, r io.Reader, session string, checkQuota bool) (blob.Info, error) {
	if err := s.checkSize(0, length); err != nil {
		return blob.Info{}, err
	}
	if length >= 0 && checkQuota {
		if err := s.checkUploadQuota(ctx, repo, d, length); err != nil {
			return blob.Info{}, err
		}
	}
	h := d.Algorithm().Hash()
	var refused, replaced bool
	n, err := p.PutBlob(ctx, d, io.TeeReader(s.limit(r, 0), h), func(n int64) error {
		err := s.checkWhole(ctx, repo, d, length, n, h)
		if err == nil {
			replaced, err = s.replaceQuarantined(ctx, d)
			if err != nil {
				return storageErr(err)
			}
		}
		refused = err != nil
		return err
	})
	if err != nil {
		if refused && session != "" {
			s.abort(ctx, session)
		}
		var e *errcode.Error
		if errors.As(err, &e) {
			return blob.Info{}, e
		}
		return blob.Info{}, storageErr(err)
	}
	err = s.meta.Update(ctx, func(tx meta.Tx) error {
		if err := s.linkBlob(ctx, tx, repo, d, n); err != nil {
			return err
		}
		if session != "" {
			return s.endSession(tx, session)
		}
		return nil
	})
	if err == nil && replaced {
		err = s.liftQuarantine(ctx, d)
	}
	return blob.Info{Digest: d, Size: n}, err
}

// checkWhole checks a blob received whole: n bytes where the client said
// length (-1: unsaid), hashing to d, within the project's quota.
func (s *Service) checkWhole(ctx context.Context, repo string, d digest.Digest, length, n int64, h hash.Hash) error {
	if length >= 0 && n != length {
		return errcode.SizeInvalid.Errorf("received %d bytes, Content-Length said %d", n, length)
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return errcode.DigestInvalid.Errorf("content has digest %s, not %s", got, d)
	}
	if length < 0 {
		return s.checkUploadQuota(ctx, repo, d, n)
	}
	return nil
}
