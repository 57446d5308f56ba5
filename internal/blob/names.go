package blob

import (
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxUploadIDLen bounds an upload id in bytes.
const MaxUploadIDLen = 128

// ValidUploadID reports whether id is an upload id every driver accepts:
// [A-Za-z0-9_-]{1,128}, so it is always one safe path element or key segment.
func ValidUploadID(id string) bool {
	if len(id) == 0 || len(id) > MaxUploadIDLen {
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

// hexLen lists the digest algorithms drivers store and the length of their
// lowercase hex encoding.
var hexLen = map[digest.Algorithm]int{
	digest.SHA256: 64,
	digest.SHA384: 96,
	digest.SHA512: 128,
}

// SplitDigest returns d's algorithm and hex encoding if d is a well-formed
// digest of a supported algorithm; both parts are then safe path elements
// and key segments. It is cheaper than digest.Validate (no regular
// expression).
func SplitDigest(d digest.Digest) (alg, hex string, ok bool) {
	a, h, found := strings.Cut(string(d), ":")
	if !found {
		return "", "", false
	}
	n, known := hexLen[digest.Algorithm(a)]
	if !known || len(h) != n || !isLowerHex(h) {
		return "", "", false
	}
	return a, h, true
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
