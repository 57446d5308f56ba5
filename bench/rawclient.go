package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// rawRequest is the pre-built request of a raw load loop, shared by its
// workers and built again when its Authorization value changes (a renewed
// token).
type rawRequest struct {
	auth  *liveAuth
	build func(authorization string) []byte
	cur   atomic.Pointer[builtRequest]
}

type builtRequest struct {
	auth *authValue
	req  []byte
}

func newRawRequest(auth *liveAuth, build func(authorization string) []byte) *rawRequest {
	return &rawRequest{auth: auth, build: build}
}

func (r *rawRequest) get(ctx context.Context) ([]byte, error) {
	av, err := r.auth.get(ctx)
	if err != nil {
		return nil, err
	}
	if b := r.cur.Load(); b != nil && b.auth == av {
		return b.req, nil
	}
	b := &builtRequest{auth: av, req: r.build(av.value)}
	r.cur.Store(b)
	return b.req, nil
}

// rawConn is a minimal HTTP/1.1 client on one kept-alive connection, for
// the load phases with -client raw: it writes a pre-built request and parses
// only the status line and the headers the check needs, so the load
// generator takes as little of the shared CPU as possible. One request is in
// flight at a time (no pipelining), as with a real client.
type rawConn struct {
	addr     string
	deadline time.Time
	conn     net.Conn
	br       *bufio.Reader
}

// rawResponse is what rawConn reads of a response.
type rawResponse struct {
	status        int
	contentLength int64 // -1 when absent
	digest        string
	bodyLen       int64
	body          []byte // first bytes of a non-2xx body, for the error
}

func (rc *rawConn) close() {
	if rc.conn != nil {
		_ = rc.conn.Close()
		rc.conn = nil
	}
}

func (rc *rawConn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", rc.addr)
	if err != nil {
		return err
	}
	if err := c.SetDeadline(rc.deadline); err != nil {
		_ = c.Close()
		return err
	}
	rc.conn, rc.br = c, bufio.NewReaderSize(c, 16<<10)
	return nil
}

// buildRawRequest renders a bodyless request; authorization is the
// Authorization value ("" for none).
func buildRawRequest(method, host, path string, accept []string, authorization string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: berth-bench\r\n", method, path, host)
	for _, a := range accept {
		fmt.Fprintf(&b, "Accept: %s\r\n", a)
	}
	if authorization != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", authorization)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// roundTrip sends req and reads the whole response. head says the request
// was a HEAD (no body follows whatever Content-Length says).
func (rc *rawConn) roundTrip(ctx context.Context, req []byte, head bool) (rawResponse, error) {
	if rc.conn == nil {
		if err := rc.dial(ctx); err != nil {
			return rawResponse{}, err
		}
	}
	if _, err := rc.conn.Write(req); err != nil {
		rc.close()
		return rawResponse{}, err
	}
	resp, keep, err := readRawResponse(rc.br, head)
	if err != nil || !keep {
		rc.close()
	}
	return resp, err
}

var errHeaderTooLong = errors.New("response header line too long")

// readRawResponse parses one response from br. keep is false when the
// connection cannot carry another request.
func readRawResponse(br *bufio.Reader, head bool) (r rawResponse, keep bool, err error) {
	r.contentLength = -1
	line, err := br.ReadSlice('\n')
	if err != nil {
		return r, false, fmt.Errorf("reading status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return r, false, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
	}
	r.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return r, false, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
	}
	keep = line[7] == '1' // HTTP/1.1 keeps alive by default, 1.0 does not
	chunked := false
	for {
		line, err = br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return r, false, errHeaderTooLong
		}
		if err != nil {
			return r, false, fmt.Errorf("reading headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return r, false, fmt.Errorf("malformed header line %q", line)
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if r.contentLength, err = strconv.ParseInt(string(v), 10, 64); err != nil || r.contentLength < 0 {
				return r, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Docker-Content-Digest")):
			r.digest = string(v)
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			if bytes.EqualFold(v, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(v, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	if head || r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200) {
		return r, keep, nil
	}
	var body io.Reader
	switch {
	case chunked:
		body = httputil.NewChunkedReader(br)
	case r.contentLength >= 0:
		body = io.LimitReader(br, r.contentLength)
	default:
		body, keep = br, false // delimited by the end of the connection
	}
	if r.status < 200 || r.status > 299 {
		r.body, _ = io.ReadAll(io.LimitReader(body, 512))
		r.bodyLen = int64(len(r.body))
	}
	n, err := io.Copy(io.Discard, body)
	r.bodyLen += n
	if err != nil {
		return r, false, fmt.Errorf("reading body: %w", err)
	}
	if r.contentLength >= 0 && !chunked && r.bodyLen != r.contentLength {
		return r, false, fmt.Errorf("body: %d bytes, Content-Length %d", r.bodyLen, r.contentLength)
	}
	if chunked { // skip the trailer section up to its empty line
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return r, false, fmt.Errorf("reading trailer: %w", err)
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
	}
	return r, keep, nil
}
