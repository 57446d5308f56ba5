package harbor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const testDigest = digest.Digest("sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b")

func validScanRequest() ScanRequest {
	return ScanRequest{
		RegistryURL:   "https://registry.example:5000",
		Authorization: "Bearer reg.token",
		Repository:    "library/alpine",
		Digest:        testDigest,
		Tag:           "3.20",
		MimeType:      ociManifest,
	}
}

func TestScan(t *testing.T) {
	noTag := validScanRequest()
	noTag.Tag, noTag.Authorization = "", ""
	tests := []struct {
		name string
		req  ScanRequest
		want map[string]any
	}{
		{
			name: "all fields",
			req:  validScanRequest(),
			want: map[string]any{
				"registry": map[string]any{"url": "https://registry.example:5000", "authorization": "Bearer reg.token"},
				"artifact": map[string]any{
					"repository": "library/alpine", "digest": string(testDigest),
					"tag": "3.20", "mime_type": ociManifest,
				},
				"enabled_capabilities": []any{map[string]any{"type": "vulnerability"}},
			},
		},
		{
			name: "no tag no authorization",
			req:  noTag,
			want: map[string]any{
				"registry": map[string]any{"url": "https://registry.example:5000"},
				"artifact": map[string]any{
					"repository": "library/alpine", "digest": string(testDigest), "mime_type": ociManifest,
				},
				"enabled_capabilities": []any{map[string]any{"type": "vulnerability"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c, _ := f.client(t)
			id, err := c.Scan(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if id != "01HXSCAN" {
				t.Errorf("id = %q, want 01HXSCAN", id)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("adapter saw %d requests, want 1", len(reqs))
			}
			if got := reqs[0].Header.Get("Content-Type"); got != MediaTypeScanRequestV11 {
				t.Errorf("Content-Type = %q, want %q", got, MediaTypeScanRequestV11)
			}
			var body map[string]any
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatalf("body %s: %v", reqs[0].Body, err)
			}
			if !reflect.DeepEqual(body, tt.want) {
				t.Errorf("body = %s\nwant %v", reqs[0].Body, tt.want)
			}
		})
	}
}

func TestScanErrors(t *testing.T) {
	reply := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		want    []string
		is      error
	}{
		{"400", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 400, "unmarshalling scan request") },
			400, []string{"harbor adapter scan", "HTTP 400", `"unmarshalling scan request"`}, nil},
		{"422", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 422, "invalid digest") },
			422, []string{"HTTP 422", `"invalid digest"`}, nil},
		{"501", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 501, "unsupported mime type") },
			501, []string{"HTTP 501", `"unsupported mime type"`}, ErrUnsupported},
		{"500", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 500, "queue full") },
			500, []string{"HTTP 500", `"queue full"`}, nil},
		{"503 empty", reply(503, ""), 503, []string{"HTTP 503 Service Unavailable"}, nil},
		{"202 no id", reply(202, `{}`), 202, []string{"bad scan id", "empty"}, nil},
		{"202 dotdot id", reply(202, `{"id":".."}`), 202, []string{"bad scan id"}, nil},
		{"202 control id", reply(202, `{"id":"a\nb"}`), 202, []string{"bad scan id"}, nil},
		{"202 long id", reply(202, `{"id":"`+strings.Repeat("x", maxIDLen+1)+`"}`), 202, []string{"longer than"}, nil},
		{"202 junk", reply(202, `id=1`), 202, []string{"decoding response"}, nil},
		{"202 null", reply(202, `null`), 202, []string{"JSON null"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.scan = tt.handler
			c, _ := f.client(t)
			id, err := c.Scan(context.Background(), validScanRequest())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Scan = %q, %v; want an *Error", id, err)
			}
			if e.Op != OpScan || e.Status != tt.status {
				t.Errorf("Op, Status = %q, %d; want %q, %d", e.Op, e.Status, OpScan, tt.status)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, lacks %q", err, s)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "reg.token") {
				t.Errorf("err = %q leaks the registry authorization", err)
			}
		})
	}
}

func TestScanValidation(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ScanRequest)
		want   string
	}{
		{"no registry", func(r *ScanRequest) { r.RegistryURL = "" }, "registry URL"},
		{"registry not http", func(r *ScanRequest) { r.RegistryURL = "oci://registry" }, "registry URL"},
		{"authorization injection", func(r *ScanRequest) { r.Authorization = "Bearer x\r\nHost: evil" }, "control character"},
		{"no repository", func(r *ScanRequest) { r.Repository = "" }, "no repository"},
		{"no digest", func(r *ScanRequest) { r.Digest = "" }, "digest"},
		{"bad digest", func(r *ScanRequest) { r.Digest = "sha256:zz" }, "digest"},
		{"no media type", func(r *ScanRequest) { r.MimeType = " " }, "media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c, _ := f.client(t)
			r := validScanRequest()
			tt.change(&r)
			_, err := c.Scan(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "harbor adapter scan: ") {
				t.Errorf("err = %v, want a scan error containing %q", err, tt.want)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("adapter saw %d requests for an invalid scan request", n)
			}
		})
	}
}
