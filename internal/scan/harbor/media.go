package harbor

import (
	"mime"
	"strings"
)

// Media types of the Pluggable Scanner API that this client sends or reads.
const (
	MediaTypeMetadataV11     = "application/vnd.scanner.adapter.metadata+json; version=1.1"
	MediaTypeMetadataV10     = "application/vnd.scanner.adapter.metadata+json; version=1.0"
	MediaTypeScanRequestV11  = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
	MediaTypeScanResponseV10 = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
	MediaTypeErrorV10        = "application/vnd.scanner.adapter.error+json; version=1.0"

	// MediaTypeVulnReportV11 is the vulnerability report berth prefers.
	MediaTypeVulnReportV11 = "application/vnd.security.vulnerability.report; version=1.1"
	// MediaTypeHarborReportV10 is the older report type (same schema,
	// without CVSS and CWE fields).
	MediaTypeHarborReportV10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
	// MediaTypeRawReport is a scanner's own format; berth does not read it.
	MediaTypeRawReport = "application/vnd.scanner.adapter.vuln.report.raw"
	// MediaTypeSBOMReportV10 is the SBOM capability's report; berth does not
	// read it from adapters.
	MediaTypeSBOMReportV10 = "application/vnd.security.sbom.report+json; version=1.0"
)

// Capability types.
const (
	CapabilityVulnerability = "vulnerability"
	CapabilitySBOM          = "sbom"
)

// sameMediaType reports whether a and b name the same media type with the
// same parameters, ignoring case of the type and spacing around ";".
func sameMediaType(a, b string) bool {
	ta, pa, errA := mime.ParseMediaType(a)
	tb, pb, errB := mime.ParseMediaType(b)
	if errA != nil || errB != nil {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	if ta != tb || len(pa) != len(pb) {
		return false
	}
	for k, v := range pa {
		if w, ok := pb[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// isVulnReportType reports whether t is a Harbor vulnerability report type
// berth can read.
func isVulnReportType(t string) bool {
	return sameMediaType(t, MediaTypeVulnReportV11) || sameMediaType(t, MediaTypeHarborReportV10)
}
