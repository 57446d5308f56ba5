package errcode

import (
	"fmt"
	"net/http"
)

// Code is one registered error code.
type Code struct {
	Name    string // e.g. BLOB_UNKNOWN
	Message string // the spec's description
	Status  int    // HTTP status it answers with by default
}

var registry = map[string]Code{}

func register(name, message string, status int) Code {
	if _, dup := registry[name]; dup {
		panic("errcode: duplicate code " + name)
	}
	c := Code{Name: name, Message: message, Status: status}
	registry[name] = c
	return c
}

// Lookup returns the registered code with that name.
func Lookup(name string) (Code, bool) { c, ok := registry[name]; return c, ok }

// The spec's codes.
var (
	BlobUnknown         = register("BLOB_UNKNOWN", "blob unknown to registry", http.StatusNotFound)
	BlobUploadInvalid   = register("BLOB_UPLOAD_INVALID", "blob upload invalid", http.StatusBadRequest)
	BlobUploadUnknown   = register("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", http.StatusNotFound)
	DigestInvalid       = register("DIGEST_INVALID", "provided digest did not match uploaded content", http.StatusBadRequest)
	ManifestBlobUnknown = register("MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry", http.StatusBadRequest)
	ManifestInvalid     = register("MANIFEST_INVALID", "manifest invalid", http.StatusBadRequest)
	ManifestUnknown     = register("MANIFEST_UNKNOWN", "manifest unknown to registry", http.StatusNotFound)
	NameInvalid         = register("NAME_INVALID", "invalid repository name", http.StatusBadRequest)
	NameUnknown         = register("NAME_UNKNOWN", "repository name not known to registry", http.StatusNotFound)
	SizeInvalid         = register("SIZE_INVALID", "provided length did not match content length", http.StatusBadRequest)
	Unauthorized        = register("UNAUTHORIZED", "authentication required", http.StatusUnauthorized)
	Denied              = register("DENIED", "requested access to the resource is denied", http.StatusForbidden)
	Unsupported         = register("UNSUPPORTED", "the operation is unsupported", http.StatusMethodNotAllowed)
	TooManyRequests     = register("TOOMANYREQUESTS", "too many requests", http.StatusTooManyRequests)
)

// berth's own codes.
var (
	// TagInvalid is the Docker-era code for a malformed tag.
	TagInvalid = register("TAG_INVALID", "manifest tag did not match URI", http.StatusBadRequest)
	// StorageFull answers a write that hit a full disk; nothing half-written is kept.
	StorageFull = register("STORAGE_FULL", "the registry's storage is full", http.StatusInsufficientStorage)
	// UpstreamUnavailable: a pull-through cache could not reach its upstream
	// for something it has not cached.
	UpstreamUnavailable = register("UPSTREAM_UNAVAILABLE", "the upstream registry is unavailable", http.StatusBadGateway)
	// Unknown is an unexpected server-side failure.
	Unknown = register("UNKNOWN", "unknown error", http.StatusInternalServerError)
)

// Error is one error answered to a client.
type Error struct {
	Code    Code
	Message string // overrides Code.Message when set
	Detail  any    // optional JSON-able detail
	Status  int    // overrides Code.Status when non-zero
	// Header holds response headers the error needs (WWW-Authenticate on a
	// 401, Retry-After on a 429).
	Header http.Header
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code.Name, e.message())
}

func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code.Message
}

// HTTPStatus is the status the error answers with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.Status
}

// Body is the spec's JSON shape for one error.
type Body struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// JSON returns the wire form of the error.
func (e *Error) JSON() Body {
	return Body{Code: e.Code.Name, Message: e.message(), Detail: e.Detail}
}

// New returns an error with the code's default message.
func (c Code) New() *Error { return &Error{Code: c} }

// Errorf returns an error with a formatted message.
func (c Code) Errorf(format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// WithDetail returns an error with detail attached.
func (c Code) WithDetail(detail any) *Error { return &Error{Code: c, Detail: detail} }

// WithStatus returns a copy of e answering with another HTTP status.
func (e *Error) WithStatus(status int) *Error { c := *e; c.Status = status; return &c }

// WithDetail returns a copy of e with detail attached.
func (e *Error) WithDetail(detail any) *Error { c := *e; c.Detail = detail; return &c }

// WithHeader returns a copy of e that also sets the response header key.
func (e *Error) WithHeader(key, value string) *Error {
	c := *e
	c.Header = e.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	c.Header.Set(key, value)
	return &c
}
