// Package harbor is a client for Harbor's Pluggable Scanner API (v1.2,
// backward compatible with adapters speaking v1.1 and v1.0), so berth can
// hand an image to an external scanner adapter an operator already runs —
// the Trivy adapter, for one — instead of, or beside, its built-in scanner.
//
// The flow is the API's own:
//
//	c, _ := harbor.New("http://trivy-adapter:8080", harbor.AuthBearer, token, nil)
//	md, _ := c.Metadata(ctx)                         // GET  /api/v1/metadata
//	reportType, ok := md.CanScan(manifestMediaType)  // pick a report type
//	id, _ := c.Scan(ctx, harbor.ScanRequest{...})    // POST /api/v1/scan → 202 {id}
//	rep, _ := c.Report(ctx, id, reportType, 10*time.Minute)
//	                                                 // GET  /api/v1/scan/{id}/report,
//	                                                 // polling while it answers 302
//
// The adapter is not trusted: every body read is bounded (1 MiB, 64 MiB for
// a report), redirects are never followed (302 means "not ready" in this
// API, and following one would carry credentials elsewhere), and every
// failure is an *Error naming the operation, the HTTP status and the
// adapter's own message. Severities come back in berth's words (see Level).
package harbor
