package httpapi

import (
	"errors"
	"hash"
	"io"
	"log/slog"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
)

// WithVerifyOnRead makes blob downloads hash what they serve and abort on
// a mismatch (storage.verify_on_read).
func (a *API) WithVerifyOnRead(on bool) *API {
	a.verifyOnRead = on
	return a
}

// verifyingReader hashes a blob as http.ServeContent reads it from the
// start; at the end a mismatch aborts the response (the client sees a cut
// connection, never a complete wrong blob). A seek elsewhere than the start
// (a Range request) turns checking off: a part cannot be verified.
type verifyingReader struct {
	rc   blob.Reader
	d    digest.Digest
	h    hash.Hash
	pos  int64
	size int64
	on   bool
	log  *slog.Logger
}

func newVerifyingReader(rc blob.Reader, d digest.Digest, size int64, log *slog.Logger) *verifyingReader {
	return &verifyingReader{rc: rc, d: d, h: d.Algorithm().Hash(), size: size, on: true, log: log}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	if v.on {
		v.h.Write(p[:n])
	}
	v.pos += int64(n)
	if v.on && (errors.Is(err, io.EOF) || v.pos == v.size) {
		if got := digest.NewDigest(v.d.Algorithm(), v.h); got != v.d {
			v.log.Error("blob failed verification while served: response aborted", "digest", v.d, "got", got)
			panic(http.ErrAbortHandler)
		}
		v.on = false
	}
	return n, err
}

func (v *verifyingReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := v.rc.Seek(offset, whence)
	if err == nil && pos != v.pos {
		if pos == 0 {
			v.h.Reset()
			v.on = true
		} else if whence != io.SeekEnd || offset != 0 {
			v.on = false // a range: not verifiable
		}
	}
	if err == nil {
		v.pos = pos
	}
	return pos, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }
