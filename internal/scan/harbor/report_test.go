package harbor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReportImmediate(t *testing.T) {
	for _, reportType := range []string{MediaTypeVulnReportV11, MediaTypeHarborReportV10} {
		t.Run(reportType, func(t *testing.T) {
			f := newFake(t)
			c, clk := f.client(t)
			got, err := c.Report(context.Background(), "scan/42", reportType, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			want := Report{
				GeneratedAt: time.Date(2024, 5, 2, 10, 11, 12, 500_000_000, time.UTC),
				Scanner:     Scanner{Name: "Trivy", Vendor: "Aqua Security", Version: "v0.50.1"},
				Severity:    LevelHigh,
				Vulnerabilities: []Vulnerability{
					{
						ID: "CVE-2024-0001", Package: "openssl", Version: "3.1.0-r1", FixVersion: "3.1.4-r0",
						Severity: LevelHigh, Description: "a flaw",
						Links:        []string{"https://avd.aquasec.com/nvd/cve-2024-0001"},
						CVSSv3Score:  7.5,
						CVSSv3Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
						CWEIDs:       []string{"CWE-476"},
					},
					{ID: "CVE-2024-0002", Package: "busybox", Version: "1.36.1-r0", Severity: LevelLow},
				},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Report =\n%+v\nwant\n%+v", got, want)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("adapter saw %d requests, want 1", len(reqs))
			}
			if reqs[0].ID != "scan/42" {
				t.Errorf("adapter saw scan id %q, want %q", reqs[0].ID, "scan/42")
			}
			if a := reqs[0].Header.Get("Accept"); a != reportType {
				t.Errorf("Accept = %q, want %q", a, reportType)
			}
			if w := clk.waits(); len(w) != 0 {
				t.Errorf("waited %v before a ready report", w)
			}
		})
	}
}

func TestReportPolls(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int32
	refresh := []string{"2", "7", "1"}
	f.report = func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if n <= len(refresh) {
			w.Header().Set("Refresh-After", refresh[n-1])
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", MediaTypeVulnReportV11)
		io.WriteString(w, trivyReport)
	}
	c, clk := f.client(t)
	rep, err := c.Report(context.Background(), "01HXSCAN", MediaTypeVulnReportV11, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Vulnerabilities) != 2 {
		t.Errorf("got %d vulnerabilities, want 2", len(rep.Vulnerabilities))
	}
	if got, want := clk.waits(), []time.Duration{2 * time.Second, 7 * time.Second, time.Second}; !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("adapter saw %d report requests, want 4", n)
	}
}

func TestRefreshAfter(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 5 * time.Second},
		{"soon", 5 * time.Second},
		{"2.5", 5 * time.Second},
		{"3", 3 * time.Second},
		{" 4 ", 4 * time.Second},
		{"0", time.Second},
		{"-4", time.Second},
		{"300", 5 * time.Minute},
		{"301", 5 * time.Minute},
		{"99999999999999999999999", 5 * time.Minute},
		{"-99999999999999999999999", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := refreshAfter(tt.header); got != tt.want {
				t.Errorf("refreshAfter(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestReportDeadline(t *testing.T) {
	tests := []struct {
		name      string
		refresh   string
		maxWait   time.Duration
		wantWaits []time.Duration
	}{
		{"refresh 5s, 12s", "5", 12 * time.Second, []time.Duration{5 * time.Second, 5 * time.Second, 2 * time.Second}},
		{"no header, 10s", "", 10 * time.Second, []time.Duration{5 * time.Second, 5 * time.Second}},
		{"huge refresh, 1h", "86400", time.Hour, []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute,
			5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute,
			5 * time.Minute, 5 * time.Minute, 5 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.report = func(w http.ResponseWriter, r *http.Request) {
				if tt.refresh != "" {
					w.Header().Set("Refresh-After", tt.refresh)
				}
				w.WriteHeader(http.StatusFound)
			}
			c, clk := f.client(t)
			_, err := c.Report(context.Background(), "01HXSCAN", MediaTypeVulnReportV11, tt.maxWait)
			if !errors.Is(err, ErrNotFinished) {
				t.Fatalf("err = %v, want ErrNotFinished", err)
			}
			for _, s := range []string{"harbor adapter report", "HTTP 302", "did not finish in " + tt.maxWait.String()} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, lacks %q", err, s)
				}
			}
			if got := clk.waits(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			if got, want := len(f.requests()), len(tt.wantWaits)+1; got != want {
				t.Errorf("adapter saw %d requests, want %d", got, want)
			}
		})
	}
}

func TestReportContextEnds(t *testing.T) {
	f := newFake(t)
	f.report = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) }
	c, clk := f.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk.onSleep = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	_, err := c.Report(ctx, "01HXSCAN", MediaTypeVulnReportV11, 0)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "harbor adapter report: ") {
		t.Fatalf("err = %v, want a report error wrapping context.Canceled", err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("adapter saw %d requests, want 2", got)
	}
}

func TestReportErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		want    []string
		is      error
	}{
		{"500 with message", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 500, "trivy: db locked") },
			500, []string{"harbor adapter report", "HTTP 500", `scan failed: "trivy: db locked"`}, ErrScanFailed},
		{"404", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) },
			404, []string{"HTTP 404", `unknown scan id "01HXSCAN"`}, ErrUnknownScan},
		{"501", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 501, "no such report type") },
			501, []string{"HTTP 501", `"no such report type"`}, ErrUnsupported},
		{"400", func(w http.ResponseWriter, r *http.Request) { adapterError(w, 400, "bad query") },
			400, []string{"HTTP 400", `"bad query"`}, nil},
		{"301 elsewhere", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/x", 301) },
			301, []string{"HTTP 301"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.report = tt.handler
			c, clk := f.client(t)
			_, err := c.Report(context.Background(), "01HXSCAN", MediaTypeVulnReportV11, time.Minute)
			checkReportError(t, err, tt.status, tt.want, tt.is)
			if w := clk.waits(); len(w) != 0 {
				t.Errorf("waited %v after a final answer", w)
			}
		})
	}
}

func TestReportJunk(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    string
	}{
		{"not json", MediaTypeVulnReportV11, "<html>oops</html>", "decoding response"},
		{"array", MediaTypeVulnReportV11, "[]", "decoding response"},
		{"null", MediaTypeVulnReportV11, "null", "JSON null"},
		{"empty body", MediaTypeVulnReportV11, "", "decoding response"},
		{"vulnerabilities a string", MediaTypeVulnReportV11, `{"vulnerabilities":"none"}`, "decoding response"},
		{"score a string", MediaTypeVulnReportV11, `{"vulnerabilities":[{"preferred_cvss":{"score_v3":"9"}}]}`, "decoding response"},
		{"bad generated_at", MediaTypeVulnReportV11, `{"generated_at":"yesterday"}`, "generated_at"},
		{"truncated", MediaTypeVulnReportV11, trivyReport[:200], "decoding response"},
		{"trailing data", MediaTypeVulnReportV11, trivyReport + "]", "trailing data"},
		{"raw report", MediaTypeRawReport, `{"SchemaVersion":2,"Results":[]}`, "asked for"},
		{"sbom report", MediaTypeSBOMReportV10, `{"sbom":{}}`, "asked for"},
		{"bad content type", "text/", trivyReport, "asked for"},
		{"vendor content type", "application/vnd.acme.findings+json", trivyReport, "asked for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.report = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				io.WriteString(w, tt.body)
			}
			c, _ := f.client(t)
			_, err := c.Report(context.Background(), "01HXSCAN", MediaTypeVulnReportV11, time.Minute)
			checkReportError(t, err, 200, []string{tt.want}, nil)
		})
	}
}

func TestReportLenient(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    Report
	}{
		{"no content type, empty object", "", `{}`, Report{Severity: LevelUnknown}},
		{"plain json, v1.0 shape", "application/json; charset=utf-8",
			`{"severity":"Low","vulnerabilities":[{"id":"X","severity":"MEDIUM"}]}`,
			Report{Severity: LevelMedium, Vulnerabilities: []Vulnerability{{ID: "X", Severity: LevelMedium}}}},
		{"sniffed text/plain", "text/plain; charset=utf-8", `{"severity":"Negligible"}`, Report{Severity: LevelLow}},
		{"score out of range dropped", MediaTypeHarborReportV10,
			`{"severity":"Critical","vulnerabilities":[{"id":"X","severity":"critical","preferred_cvss":{"score_v3":42}}]}`,
			Report{Severity: LevelCritical, Vulnerabilities: []Vulnerability{{ID: "X", Severity: LevelCritical}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.report = func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				io.WriteString(w, tt.body)
			}
			c, _ := f.client(t)
			got, err := c.Report(context.Background(), "01HXSCAN", MediaTypeHarborReportV10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Report = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReportHugeBody(t *testing.T) {
	f := newFake(t)
	var written atomic.Int64
	f.report = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaTypeVulnReportV11)
		io.WriteString(w, `{"vulnerabilities":[`)
		chunk := []byte(strings.Repeat(`{"id":"CVE-2024-0000","package":"x","severity":"High"},`, 1000))
		for written.Load() < 1<<30 { // stop at 1 GiB should the client never hang up
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	c, _ := f.client(t)
	_, err := c.Report(context.Background(), "01HXSCAN", MediaTypeVulnReportV11, time.Minute)
	checkReportError(t, err, 200, []string{"too large", "67108864 bytes"}, ErrTooLarge)
	if n := written.Load(); n > maxReport+32<<20 {
		t.Errorf("adapter wrote %d bytes before the client hung up", n)
	}
}

func TestReportBadArguments(t *testing.T) {
	tests := []struct {
		name, id, reportType, want string
	}{
		{"empty id", "", MediaTypeVulnReportV11, "empty scan id"},
		{"dot dot id", "..", MediaTypeVulnReportV11, "scan id"},
		{"raw report type", "x", MediaTypeRawReport, "not a Harbor vulnerability report"},
		{"sbom report type", "x", MediaTypeSBOMReportV10, "not a Harbor vulnerability report"},
		{"empty report type", "x", "", "not a Harbor vulnerability report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c, _ := f.client(t)
			_, err := c.Report(context.Background(), tt.id, tt.reportType, time.Minute)
			checkReportError(t, err, 0, []string{tt.want}, nil)
			if n := len(f.requests()); n != 0 {
				t.Errorf("adapter saw %d requests", n)
			}
		})
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleepCtx = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx on a cancelled context = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("sleepCtx on a cancelled context took %v", d)
	}
}

func checkReportError(t *testing.T, err error, status int, want []string, is error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.Op != OpReport || e.Status != status {
		t.Errorf("Op, Status = %q, %d; want %q, %d (%v)", e.Op, e.Status, OpReport, status, err)
	}
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %q, lacks %q", err, s)
		}
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("err = %v, not %v", err, is)
	}
}
