package s3

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
)

// The object layout under Config.Prefix:
//
//	<prefix>blobs/<alg>/<2 hex>/<hex>      a committed blob, nothing else
//	<prefix>uploads/<id>/info              upload metadata (JSON: part size,
//	                                       multipart upload id, creation time)
//	<prefix>uploads/<id>/tail-<20 digits>  bytes from that offset on, fewer
//	                                       than one part; see uploads.go
//	<prefix>uploads/<id>/data              the key of the upload's S3
//	                                       multipart upload, and briefly the
//	                                       completed object during a commit
//
// Objects under blobs/ are written only by a single PUT or COPY of complete
// bytes, which S3 makes visible atomically. Upload ids are restricted to
// [A-Za-z0-9_-]{1,128}, so an id is always exactly one key segment.

const (
	blobsDir   = "blobs/"
	uploadsDir = "uploads/"
	infoName   = "info"
	dataName   = "data"
	tailPrefix = "tail-"
)

func (s *Store) blobKey(alg, hex string) string {
	return s.prefix + blobsDir + alg + "/" + hex[:2] + "/" + hex
}

// parseBlobKey turns a key below <prefix>blobs/ back into a digest.
func (s *Store) parseBlobKey(key string) (digest.Digest, bool) {
	rest, ok := strings.CutPrefix(key, s.prefix+blobsDir)
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", false
	}
	d := digest.Digest(parts[0] + ":" + parts[2])
	if _, hex, ok := blob.SplitDigest(d); !ok || parts[1] != hex[:2] {
		return "", false
	}
	return d, true
}

// uploadDir is <prefix>uploads/<id>/; id must have passed validID.
func (s *Store) uploadDir(id string) string {
	return s.prefix + uploadsDir + id + "/"
}

func (s *Store) infoKey(id string) string { return s.uploadDir(id) + infoName }
func (s *Store) dataKey(id string) string { return s.uploadDir(id) + dataName }

func (s *Store) tailKey(id string, base int64) string {
	return fmt.Sprintf("%s%s%020d", s.uploadDir(id), tailPrefix, base)
}

// parseUploadKey splits a key below <prefix>uploads/ into the upload id and
// the object's name within the upload.
func (s *Store) parseUploadKey(key string) (id, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, s.prefix+uploadsDir)
	if !ok {
		return "", "", false
	}
	id, name, ok = strings.Cut(rest, "/")
	if !ok || !blob.ValidUploadID(id) || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return id, name, true
}

// parseTailName returns the base offset of a tail object's name.
func parseTailName(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, tailPrefix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
