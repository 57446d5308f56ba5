package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/opencontainers/go-digest"
)

// An upload session started by POST has no row in the metadata index until
// a PATCH saves progress: its id carries what the row would hold at that
// point — the repository (as a hash, so the id is refused elsewhere), the
// digest algorithm and the start time — plus 128 random bits. Any node can
// take the session up from the id alone, and a blob sent in one PUT after
// the POST costs no session write at all. Finished and cancelled sessions
// are recorded (meta EndUpload) so their ids are refused afterwards; ids
// older than the upload age limit are refused anyway, so those records
// are purged after it.
//
// The id is base64url (no padding) of 34 bytes: version 1, algorithm code,
// start in Unix nanoseconds (8, big-endian), the first 8 bytes of
// sha256(repository), 16 random bytes. Older ids (32 hex digits) always
// have a row.

const (
	idVersion = 1
	idBytes   = 1 + 1 + 8 + 8 + 16
	// idClockSkew is how far in the future an id's start may lie (the
	// clocks of a cluster's nodes differ a little).
	idClockSkew = time.Minute
)

var idAlgorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

// rowlessID is what an id without a row says.
type rowlessID struct {
	alg     digest.Algorithm
	start   time.Time
	repoSum [8]byte
}

func repoSum(repo string) (out [8]byte) {
	sum := sha256.Sum256([]byte(repo))
	copy(out[:], sum[:8])
	return out
}

// newRowlessID returns the id of a session of repo hashing with alg that
// starts at now, or "" when alg has no code (such sessions get a row).
func newRowlessID(repo string, alg digest.Algorithm, now time.Time) string {
	code := 0
	for i, a := range idAlgorithms {
		if a == alg {
			code = i + 1
		}
	}
	if code == 0 {
		return ""
	}
	var b [idBytes]byte
	b[0], b[1] = idVersion, byte(code)
	binary.BigEndian.PutUint64(b[2:10], uint64(now.UnixNano()))
	sum := repoSum(repo)
	copy(b[10:18], sum[:])
	if _, err := rand.Read(b[18:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseRowlessID decodes an id made by newRowlessID.
func parseRowlessID(id string) (rowlessID, bool) {
	if len(id) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return rowlessID{}, false
	}
	var b [idBytes]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(id)); err != nil || n != idBytes || b[0] != idVersion {
		return rowlessID{}, false
	}
	code := int(b[1])
	if code < 1 || code > len(idAlgorithms) {
		return rowlessID{}, false
	}
	out := rowlessID{alg: idAlgorithms[code-1], start: time.Unix(0, int64(binary.BigEndian.Uint64(b[2:10])))}
	copy(out.repoSum[:], b[10:18])
	return out, true
}

// accepts says whether the id may start a session in repo at now, given
// the age after which sessions are purged.
func (r rowlessID) accepts(repo string, now time.Time, maxAge time.Duration) bool {
	return r.repoSum == repoSum(repo) && !r.start.After(now.Add(idClockSkew)) && now.Sub(r.start) <= maxAge
}
