package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/berth-registry/berth/internal/errcode"
)

type errorBody struct {
	Errors []errcode.Body `json:"errors"`
}

// toErrcode maps any error a handler returns to the error the client sees.
func toErrcode(err error) (*errcode.Error, bool) {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e, true
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errcode.SizeInvalid.Errorf("request body exceeds %d bytes", mbe.Limit).WithStatus(http.StatusRequestEntityTooLarge), true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errcode.BlobUploadInvalid.Errorf("request body ended before its declared length"), true
	case errors.Is(err, context.Canceled):
		return errcode.Unknown.Errorf("request cancelled").WithStatus(499), true
	}
	return errcode.Unknown.New(), false
}

// writeError writes err as the spec's JSON error body. Unexpected errors are
// logged and answered with a bare 500 that reveals nothing internal.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e, known := toErrcode(err)
	if !known {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Docker-Content-Digest")
	h.Set("Content-Type", "application/json")
	for k, v := range e.Header {
		h[k] = v
	}
	status := e.HTTPStatus()
	if status == 499 { // the client is gone; nobody reads this
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(errorBody{Errors: []errcode.Body{e.JSON()}})
}
