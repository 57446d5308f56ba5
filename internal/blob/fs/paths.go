package fs

import (
	"path/filepath"
)

// The on-disk layout under the root directory:
//
//	<root>/
//	├── blobs/                          committed blobs, content-addressed
//	│   ├── sha256/
//	│   │   ├── 00/ … ff/               first two hex digits of the digest
//	│   │   │   └── <64 hex>            the blob's bytes, nothing else
//	│   ├── sha384/<2 hex>/<96 hex>
//	│   └── sha512/<2 hex>/<128 hex>
//	└── uploads/
//	    └── <id>                        an open upload: the bytes received so far
//
// A file under blobs/ always holds exactly the bytes of its digest: it gets
// there only by rename(2) of a complete, fsync'd upload file (blobs/ and
// uploads/ sit on the same filesystem, so the rename is atomic) or, for a
// blob stored in one call (PutBlob), by linkat(2) of a complete, fsync'd
// unnamed O_TMPFILE file opened in its directory. Nothing else (no named
// temporary, lock or metadata file) ever lives under blobs/. Upload ids
// are restricted to [A-Za-z0-9_-]{1,128}, so an id is always a single path
// element inside uploads/. Files whose names break these rules are ignored by
// Walk and WalkUploads.

const (
	blobsDir   = "blobs"
	uploadsDir = "uploads"
)

// blobDir is <root>/blobs/<alg>/<first 2 hex>.
func (s *Store) blobDir(alg, hex string) string {
	return filepath.Join(s.root, blobsDir, alg, hex[:2])
}

// blobPath is <root>/blobs/<alg>/<first 2 hex>/<hex>.
func (s *Store) blobPath(alg, hex string) string {
	return filepath.Join(s.root, blobsDir, alg, hex[:2], hex)
}

// uploadPath is <root>/uploads/<id>; id must have passed validID.
func (s *Store) uploadPath(id string) string {
	return filepath.Join(s.uploadDir, id)
}
