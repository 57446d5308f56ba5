package harbor

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Report is an adapter's vulnerability report. Severities are berth's
// words (see Level).
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	Scanner     Scanner   `json:"scanner"`
	// Severity is the highest of the adapter's overall severity and those
	// of the vulnerabilities, so an adapter understating it is not believed.
	Severity        string          `json:"severity"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
}

// Vulnerability is one finding in a Report.
type Vulnerability struct {
	ID           string   `json:"id"`
	Package      string   `json:"package"`
	Version      string   `json:"version"`
	FixVersion   string   `json:"fix_version,omitempty"`
	Severity     string   `json:"severity"`
	Description  string   `json:"description,omitempty"`
	Links        []string `json:"links,omitempty"`
	CVSSv3Score  float64  `json:"cvss_v3_score,omitempty"`
	CVSSv3Vector string   `json:"cvss_v3_vector,omitempty"`
	CWEIDs       []string `json:"cwe_ids,omitempty"`
}

// Wire shape of a Harbor vulnerability report (v1.0 and v1.1 share it).
type (
	reportBody struct {
		GeneratedAt     string     `json:"generated_at"`
		Scanner         Scanner    `json:"scanner"`
		Severity        string     `json:"severity"`
		Vulnerabilities []vulnBody `json:"vulnerabilities"`
	}
	vulnBody struct {
		ID            string    `json:"id"`
		Package       string    `json:"package"`
		Version       string    `json:"version"`
		FixVersion    string    `json:"fix_version"`
		Severity      string    `json:"severity"`
		Description   string    `json:"description"`
		Links         []string  `json:"links"`
		PreferredCVSS *cvssBody `json:"preferred_cvss"`
		CWEIDs        []string  `json:"cwe_ids"`
	}
	cvssBody struct {
		ScoreV3  *float64 `json:"score_v3"`
		VectorV3 string   `json:"vector_v3"`
	}
)

// Waits between report polls, from the Refresh-After header.
const (
	defaultRefresh = 5 * time.Second
	minRefresh     = 1 * time.Second
	maxRefresh     = 5 * time.Minute
)

// Report fetches the report of scan id as reportType (one CanScan
// returned), polling while the adapter answers 302 and waiting what its
// Refresh-After header says between polls (5s when absent or not a
// number, kept within 1s–5min). It gives up when ctx ends or, if maxWait
// is positive, once maxWait has passed (ErrNotFinished); maxWait <= 0
// leaves the bound to ctx alone.
func (c *Client) Report(ctx context.Context, id, reportType string, maxWait time.Duration) (Report, error) {
	if err := checkID(id); err != nil {
		return Report{}, &Error{Op: OpReport, Err: err}
	}
	if !isVulnReportType(reportType) {
		return Report{}, &Error{Op: OpReport, Err: fmt.Errorf("report type %q is not a Harbor vulnerability report", reportType)}
	}
	now, sleep := c.clock()
	var deadline time.Time
	if maxWait > 0 {
		deadline = now().Add(maxWait)
	}
	target := c.endpoint("scan", url.PathEscape(id), "report")
	for {
		if err := ctx.Err(); err != nil {
			return Report{}, &Error{Op: OpReport, Err: fmt.Errorf("waiting for scan %q: %w", id, err)}
		}
		resp, err := c.do(ctx, OpReport, http.MethodGet, target, reportType, "", nil)
		if err != nil {
			return Report{}, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return decodeReport(resp, reportType)
		case http.StatusFound:
			wait := refreshAfter(resp.Header.Get("Refresh-After"))
			drain(resp)
			if maxWait > 0 {
				left := deadline.Sub(now())
				if left <= 0 {
					return Report{}, &Error{Op: OpReport, Status: resp.StatusCode,
						Err: fmt.Errorf("scan %q: %w in %s", id, ErrNotFinished, maxWait)}
				}
				wait = min(wait, left)
			}
			if err := sleep(ctx, wait); err != nil {
				return Report{}, &Error{Op: OpReport, Err: fmt.Errorf("waiting for scan %q: %w", id, err)}
			}
		case http.StatusNotFound:
			return Report{}, statusError(OpReport, resp, fmt.Errorf("%w %q", ErrUnknownScan, id))
		case http.StatusInternalServerError:
			return Report{}, statusError(OpReport, resp, ErrScanFailed)
		case http.StatusNotImplemented:
			return Report{}, statusError(OpReport, resp, ErrUnsupported)
		default:
			return Report{}, statusError(OpReport, resp, nil)
		}
	}
}

// clock returns the client's Now and Sleep, or the real ones.
func (c *Client) clock() (func() time.Time, func(context.Context, time.Duration) error) {
	now, sleep := c.Now, c.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return now, sleep
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshAfter turns a Refresh-After value (whole seconds) into a wait.
func refreshAfter(v string) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil && n == 0 { // absent or not a number; out of range keeps ±max
		return defaultRefresh
	}
	switch {
	case n < int64(minRefresh/time.Second):
		return minRefresh
	case n > int64(maxRefresh/time.Second):
		return maxRefresh
	}
	return time.Duration(n) * time.Second
}

// decodeReport reads a 200 answer to a report request.
func decodeReport(resp *http.Response, reportType string) (Report, error) {
	if ct := resp.Header.Get("Content-Type"); ct != "" && !readableReportType(ct) {
		drain(resp)
		return Report{}, &Error{Op: OpReport, Status: resp.StatusCode,
			Err: fmt.Errorf("adapter sent a %q report, asked for %q", ct, reportType)}
	}
	var b *reportBody
	if err := decodeJSON(OpReport, resp, maxReport, &b); err != nil {
		return Report{}, err
	}
	if b == nil {
		return Report{}, &Error{Op: OpReport, Status: resp.StatusCode, Err: errNullBody}
	}
	rep, err := b.report()
	if err != nil {
		return Report{}, &Error{Op: OpReport, Status: resp.StatusCode, Err: err}
	}
	return rep, nil
}

// readableReportType accepts a response Content-Type that may hold a Harbor
// vulnerability report: either Harbor type (they share a schema), or plain
// JSON or text from an adapter that labels loosely. Anything else — the raw
// or SBOM report above all, whose JSON would read as an empty, clean
// report — is refused.
func readableReportType(ct string) bool {
	t, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch t {
	case "application/vnd.security.vulnerability.report",
		"application/vnd.scanner.adapter.vuln.report.harbor+json",
		"application/json", "text/plain":
		return true
	}
	return false
}

func (b *reportBody) report() (Report, error) {
	r := Report{Scanner: b.Scanner, Severity: Level(b.Severity)}
	if s := strings.TrimSpace(b.GeneratedAt); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Report{}, fmt.Errorf("report generated_at %q is not an RFC 3339 time", clip(s))
		}
		r.GeneratedAt = t
	}
	if len(b.Vulnerabilities) > 0 {
		r.Vulnerabilities = make([]Vulnerability, 0, len(b.Vulnerabilities))
	}
	for _, v := range b.Vulnerabilities {
		out := Vulnerability{
			ID:          v.ID,
			Package:     v.Package,
			Version:     v.Version,
			FixVersion:  v.FixVersion,
			Severity:    Level(v.Severity),
			Description: v.Description,
			Links:       v.Links,
			CWEIDs:      v.CWEIDs,
		}
		if v.PreferredCVSS != nil {
			if s := v.PreferredCVSS.ScoreV3; s != nil && *s >= 0 && *s <= 10 {
				out.CVSSv3Score = *s
			}
			out.CVSSv3Vector = v.PreferredCVSS.VectorV3
		}
		if rank(out.Severity) > rank(r.Severity) {
			r.Severity = out.Severity
		}
		r.Vulnerabilities = append(r.Vulnerabilities, out)
	}
	return r, nil
}
