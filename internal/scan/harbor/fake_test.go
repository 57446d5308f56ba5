package harbor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Manifest media types the fake adapter consumes.
const (
	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	ociIndex       = "application/vnd.oci.image.index.v1+json"
)

// trivyMetadata is what a Trivy adapter (v1.2) says about itself.
const trivyMetadata = `{
  "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50.1"},
  "capabilities": [
    {
      "type": "vulnerability",
      "consumes_mime_types": [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json"
      ],
      "produces_mime_types": [
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
        "application/vnd.security.vulnerability.report; version=1.1"
      ]
    },
    {
      "type": "sbom",
      "consumes_mime_types": [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json"
      ],
      "produces_mime_types": ["application/vnd.security.sbom.report+json; version=1.0"],
      "additional_attributes": {"sbom_media_types": ["application/spdx+json", "application/vnd.cyclonedx+json"]}
    }
  ],
  "properties": {
    "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
    "harbor.scanner-adapter/vulnerability-database-updated-at": "2024-05-01T08:00:00Z"
  }
}`

// trivyReport is a small v1.1 report.
const trivyReport = `{
  "generated_at": "2024-05-02T10:11:12.5Z",
  "artifact": {"repository": "library/alpine", "digest": "sha256:aa", "mime_type": "application/vnd.oci.image.manifest.v1+json"},
  "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50.1"},
  "severity": "High",
  "vulnerabilities": [
    {
      "id": "CVE-2024-0001",
      "package": "openssl",
      "version": "3.1.0-r1",
      "fix_version": "3.1.4-r0",
      "severity": "High",
      "description": "a flaw",
      "links": ["https://avd.aquasec.com/nvd/cve-2024-0001"],
      "preferred_cvss": {"score_v3": 7.5, "vector_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
      "cwe_ids": ["CWE-476"],
      "vendor_attributes": {"CVSS": {"nvd": {"V3Score": 7.5}}}
    },
    {
      "id": "CVE-2024-0002",
      "package": "busybox",
      "version": "1.36.1-r0",
      "severity": "negligible"
    }
  ]
}`

// request is what the fake adapter saw.
type request struct {
	Method string
	Path   string
	ID     string // the scan id, for report requests
	Header http.Header
	Body   []byte
}

// fakeAdapter is a scanner adapter over httptest. Each handler may be
// replaced before the first request; by default it behaves like Trivy.
type fakeAdapter struct {
	srv      *httptest.Server
	metadata http.HandlerFunc
	scan     http.HandlerFunc
	report   http.HandlerFunc

	mu   sync.Mutex
	seen []request
}

func newFake(t *testing.T) *fakeAdapter {
	t.Helper()
	f := &fakeAdapter{
		metadata: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", MediaTypeMetadataV11)
			io.WriteString(w, trivyMetadata)
		},
		scan: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", MediaTypeScanResponseV10)
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"id":"01HXSCAN"}`)
		},
		report: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", r.Header.Get("Accept"))
			io.WriteString(w, trivyReport)
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		f.metadata(w, r)
	})
	mux.HandleFunc("POST /api/v1/scan", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		f.scan(w, r)
	})
	mux.HandleFunc("GET /api/v1/scan/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		f.report(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		t.Errorf("fake adapter: unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "no such route", http.StatusTeapot)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAdapter) record(r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, request{
		Method: r.Method, Path: r.URL.Path, ID: r.PathValue("id"),
		Header: r.Header.Clone(), Body: body,
	})
}

func (f *fakeAdapter) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.seen...)
}

// client returns a client of f with a fake clock and no auth.
func (f *fakeAdapter) client(t *testing.T) (*Client, *fakeClock) {
	t.Helper()
	c, err := New(f.srv.URL, AuthNone, "", f.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)}
	c.Now, c.Sleep = clk.Now, clk.Sleep
	return c, clk
}

// fakeClock records the waits and moves time on by them at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// onSleep, if set, runs before each wait (to cancel a context, say).
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	n, hook := len(c.sleeps), c.onSleep
	c.now = c.now.Add(d)
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// adapterError writes the API's ErrorResponse.
func adapterError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", MediaTypeErrorV10)
	w.WriteHeader(status)
	io.WriteString(w, `{"error":{"message":"`+msg+`"}}`)
}
