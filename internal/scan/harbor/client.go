package harbor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Auth kinds for New.
const (
	AuthNone   = ""       // no credentials
	AuthBasic  = "basic"  // credential is "user:password"
	AuthBearer = "bearer" // credential is the token
	AuthAPIKey = "apikey" // credential goes in APIKeyHeader
)

// APIKeyHeader carries the credential for AuthAPIKey.
const APIKeyHeader = "X-ScannerAdapter-API-Key"

// Body bounds.
const (
	maxBody   = 1 << 20  // metadata, scan response, error bodies
	maxReport = 64 << 20 // a report
)

// defaultTimeout bounds one request (with its body) when New is given no
// http.Client.
const defaultTimeout = 2 * time.Minute

// Client talks to one scanner adapter. Its methods are safe for concurrent
// use as long as Sleep and Now are not changed meanwhile.
type Client struct {
	base       *url.URL
	hc         *http.Client
	auth       string
	credential string

	// Sleep waits d or until ctx ends (then it returns ctx's error); Report
	// waits with it between polls. Nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is Report's clock for its deadline. Nil means time.Now.
	Now func() time.Time
}

// New returns a client for the adapter at baseURL (http or https, with a
// host; the API is under <baseURL>/api/v1). auth is one of the Auth…
// kinds, with its credential. hc may be nil; redirects are never followed
// whatever hc says.
func New(baseURL, auth, credential string, hc *http.Client) (*Client, error) {
	u, err := parseHTTPURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("harbor adapter: base URL: %w", err)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("harbor adapter: base URL %q must have no query or fragment", baseURL)
	}
	if u.User != nil {
		return nil, errors.New("harbor adapter: base URL must not hold credentials; use the basic auth kind")
	}
	kind := strings.ToLower(strings.TrimSpace(auth))
	if kind == "none" {
		kind = AuthNone
	}
	switch kind {
	case AuthNone:
		if credential != "" {
			return nil, errors.New("harbor adapter: a credential was given without an auth kind")
		}
	case AuthBasic:
		if user, _, ok := strings.Cut(credential, ":"); !ok || user == "" {
			return nil, errors.New(`harbor adapter: basic auth credential must be "user:password"`)
		}
	case AuthBearer, AuthAPIKey:
		if credential == "" {
			return nil, fmt.Errorf("harbor adapter: %s auth needs a credential", kind)
		}
	default:
		return nil, fmt.Errorf("harbor adapter: unknown auth kind %q (want none, basic, bearer or apikey)", auth)
	}
	if strings.ContainsAny(credential, "\r\n\x00") {
		return nil, errors.New("harbor adapter: credential holds a control character")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	own := *hc
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, hc: &own, auth: kind, credential: credential}, nil
}

// parseHTTPURL parses an absolute http or https URL with a host.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an http or https URL", s)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	return u, nil
}

// endpoint is the URL of the API path made of elems (each already escaped).
func (c *Client) endpoint(elems ...string) string {
	return c.base.JoinPath(append([]string{"api", "v1"}, elems...)...).String()
}

// do sends one request and returns the response, whatever its status.
func (c *Client) do(ctx context.Context, op, method, target, accept, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "berth")
	switch c.auth {
	case AuthBasic:
		user, pass, _ := strings.Cut(c.credential, ":")
		req.SetBasicAuth(user, pass)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+c.credential)
	case AuthAPIKey:
		req.Header.Set(APIKeyHeader, c.credential)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	return resp, nil
}

// decodeJSON decodes exactly one JSON value of at most limit bytes from
// resp's body into v, and closes the body.
func decodeJSON(op string, resp *http.Response, limit int64, v any) error {
	defer resp.Body.Close()
	dec := json.NewDecoder(&boundedReader{r: resp.Body, left: limit})
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
			if errors.Is(terr, ErrTooLarge) {
				err = terr
			}
		}
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, limit)
		} else {
			err = fmt.Errorf("decoding response: %w", err)
		}
		return &Error{Op: op, Status: resp.StatusCode, Err: err}
	}
	return nil
}

// drain reads a little of resp's body, so the connection may be reused,
// and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// boundedReader reads at most left bytes and fails with ErrTooLarge when
// there is more.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := io.ReadFull(b.r, one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
