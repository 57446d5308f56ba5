package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReadRawResponse(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		head       bool
		wantStatus int
		wantLen    int64
		wantDigest string
		wantKeep   bool
		wantBody   string
		wantErr    bool
	}{
		{
			name:       "content-length body",
			raw:        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDocker-Content-Digest: sha256:ab\r\n\r\nhello",
			wantStatus: 200, wantLen: 5, wantDigest: "sha256:ab", wantKeep: true,
		},
		{
			name:       "chunked with trailer",
			raw:        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
			wantStatus: 200, wantLen: 5, wantKeep: true,
		},
		{
			name:       "head ignores content-length",
			raw:        "HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n",
			head:       true,
			wantStatus: 200, wantLen: 0, wantKeep: true,
		},
		{
			name:       "connection close",
			raw:        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			wantStatus: 200, wantKeep: false,
		},
		{
			name:       "http/1.0 without keep-alive",
			raw:        "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
			wantStatus: 200, wantLen: 1, wantKeep: false,
		},
		{
			name:       "error body kept",
			raw:        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
			wantStatus: 404, wantLen: 9, wantKeep: true, wantBody: "not found",
		},
		{name: "short body", raw: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", wantErr: true},
		{name: "garbage status", raw: "HTTP/2 200\r\n\r\n", wantErr: true},
		{name: "bad content-length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: true},
		{name: "header without colon", raw: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantErr: true},
		{name: "eof in headers", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, keep, err := readRawResponse(bufio.NewReader(strings.NewReader(tt.raw)), tt.head)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if r.status != tt.wantStatus || r.bodyLen != tt.wantLen || r.digest != tt.wantDigest || keep != tt.wantKeep {
				t.Errorf("got status %d len %d digest %q keep %v; want %d %d %q %v",
					r.status, r.bodyLen, r.digest, keep, tt.wantStatus, tt.wantLen, tt.wantDigest, tt.wantKeep)
			}
			if string(r.body) != tt.wantBody {
				t.Errorf("body = %q, want %q", r.body, tt.wantBody)
			}
		})
	}
}

func TestReadRawResponseSequence(t *testing.T) {
	// Two responses back to back on one connection must both parse.
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n" +
		"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(raw))
	for i, want := range []int{200, 200, 201} {
		r, keep, err := readRawResponse(br, false)
		if err != nil || r.status != want || !keep {
			t.Fatalf("response %d: status %d keep %v err %v, want %d", i, r.status, keep, err, want)
		}
	}
}

func TestRawConnAgainstNetHTTP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Accept")) != 2 {
			http.Error(w, "want two Accept headers", http.StatusBadRequest)
			return
		}
		w.Header().Set("Docker-Content-Digest", "sha256:x")
		_, _ = w.Write([]byte(r.Method + " " + r.URL.Path))
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	rc := &rawConn{addr: l.Addr().String(), deadline: time.Now().Add(10 * time.Second)}
	defer rc.close()
	req := buildRawRequest(http.MethodGet, rc.addr, "/v2/a/manifests/b", []string{"x/y", "z/w"}, "")
	for i := range 3 { // the connection is reused
		r, err := rc.roundTrip(context.Background(), req, false)
		if err != nil {
			t.Fatalf("round trip %d: %v", i, err)
		}
		if r.status != 200 || r.bodyLen != int64(len("GET /v2/a/manifests/b")) || r.digest != "sha256:x" {
			t.Fatalf("round trip %d: %+v", i, r)
		}
	}
	bad := buildRawRequest(http.MethodGet, rc.addr, "/", []string{"only/one"}, "")
	r, err := rc.roundTrip(context.Background(), bad, false)
	if err != nil || r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "two Accept") {
		t.Fatalf("bad request: %+v, %v", r, err)
	}
}
