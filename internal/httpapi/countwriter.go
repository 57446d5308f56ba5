package httpapi

import (
	"io"
	"net/http"
)

// countingWriter stands in for a response writer to note the response's
// final status and count the body bytes written — what the metrics and
// the access log both need. It keeps io.ReaderFrom, so that blob files are
// still sent with sendfile (http.ServeContent copies with io.Copy, which
// looks for it), passes flushes on, and unwraps for
// http.ResponseController.
type countingWriter struct {
	http.ResponseWriter
	code int // 0 until the handler answers
	out  int64
}

var (
	_ io.ReaderFrom = (*countingWriter)(nil)
	_ http.Flusher  = (*countingWriter)(nil)
)

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code // 1xx are interim: the final status comes later
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.out += int64(n)
	return n, err
}

func (w *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	var (
		n   int64
		err error
	)
	if lr, ok := src.(*io.LimitedReader); ok {
		if bs, ok := lr.R.(bulkSender); ok {
			// http.ServeContent copies with io.CopyN.
			n, err = bs.SendTo(w.ResponseWriter, lr.N)
			lr.N -= n
			w.out += n
			return n, err
		}
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src) // without ReadFrom: no recursion
	}
	w.out += n
	return n, err
}

// Flush passes a flush on (streamed answers).
func (w *countingWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes a handler reads.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// bulkSender is a blob reader with its own way to send n bytes from its
// offset — the filesystem driver's large blobs the page cache does not hold
// (direct I/O in large chunks, where sendfile would read them into the page
// cache first). countingWriter.ReadFrom hands it the response.
type bulkSender interface {
	SendTo(w io.Writer, n int64) (int64, error)
}
