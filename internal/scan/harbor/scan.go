package harbor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/opencontainers/go-digest"
)

// maxIDLen bounds a scan id an adapter may hand out.
const maxIDLen = 1024

// ScanRequest is the artifact to scan and how the adapter pulls it.
type ScanRequest struct {
	// RegistryURL is the base URL of berth's registry API as the adapter
	// reaches it, e.g. "https://registry.example".
	RegistryURL string
	// Authorization is the Authorization header value the adapter sends
	// to the registry (e.g. "Bearer <short-lived token>"); may be empty.
	Authorization string
	Repository    string
	Digest        digest.Digest
	Tag           string // optional
	MimeType      string // the manifest's media type
}

// Wire shapes of the scan request and response.
type (
	scanRequestBody struct {
		Registry            registryBody        `json:"registry"`
		Artifact            artifactBody        `json:"artifact"`
		EnabledCapabilities []enabledCapability `json:"enabled_capabilities"`
	}
	registryBody struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization,omitempty"`
	}
	artifactBody struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag,omitempty"`
		MimeType   string `json:"mime_type"`
	}
	enabledCapability struct {
		Type string `json:"type"`
	}
	scanResponseBody struct {
		ID string `json:"id"`
	}
)

// Scan asks the adapter to scan r's artifact for vulnerabilities
// (POST /api/v1/scan) and returns the scan id to pass to Report.
func (c *Client) Scan(ctx context.Context, r ScanRequest) (id string, err error) {
	if err := r.validate(); err != nil {
		return "", &Error{Op: OpScan, Err: err}
	}
	body, err := json.Marshal(scanRequestBody{
		Registry: registryBody{URL: r.RegistryURL, Authorization: r.Authorization},
		Artifact: artifactBody{
			Repository: r.Repository,
			Digest:     r.Digest.String(),
			Tag:        r.Tag,
			MimeType:   r.MimeType,
		},
		EnabledCapabilities: []enabledCapability{{Type: CapabilityVulnerability}},
	})
	if err != nil {
		return "", &Error{Op: OpScan, Err: err}
	}
	resp, err := c.do(ctx, OpScan, http.MethodPost, c.endpoint("scan"),
		MediaTypeScanResponseV10+", "+MediaTypeErrorV10, MediaTypeScanRequestV11, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	switch {
	case resp.StatusCode == http.StatusNotImplemented:
		return "", statusError(OpScan, resp, ErrUnsupported)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return "", statusError(OpScan, resp, nil)
	}
	var sr *scanResponseBody
	if err := decodeJSON(OpScan, resp, maxBody, &sr); err != nil {
		return "", err
	}
	if sr == nil {
		return "", &Error{Op: OpScan, Status: resp.StatusCode, Err: errNullBody}
	}
	if err := checkID(sr.ID); err != nil {
		return "", &Error{Op: OpScan, Status: resp.StatusCode, Err: fmt.Errorf("adapter answered with a bad scan id: %w", err)}
	}
	return sr.ID, nil
}

func (r ScanRequest) validate() error {
	if _, err := parseHTTPURL(r.RegistryURL); err != nil {
		return fmt.Errorf("registry URL: %w", err)
	}
	if strings.ContainsAny(r.Authorization, "\r\n\x00") {
		return errors.New("registry authorization holds a control character")
	}
	if r.Repository == "" {
		return errors.New("no repository")
	}
	if err := r.Digest.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w", r.Digest, err)
	}
	if strings.TrimSpace(r.MimeType) == "" {
		return errors.New("no manifest media type")
	}
	return nil
}

// checkID accepts a scan id that is safe to put in a URL path segment.
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("empty scan id")
	case len(id) > maxIDLen:
		return fmt.Errorf("scan id longer than %d bytes", maxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("scan id %q", id)
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == '\uFFFD' {
			return fmt.Errorf("scan id %q holds a control or invalid character", id)
		}
	}
	return nil
}
