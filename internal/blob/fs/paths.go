package fs

import (
	"path/filepath"

	"github.com/opencontainers/go-digest"
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
// there only by rename(2) of a complete, fsync'd upload file, and blobs/ and
// uploads/ sit on the same filesystem so the rename is atomic. Nothing else
// (no temporary, lock or metadata file) ever lives under blobs/. Upload ids
// are restricted to [A-Za-z0-9_-]{1,128}, so an id is always a single path
// element inside uploads/. Files whose names break these rules are ignored by
// Walk and WalkUploads.

const (
	blobsDir   = "blobs"
	uploadsDir = "uploads"
	// maxIDLen bounds an upload id (and so a file name) in bytes.
	maxIDLen = 128
)

// algHexLen lists the digest algorithms the store accepts and the length of
// their lowercase hex encoding.
var algHexLen = map[digest.Algorithm]int{
	digest.SHA256: 64,
	digest.SHA384: 96,
	digest.SHA512: 128,
}

// splitDigest returns d's algorithm and hex encoding if d is a well-formed
// digest of a supported algorithm. It is cheaper than digest.Validate (no
// regular expression) and guarantees both parts are safe path elements.
func splitDigest(d digest.Digest) (alg, hex string, ok bool) {
	s := string(d)
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		alg, hex = s[:i], s[i+1:]
		n, known := algHexLen[digest.Algorithm(alg)]
		if !known || len(hex) != n || !isLowerHex(hex) {
			return "", "", false
		}
		return alg, hex, true
	}
	return "", "", false
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validID reports whether id is an acceptable upload id.
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

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
