package httpapi

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net/http"
)

// RequestIDHeader carries a request's ID: berth returns it on every
// response and believes a client's only from a trusted proxy.
const RequestIDHeader = "X-Request-Id"

// reqInfo is what the edge learned about a request: its ID and what a
// trusted proxy said about the client. It is also the request's context
// (the one it came with, plus itself under infoKey), which saves an
// allocation per request over context.WithValue.
type reqInfo struct {
	context.Context
	id  string
	fw  forwarded
	hdr [1]string // the X-Request-Id header's value slice
}

type infoKeyType struct{}

var infoKey infoKeyType

func (ri *reqInfo) Value(key any) any {
	if key == any(infoKey) {
		return ri
	}
	return ri.Context.Value(key)
}

func infoOf(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(infoKey).(*reqInfo)
	return ri
}

// RequestID returns the ID the edge gave the request of ctx ("" outside a
// request).
func RequestID(ctx context.Context) string {
	if ri := infoOf(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// idEncoding writes IDs in lower-case base32 without padding: 10 random
// bytes make 16 characters.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRequestID returns 80 random bits as 16 characters. The IDs correlate
// log lines; they are not secrets, so the runtime's fast generator does.
func newRequestID() string {
	var b [10]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint16(b[8:], uint16(rand.Uint32()))
	var out [16]byte
	idEncoding.Encode(out[:], b[:])
	return string(out[:])
}

// maxRequestIDLen bounds a proxy's X-Request-Id.
const maxRequestIDLen = 128

// validRequestID accepts what a proxy may hand on: printable ASCII without
// spaces, quotes or backslashes (they would garble a log line).
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// requestIDOf is the request's ID: a trusted proxy's X-Request-Id when it
// is well-formed, a new one otherwise.
func requestIDOf(r *http.Request, proxied bool) string {
	if proxied {
		if id := r.Header.Get(RequestIDHeader); validRequestID(id) {
			return id
		}
	}
	return newRequestID()
}

// LogHandler wraps h so that records logged with a request's context (the
// *Context methods of slog.Logger) carry its request_id.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			rec.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
