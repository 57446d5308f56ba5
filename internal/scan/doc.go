// Package scan is berth's vulnerability scanner: a durable queue of scans
// (fed by pushes and by requests), workers that read an image's layers,
// build its SBOM (package sbom), match it against the imported OSV
// database (packages vuln/...), store the report, attach the SBOM to the
// image as an OCI referrer, and match stored SBOMs again when the
// database is updated. It also holds each project's vulnerability pull
// policy and decides pulls under it.
package scan
