package harbor

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name, base, auth, cred string
		wantErr                string // substring; "" means success
		wantMetadataURL        string
	}{
		{name: "http", base: "http://adapter:8080", wantMetadataURL: "http://adapter:8080/api/v1/metadata"},
		{name: "trailing slash", base: "https://adapter/", wantMetadataURL: "https://adapter/api/v1/metadata"},
		{name: "path prefix", base: "https://gw.example/trivy//", wantMetadataURL: "https://gw.example/trivy/api/v1/metadata"},
		{name: "auth none word", base: "http://a", auth: "None", wantMetadataURL: "http://a/api/v1/metadata"},
		{name: "basic", base: "http://a", auth: "basic", cred: "u:p", wantMetadataURL: "http://a/api/v1/metadata"},
		{name: "bearer upper", base: "http://a", auth: "Bearer", cred: "tok", wantMetadataURL: "http://a/api/v1/metadata"},
		{name: "apikey", base: "http://a", auth: "apikey", cred: "k", wantMetadataURL: "http://a/api/v1/metadata"},
		{name: "ftp", base: "ftp://a", wantErr: "not an http"},
		{name: "relative", base: "adapter:8080", wantErr: "not an http"},
		{name: "no host", base: "http://", wantErr: "no host"},
		{name: "port only", base: "http://:8080", wantErr: "no host"},
		{name: "query", base: "http://a/?x=1", wantErr: "no query"},
		{name: "fragment", base: "http://a/#x", wantErr: "no query or fragment"},
		{name: "userinfo", base: "http://u:p@a/", wantErr: "credentials"},
		{name: "bad url", base: "http://a b/%zz", wantErr: "base URL"},
		{name: "unknown auth", base: "http://a", auth: "digest", cred: "x", wantErr: "unknown auth kind"},
		{name: "basic no colon", base: "http://a", auth: "basic", cred: "user", wantErr: "user:password"},
		{name: "basic no user", base: "http://a", auth: "basic", cred: ":p", wantErr: "user:password"},
		{name: "bearer empty", base: "http://a", auth: "bearer", wantErr: "needs a credential"},
		{name: "apikey empty", base: "http://a", auth: "apikey", wantErr: "needs a credential"},
		{name: "credential without kind", base: "http://a", cred: "x", wantErr: "without an auth kind"},
		{name: "header injection", base: "http://a", auth: "bearer", cred: "t\r\nX-Evil: 1", wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.base, tt.auth, tt.cred, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q, %q) error = %v, want one containing %q", tt.base, tt.auth, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q, %q): %v", tt.base, tt.auth, err)
			}
			if got := c.endpoint("metadata"); got != tt.wantMetadataURL {
				t.Errorf("metadata URL = %q, want %q", got, tt.wantMetadataURL)
			}
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("robot$berth:pa:ss"))
	tests := []struct {
		name, auth, cred  string
		wantAuthorization string
		wantAPIKey        string
	}{
		{name: "none"},
		{name: "basic", auth: AuthBasic, cred: "robot$berth:pa:ss", wantAuthorization: basic},
		{name: "bearer", auth: AuthBearer, cred: "tok.en", wantAuthorization: "Bearer tok.en"},
		{name: "apikey", auth: AuthAPIKey, cred: "s3cret", wantAPIKey: "s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c, err := New(f.srv.URL, tt.auth, tt.cred, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := c.Metadata(ctx); err != nil {
				t.Fatal(err)
			}
			id, err := c.Scan(ctx, validScanRequest())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Report(ctx, id, MediaTypeVulnReportV11, 0); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 3 {
				t.Fatalf("adapter saw %d requests, want 3", len(reqs))
			}
			for _, r := range reqs {
				if got := r.Header.Get("Authorization"); got != tt.wantAuthorization {
					t.Errorf("%s %s: Authorization = %q, want %q", r.Method, r.Path, got, tt.wantAuthorization)
				}
				if got := r.Header.Get(APIKeyHeader); got != tt.wantAPIKey {
					t.Errorf("%s %s: %s = %q, want %q", r.Method, r.Path, APIKeyHeader, got, tt.wantAPIKey)
				}
			}
		})
	}
}

