package harbor

import (
	"context"
	"net/http"
	"strings"
)

// Scanner names an adapter's scanner.
type Scanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// Capability is one thing an adapter can do: the artifact media types it
// consumes and the report media types it produces from them. Type is
// CapabilityVulnerability, CapabilitySBOM, or "" (a pre-1.2 adapter: a
// vulnerability capability).
type Capability struct {
	Type              string   `json:"type,omitempty"`
	ConsumesMimeTypes []string `json:"consumes_mime_types"`
	ProducesMimeTypes []string `json:"produces_mime_types"`
}

// Metadata is what an adapter says about itself.
type Metadata struct {
	Scanner      Scanner           `json:"scanner"`
	Capabilities []Capability      `json:"capabilities"`
	Properties   map[string]string `json:"properties,omitempty"`
}

// Metadata fetches the adapter's metadata (GET /api/v1/metadata).
func (c *Client) Metadata(ctx context.Context) (Metadata, error) {
	resp, err := c.do(ctx, OpMetadata, http.MethodGet, c.endpoint("metadata"),
		MediaTypeMetadataV11+", "+MediaTypeMetadataV10, "", nil)
	if err != nil {
		return Metadata{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Metadata{}, statusError(OpMetadata, resp, nil)
	}
	var m *Metadata
	if err := decodeJSON(OpMetadata, resp, maxBody, &m); err != nil {
		return Metadata{}, err
	}
	if m == nil {
		return Metadata{}, &Error{Op: OpMetadata, Status: resp.StatusCode, Err: errNullBody}
	}
	return *m, nil
}

// CanScan reports whether the adapter has a vulnerability capability that
// consumes manifestMediaType and produces a Harbor vulnerability report,
// and returns the report type to ask Report for: MediaTypeVulnReportV11
// when any such capability produces it, else MediaTypeHarborReportV10.
func (m Metadata) CanScan(manifestMediaType string) (reportType string, ok bool) {
	if strings.TrimSpace(manifestMediaType) == "" {
		return "", false
	}
	for _, c := range m.Capabilities {
		t := strings.TrimSpace(c.Type)
		if t != "" && !strings.EqualFold(t, CapabilityVulnerability) {
			continue
		}
		if !containsMediaType(c.ConsumesMimeTypes, manifestMediaType) {
			continue
		}
		switch {
		case containsMediaType(c.ProducesMimeTypes, MediaTypeVulnReportV11):
			return MediaTypeVulnReportV11, true
		case containsMediaType(c.ProducesMimeTypes, MediaTypeHarborReportV10):
			reportType, ok = MediaTypeHarborReportV10, true
		}
	}
	return reportType, ok
}

func containsMediaType(list []string, t string) bool {
	for _, s := range list {
		if sameMediaType(s, t) {
			return true
		}
	}
	return false
}
