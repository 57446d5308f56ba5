package replicate

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Local is how the engine reaches this registry: its own HTTP handler,
// called in process (no network, no TLS), under a name that identifies it
// in image references.
type Local struct {
	// Handler serves /v2/ (the registry's root handler).
	Handler http.Handler
	// Host is the registry name used in references ("berth.internal"
	// when empty); requests never leave the process, whatever it is.
	Host string
	// Auth returns credentials for the copy (nil, or a nil Authenticator:
	// anonymous, as with auth.mode none). It is called when a policy's
	// connection to this registry is made and whenever this registry
	// answers it with 401, so a short-lived token is replaced when it ends.
	Auth func() (authn.Authenticator, error)
}

func (l Local) host() string {
	if l.Host == "" {
		return "berth.internal"
	}
	return l.Host
}

// HandlerTransport is an http.RoundTripper that serves every request with
// h in process, streaming the response body as h writes it. The request
// appears to come from 127.0.0.1. It answers plain http only: an https
// request fails, so that clients probing https first (as
// go-containerregistry does) settle on http, which matches the token
// realm the handler announces for a request without TLS.
type HandlerTransport struct{ H http.Handler }

// RoundTrip implements http.RoundTripper.
func (t HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, fmt.Errorf("in-process transport: scheme %q: only http", req.URL.Scheme)
	}
	in := req.Clone(req.Context())
	in.RemoteAddr = "127.0.0.1:1"
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
				_ = pw.CloseWithError(fmt.Errorf("handler panic: %v", p))
				return
			}
			w.WriteHeader(http.StatusOK) // when the handler wrote nothing
			_ = pw.Close()
		}()
		t.H.ServeHTTP(w, in)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		_ = pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	resp := &http.Response{
		Status: fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, Request: req, ContentLength: -1,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead {
		_ = pr.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// pipeResponse is the http.ResponseWriter of HandlerTransport.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	code   int
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush is a no-op: every Write reaches the reader at once.
func (w *pipeResponse) Flush() {}
