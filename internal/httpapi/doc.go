// Package httpapi serves the OCI Distribution API (/v2/) over the registry
// service. Handlers return errors; writeError is the one place that turns
// them into the spec's JSON error body and HTTP status.
package httpapi
