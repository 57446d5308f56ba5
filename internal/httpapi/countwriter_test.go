package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeSender is a blob reader with its own SendTo, as the filesystem
// driver's cold blobs have; it records the lengths it was asked for.
type fakeSender struct {
	*bytes.Reader
	asked []int64
}

func (f *fakeSender) Close() error { return nil }

func (f *fakeSender) SendTo(w io.Writer, n int64) (int64, error) {
	f.asked = append(f.asked, n)
	return io.CopyN(w, f.Reader, n)
}

// TestCountingWriterBulkSender: http.ServeContent's copy reaches a reader's
// SendTo through the counting writer, for whole bodies and single ranges;
// the bytes are counted and are the right ones.
func TestCountingWriterBulkSender(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	cases := []struct {
		name       string
		rangeHdr   string
		wantStatus int
		wantBody   []byte
		wantAsked  []int64
	}{
		{"whole", "", http.StatusOK, data, []int64{int64(len(data))}},
		{"one range", "bytes=1000-1999", http.StatusPartialContent, data[1000:2000], []int64{1000}},
		{"suffix", "bytes=-10", http.StatusPartialContent, data[len(data)-10:], []int64{10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			type served struct {
				asked   []int64
				counted int64
			}
			done := make(chan served, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				cw := &countingWriter{ResponseWriter: w}
				sender := &fakeSender{Reader: bytes.NewReader(data)}
				w.Header().Set("Content-Type", "application/octet-stream")
				http.ServeContent(cw, r, "", time.Time{}, sender)
				done <- served{asked: sender.asked, counted: cw.out}
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			if c.rangeHdr != "" {
				req.Header.Set("Range", c.rangeHdr)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != c.wantStatus || !bytes.Equal(body, c.wantBody) {
				t.Fatalf("status %d, %d bytes (%v); want %d and %d bytes", resp.StatusCode, len(body), err, c.wantStatus, len(c.wantBody))
			}
			got := <-done
			if len(got.asked) != len(c.wantAsked) || (len(c.wantAsked) > 0 && got.asked[0] != c.wantAsked[0]) {
				t.Fatalf("SendTo asked for %v, want %v", got.asked, c.wantAsked)
			}
			if got.counted != int64(len(c.wantBody)) {
				t.Fatalf("counted %d body bytes, want %d", got.counted, len(c.wantBody))
			}
		})
	}
}
