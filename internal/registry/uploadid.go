package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
// are purged after it: ids sort by their start, so that is one range.
//
// The id is the hex of 34 bytes: the start in Unix nanoseconds (8,
// big-endian), version 1, algorithm code, the first 8 bytes of
// sha256(repository), 16 random bytes. Older ids (32 hex digits) always
// have a row.

const (
	idVersion = 1
	idBytes   = 8 + 1 + 1 + 8 + 16
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
	binary.BigEndian.PutUint64(b[0:8], uint64(now.UnixNano()))
	b[8], b[9] = idVersion, byte(code)
	sum := repoSum(repo)
	copy(b[10:18], sum[:])
	if _, err := rand.Read(b[18:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// idsBefore returns the id prefix that every id started before t sorts
// below, and no id started at or after t does.
func idsBefore(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	return hex.EncodeToString(b[:])
}

// parseRowlessID decodes an id made by newRowlessID.
func parseRowlessID(id string) (rowlessID, bool) {
	if len(id) != 2*idBytes {
		return rowlessID{}, false
	}
	var b [idBytes]byte
	if n, err := hex.Decode(b[:], []byte(id)); err != nil || n != idBytes || b[8] != idVersion {
		return rowlessID{}, false
	}
	code := int(b[9])
	if code < 1 || code > len(idAlgorithms) {
		return rowlessID{}, false
	}
	out := rowlessID{alg: idAlgorithms[code-1], start: time.Unix(0, int64(binary.BigEndian.Uint64(b[0:8])))}
	copy(out.repoSum[:], b[10:18])
	return out, true
}

// accepts says whether the id may start a session in repo at now, given
// the age after which sessions are purged.
func (r rowlessID) accepts(repo string, now time.Time, maxAge time.Duration) bool {
	return r.repoSum == repoSum(repo) && !r.start.After(now.Add(idClockSkew)) && now.Sub(r.start) <= maxAge
}