func TestTrailingSlashAndPrefixReachAPI(t *testing.T) {
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Write([]byte(trivyMetadata))
	}))
	defer srv.Close()
	for _, tt := range []struct{ name, base, want string }{
		{"bare", srv.URL, "/api/v1/metadata"},
		{"slash", srv.URL + "/", "/api/v1/metadata"},
		{"prefix", srv.URL + "/scanners/trivy/", "/scanners/trivy/api/v1/metadata"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			paths = nil
			mu.Unlock()
			c, err := New(tt.base, "", "", srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Metadata(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) != 1 || paths[0] != tt.want {
				t.Errorf("paths = %q, want [%q]", paths, tt.want)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hit atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit.Store(true)
		w.Write([]byte(trivyMetadata))
	}))
	defer elsewhere.Close()
	f := newFake(t)
	f.metadata = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/api/v1/metadata", http.StatusFound)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	c, err := New(f.srv.URL, AuthAPIKey, "key", hc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Metadata(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusFound || e.Op != OpMetadata {
		t.Fatalf("err = %v, want an *Error for metadata with status 302", err)
	}
	if hit.Load() {
		t.Error("the client followed the redirect (and took the API key along)")
	}
	if hc.CheckRedirect(nil, nil) != nil {
		t.Error("New changed the caller's http.Client")
	}
}

func TestTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c, err := New(base, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Metadata(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Op != OpMetadata || e.Status != 0 || e.Err == nil {
		t.Fatalf("err = %#v, want an *Error for metadata without a status", err)
	}
	if !strings.HasPrefix(err.Error(), "harbor adapter metadata: ") {
		t.Errorf("err = %q", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"status and message", &Error{Op: OpScan, Status: 422, Message: "bad digest"},
			`harbor adapter scan: HTTP 422 Unprocessable Entity: "bad digest"`},
		{"cause and message", &Error{Op: OpReport, Status: 500, Message: "db \"locked\"", Err: ErrScanFailed},
			`harbor adapter report: HTTP 500 Internal Server Error: scan failed: "db \"locked\""`},
		{"odd status", &Error{Op: OpMetadata, Status: 599},
			`harbor adapter metadata: HTTP 599`},
		{"no status", &Error{Op: OpMetadata, Err: errors.New("dial refused")},
			`harbor adapter metadata: dial refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAdapterMessage(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	tests := []struct {
		name, body, want string
	}{
		{"json error", `{"error":{"message":" boom "}}`, "boom"},
		{"text", "  upstream down\n", "upstream down"},
		{"json without error", `{"message":"x"}`, `{"message":"x"}`},
		{"empty", "", ""},
		{"clipped on a rune", long, strings.Repeat("é", maxMessage/2) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := adapterMessage([]byte(tt.body)); got != tt.want {
				t.Errorf("adapterMessage(%.40q) = %.60q, want %.60q", tt.body, got, tt.want)
			}
		})
	}
}

func TestBoundedReader(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int64
		want     string
		wantErr  error
	}{
		{"under", "abc", 4, "abc", nil},
		{"exactly", "abcd", 4, "abcd", nil},
		{"one over", "abcde", 4, "abcd", ErrTooLarge},
		{"far over", strings.Repeat("x", 10000), 4, "xxxx", ErrTooLarge},
		{"empty", "", 4, "", nil},
		{"zero limit", "a", 0, "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(&boundedReader{r: strings.NewReader(tt.in), left: tt.limit})
			if string(got) != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("read %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDecodeJSONLimit(t *testing.T) {
	tests := []struct {
		name, body string
		limit      int64
		wantErr    string
	}{
		{"fits exactly", `{"id":"a"}`, 10, ""},
		{"trailing space fits", `{"id":"a"} `, 11, ""},
		{"one byte over", `{"id":"ab"}`, 10, "too large (limit 10 bytes)"},
		{"trailing space over", `{"id":"a"}  `, 11, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: 202, Body: io.NopCloser(strings.NewReader(tt.body))}
			var v scanResponseBody
			err := decodeJSON(OpScan, resp, tt.limit, &v)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("decodeJSON: %v", err)
			case tt.wantErr == "" && v.ID != "a":
				t.Errorf("decoded id %q, want a", v.ID)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("decodeJSON err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
