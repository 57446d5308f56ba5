package sbom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// An RPM header, as the rpmdb.sqlite Packages table stores it (one blob
// per row), is the on-disk header without its 8-byte magic/reserved
// prefix. All integers are big-endian:
//
//	il   uint32               number of index entries
//	dl   uint32               length of the data store
//	il × entry, 16 bytes each:
//	  tag    int32            what the entry is (NAME = 1000, ...)
//	  type   uint32           0 NULL, 1 CHAR, 2 INT8, 3 INT16, 4 INT32,
//	                          5 INT64, 6 STRING, 7 BIN, 8 STRING_ARRAY,
//	                          9 I18NSTRING
//	  offset int32            where the value starts in the data store
//	  count  uint32           number of values (bytes for BIN)
//	dl bytes of data          values; STRING is NUL-terminated, INT32
//	                          values are 4-byte aligned
//
// The first entry is normally a region tag (HEADERIMMUTABLE, 63, type BIN,
// count 16) whose offset points at a 16-byte trailer in the data store,
// itself an entry whose negative offset gives the region's size. Readers
// that only want some tags can ignore regions, and so do we.
const (
	rpmTagName      = 1000
	rpmTagVersion   = 1001
	rpmTagRelease   = 1002
	rpmTagEpoch     = 1003
	rpmTagArch      = 1022
	rpmTagSourceRPM = 1044

	rpmTypeInt32  = 4
	rpmTypeString = 6

	rpmMaxIndex = 0xffff    // rpm's own limit on index entries
	rpmMaxData  = 256 << 20 // and on the data store
)

type rpmHeader struct {
	name, version, release, arch, sourceRPM string
	epoch                                   int64 // -1 when absent
}

var errRPMHeader = errors.New("malformed rpm header")

// parseRPMHeader decodes the tags Build needs from a header blob.
func parseRPMHeader(b []byte) (rpmHeader, error) {
	h := rpmHeader{epoch: -1}
	if len(b) < 8 {
		return h, fmt.Errorf("%w: %d bytes", errRPMHeader, len(b))
	}
	il := binary.BigEndian.Uint32(b[0:4])
	dl := binary.BigEndian.Uint32(b[4:8])
	if il == 0 || il > rpmMaxIndex || dl > rpmMaxData {
		return h, fmt.Errorf("%w: %d entries, %d data bytes", errRPMHeader, il, dl)
	}
	dataStart := 8 + uint64(il)*16
	if dataStart+uint64(dl) > uint64(len(b)) {
		return h, fmt.Errorf("%w: %d entries and %d data bytes do not fit in %d bytes", errRPMHeader, il, dl, len(b))
	}
	data := b[dataStart : dataStart+uint64(dl)]
	for i := uint32(0); i < il; i++ {
		e := b[8+i*16 : 8+i*16+16]
		tag := int32(binary.BigEndian.Uint32(e[0:4]))
		typ := binary.BigEndian.Uint32(e[4:8])
		off := int32(binary.BigEndian.Uint32(e[8:12]))
		count := binary.BigEndian.Uint32(e[12:16])
		var dst *string
		switch tag {
		case rpmTagName:
			dst = &h.name
		case rpmTagVersion:
			dst = &h.version
		case rpmTagRelease:
			dst = &h.release
		case rpmTagArch:
			dst = &h.arch
		case rpmTagSourceRPM:
			dst = &h.sourceRPM
		case rpmTagEpoch:
			if typ != rpmTypeInt32 || count < 1 || off < 0 || int64(off)+4 > int64(len(data)) {
				return h, fmt.Errorf("%w: bad EPOCH entry", errRPMHeader)
			}
			h.epoch = int64(binary.BigEndian.Uint32(data[off : off+4]))
			continue
		default:
			continue
		}
		if typ != rpmTypeString || off < 0 || int64(off) >= int64(len(data)) {
			return h, fmt.Errorf("%w: bad entry for tag %d", errRPMHeader, tag)
		}
		s := data[off:]
		end := bytes.IndexByte(s, 0)
		if end < 0 {
			return h, fmt.Errorf("%w: unterminated string for tag %d", errRPMHeader, tag)
		}
		*dst = string(s[:end])
	}
	if h.name == "" || h.version == "" {
		return h, fmt.Errorf("%w: no NAME or VERSION", errRPMHeader)
	}
	return h, nil
}

// rpmFound turns a header into a found package.
func rpmFound(h rpmHeader) (found, bool) {
	v := h.version
	if h.release != "" {
		v += "-" + h.release
	}
	epoch := ""
	if h.epoch > 0 {
		epoch = strconv.FormatInt(h.epoch, 10)
		v = epoch + ":" + v
	}
	if !validToken(h.name, maxNameLen) || !validToken(v, maxVersionLen) {
		return found{}, false
	}
	arch := h.arch
	if !validToken(arch, 64) {
		arch = ""
	}
	src := h.sourceRPM
	if !validToken(src, maxNameLen) || !strings.HasSuffix(src, ".rpm") {
		src = ""
	}
	return found{Package: Package{Name: h.name, Version: v, Type: TypeRPM}, arch: arch, epoch: epoch, upstream: src}, true
}
