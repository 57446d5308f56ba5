package harbor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestMetadata(t *testing.T) {
	f := newFake(t)
	c, _ := f.client(t)
	got, err := c.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{
		Scanner: Scanner{Name: "Trivy", Vendor: "Aqua Security", Version: "v0.50.1"},
		Capabilities: []Capability{
			{
				Type:              CapabilityVulnerability,
				ConsumesMimeTypes: []string{ociManifest, dockerManifest},
				ProducesMimeTypes: []string{MediaTypeHarborReportV10, MediaTypeVulnReportV11},
			},
			{
				Type:              CapabilitySBOM,
				ConsumesMimeTypes: []string{ociManifest, dockerManifest},
				ProducesMimeTypes: []string{MediaTypeSBOMReportV10},
			},
		},
		Properties: map[string]string{
			"harbor.scanner-adapter/scanner-type":                      "os-package-vulnerability",
			"harbor.scanner-adapter/vulnerability-database-updated-at": "2024-05-01T08:00:00Z",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Metadata =\n%+v\nwant\n%+v", got, want)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("adapter saw %d requests, want 1", len(reqs))
	}
	accept := reqs[0].Header.Get("Accept")
	for _, mt := range []string{MediaTypeMetadataV11, MediaTypeMetadataV10} {
		if !strings.Contains(accept, mt) {
			t.Errorf("Accept = %q, lacks %q", accept, mt)
		}
	}
}

func TestMetadataErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		want    []string // substrings of the error
		is      error
	}{
		{
			name:    "500 with message",
			handler: func(w http.ResponseWriter, r *http.Request) { adapterError(w, 500, "redis down") },
			status:  500,
			want:    []string{"harbor adapter metadata", "HTTP 500", `"redis down"`},
		},
		{
			name:    "401 text",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "who are you", 401) },
			status:  401,
			want:    []string{"HTTP 401", `"who are you"`},
		},
		{
			name:    "not json",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hi</html>") },
			status:  200,
			want:    []string{"metadata", "HTTP 200", "decoding response"},
		},
		{
			name:    "wrong types",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"capabilities":"all"}`) },
			status:  200,
			want:    []string{"decoding response"},
		},
		{
			name:    "null",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `null`) },
			status:  200,
			want:    []string{"JSON null"},
		},
		{
			name:    "trailing garbage",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, trivyMetadata+" {}") },
			status:  200,
			want:    []string{"trailing data"},
		},
		{
			name: "over 1 MiB",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"properties":{"x":"`+strings.Repeat("a", 2<<20)+`"}}`)
			},
			status: 200,
			want:   []string{"too large"},
			is:     ErrTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.metadata = tt.handler
			c, _ := f.client(t)
			_, err := c.Metadata(context.Background())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Op != OpMetadata || e.Status != tt.status {
				t.Errorf("Op, Status = %q, %d; want %q, %d", e.Op, e.Status, OpMetadata, tt.status)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, lacks %q", err, s)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, not %v", err, tt.is)
			}
		})
	}
}

func TestCanScan(t *testing.T) {
	vuln := func(typ string, produces ...string) Capability {
		return Capability{Type: typ, ConsumesMimeTypes: []string{ociManifest, dockerManifest}, ProducesMimeTypes: produces}
	}
	trivy := Metadata{Capabilities: []Capability{
		vuln(CapabilityVulnerability, MediaTypeHarborReportV10, MediaTypeVulnReportV11, MediaTypeRawReport),
		vuln(CapabilitySBOM, MediaTypeSBOMReportV10),
	}}
	v10Only := Metadata{Capabilities: []Capability{vuln("", MediaTypeHarborReportV10, MediaTypeRawReport)}}
	sbomOnly := Metadata{Capabilities: []Capability{vuln(CapabilitySBOM, MediaTypeSBOMReportV10)}}
	rawOnly := Metadata{Capabilities: []Capability{vuln(CapabilityVulnerability, MediaTypeRawReport)}}
	// One capability per report type: the v1.1 one comes second.
	split := Metadata{Capabilities: []Capability{
		vuln(CapabilityVulnerability, MediaTypeHarborReportV10),
		vuln(CapabilityVulnerability, MediaTypeVulnReportV11),
	}}
	spaced := Metadata{Capabilities: []Capability{{
		Type:              "Vulnerability",
		ConsumesMimeTypes: []string{"Application/VND.oci.image.manifest.v1+json"},
		ProducesMimeTypes: []string{"application/vnd.security.vulnerability.report;version=1.1"},
	}}}
	sbomConsumesIndex := Metadata{Capabilities: []Capability{
		vuln(CapabilityVulnerability, MediaTypeVulnReportV11),
		{Type: CapabilitySBOM, ConsumesMimeTypes: []string{ociIndex}, ProducesMimeTypes: []string{MediaTypeVulnReportV11}},
	}}

	tests := []struct {
		name     string
		md       Metadata
		mime     string
		wantType string
		wantOK   bool
	}{
		{"OCI manifest", trivy, ociManifest, MediaTypeVulnReportV11, true},
		{"Docker manifest", trivy, dockerManifest, MediaTypeVulnReportV11, true},
		{"OCI index", trivy, ociIndex, "", false},
		{"empty media type", trivy, "", "", false},
		{"v1.0-only adapter", v10Only, ociManifest, MediaTypeHarborReportV10, true},
		{"sbom capability only", sbomOnly, ociManifest, "", false},
		{"raw report only", rawOnly, ociManifest, "", false},
		{"v1.1 in a later capability", split, dockerManifest, MediaTypeVulnReportV11, true},
		{"case and spacing", spaced, ociManifest, MediaTypeVulnReportV11, true},
		{"index only via sbom capability", sbomConsumesIndex, ociIndex, "", false},
		{"no capabilities", Metadata{}, ociManifest, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.md.CanScan(tt.mime)
			if got != tt.wantType || ok != tt.wantOK {
				t.Errorf("CanScan(%q) = %q, %v; want %q, %v", tt.mime, got, ok, tt.wantType, tt.wantOK)
			}
		})
	}
}
