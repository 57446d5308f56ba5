package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// packageIDs gives each package a stable identifier derived from its
// content, unique within the result.
func packageIDs(pkgs []Package) []string {
	ids := make([]string, len(pkgs))
	seen := map[string]int{}
	for i, p := range pkgs {
		h := sha256.Sum256([]byte(p.Type + "\x00" + p.Name + "\x00" + p.Version + "\x00" + strings.Join(p.Locations, "\x00")))
		id := hex.EncodeToString(h[:8])
		if n := seen[id]; n > 0 {
			seen[id]++
			id = fmt.Sprintf("%s-%d", id, n)
		} else {
			seen[id] = 1
		}
		ids[i] = id
	}
	return ids
}

// documentUUID derives a UUID from the document's content, so the same
// result, subject and time always give the same bytes (and digest). It is
// an RFC 9562 version 8 (custom) UUID built from SHA-256.
func documentUUID(kind string, r Result, subject string, created time.Time) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00", kind, subject, created.UTC().Format(time.RFC3339Nano), r.OS.ID, r.OS.VersionID)
	for _, p := range r.Packages {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00", p.Type, p.Name, p.Version, p.PURL, strings.Join(p.Locations, "\x01"))
	}
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func timestamp(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}
