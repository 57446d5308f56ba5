package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Media types the bench pushes and asks for.
const (
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtOCIConfig   = "application/vnd.oci.image.config.v1+json"
	mtOCILayer    = "application/vnd.oci.image.layer.v1.tar"
)

// dockerAccept is the list of manifest types docker pull sends, one Accept
// header each.
var dockerAccept = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
}

// client talks plain HTTP/1.1 to one registry.
type client struct {
	base *url.URL
	hc   *http.Client
	auth authorizer // nil: no authentication
}

func newClient(addr string, conns int, timeout time.Duration) (*client, error) {
	base, err := url.Parse("http://" + addr)
	if err != nil {
		return nil, fmt.Errorf("addr %q: %w", addr, err)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no global limit
		MaxIdleConnsPerHost: max(conns, 64) + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: timeout}}, nil
}

func (c *client) url(path string) *url.URL {
	return c.base.ResolveReference(&url.URL{Path: path})
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// statusError reads a little of an unexpected response's body into the error.
func statusError(resp *http.Response, want ...int) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	return fmt.Errorf("%s %s: status %d, want %v: %s", resp.Request.Method, resp.Request.URL.RequestURI(),
		resp.StatusCode, want, strings.TrimSpace(string(body)))
}

// do sends req and fails unless the status is one of want. On success the
// caller owns resp.Body. With authentication, a request without an
// Authorization header gets the one for its scopes.
func (c *client) do(req *http.Request, want ...int) (*http.Response, error) {
	if c.auth != nil && req.Header.Get("Authorization") == "" {
		v, _, err := c.auth.header(req.Context(), requestScopes(req))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	return nil, statusError(resp, want...)
}

// drain reads and closes a body so the connection is reused.
func drain(resp *http.Response) (int64, error) {
	n, err := io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// ping waits until GET /v2/ without credentials answers 200 or 401 (the
// registry is up either way) or the deadline passes, and returns that
// response's status and WWW-Authenticate values.
func (c *client) ping(ctx context.Context, wait time.Duration) (int, []string, error) {
	deadline := time.Now().Add(wait)
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/").String(), nil)
		resp, err := c.hc.Do(req)
		if err == nil {
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
				err = statusError(resp, http.StatusOK, http.StatusUnauthorized)
			} else if _, err = drain(resp); err == nil {
				return resp.StatusCode, resp.Header.Values("WWW-Authenticate"), nil
			}
		}
		last = err
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("registry at %s not ready after %s: %w", c.base.Host, wait, last)
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// location resolves the Location header of resp against its request URL.
func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("%s %s: no Location header", resp.Request.Method, resp.Request.URL.Path)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("bad Location %q: %w", loc, err)
	}
	return resp.Request.URL.ResolveReference(u), nil
}

// blobExists HEADs a blob: true on 200, false on 404, an error otherwise.
func (c *client) blobExists(ctx context.Context, repo, dgst string) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, c.url("/v2/"+repo+"/blobs/"+dgst).String(), nil)
	resp, err := c.do(req, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	_, _ = drain(resp)
	return resp.StatusCode == http.StatusOK, nil
}

// startUpload POSTs a new upload session and returns its location.
func (c *client) startUpload(ctx context.Context, repo string) (*url.URL, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v2/"+repo+"/blobs/uploads/").String(), nil)
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	_, _ = drain(resp)
	return location(resp)
}

// patchUpload streams size bytes of body into the session at loc and
// returns the session's next location.
func (c *client) patchUpload(ctx context.Context, loc *url.URL, body io.Reader, size int64) (*url.URL, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	_, _ = drain(resp)
	return location(resp)
}

// finishUpload PUTs ?digest= to close the session at loc, with body (size
// bytes, possibly 0) as the last chunk, and checks the 201.
func (c *client) finishUpload(ctx context.Context, loc *url.URL, dgst string, body io.Reader, size int64) error {
	u := *loc
	q := u.Query()
	q.Set("digest", dgst)
	u.RawQuery = q.Encode()
	if body == nil {
		body = http.NoBody
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	_, _ = drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != dgst {
		return fmt.Errorf("PUT upload: Docker-Content-Digest %s, want %s", got, dgst)
	}
	return nil
}

// pushSmallBlob uploads data the way a client does for a small layer:
// HEAD (skip if present), POST, then PUT ?digest= with the body.
func (c *client) pushSmallBlob(ctx context.Context, repo string, b blobData) error {
	ok, err := c.blobExists(ctx, repo, b.digest)
	if err != nil || ok {
		return err
	}
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	return c.finishUpload(ctx, loc, b.digest, bytes.NewReader(b.data), int64(len(b.data)))
}

// mountBlob asks for a cross-repository mount of dgst from src into repo;
// if the registry answers 202 (no mount) the upload is completed with data.
func (c *client) mountBlob(ctx context.Context, repo, src string, b blobData) error {
	u := c.url("/v2/" + repo + "/blobs/uploads/")
	u.RawQuery = url.Values{"mount": {b.digest}, "from": {src}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	resp, err := c.do(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return err
	}
	_, _ = drain(resp)
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	loc, err := location(resp)
	if err != nil {
		return err
	}
	return c.finishUpload(ctx, loc, b.digest, bytes.NewReader(b.data), int64(len(b.data)))
}

// putManifest PUTs an image manifest under ref and checks the 201 and the
// digest the registry computed.
func (c *client) putManifest(ctx context.Context, repo, ref string, m blobData) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v2/"+repo+"/manifests/"+ref).String(),
		bytes.NewReader(m.data))
	req.Header.Set("Content-Type", mtOCIManifest)
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	_, _ = drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != m.digest {
		return fmt.Errorf("PUT manifest %s:%s: Docker-Content-Digest %s, want %s", repo, ref, got, m.digest)
	}
	return nil
}

// pushImage pushes img's blobs (HEAD-check, POST, PUT) and then its
// manifest under tag.
func (c *client) pushImage(ctx context.Context, repo, tag string, img image) error {
	for _, l := range img.layers {
		if err := c.pushSmallBlob(ctx, repo, l); err != nil {
			return err
		}
	}
	if err := c.pushSmallBlob(ctx, repo, img.config); err != nil {
		return err
	}
	return c.putManifest(ctx, repo, tag, img.manifest)
}

// getManifest fetches repo:ref with docker's Accept headers and checks the
// digest and size against want.
func (c *client) getManifest(ctx context.Context, repo, ref string, want blobData) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/"+repo+"/manifests/"+ref).String(), nil)
	req.Header["Accept"] = dockerAccept
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return err
	}
	n, err := drain(resp)
	if err != nil {
		return err
	}
	return checkManifestResponse(resp, n, want)
}

func checkManifestResponse(resp *http.Response, n int64, want blobData) error {
	if n != int64(len(want.data)) {
		return fmt.Errorf("GET manifest: %d bytes, want %d", n, len(want.data))
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != want.digest {
		return fmt.Errorf("GET manifest: Docker-Content-Digest %q, want %s", got, want.digest)
	}
	return nil
}

// listPage is the body of /v2/_catalog and /v2/<name>/tags/list.
type listPage struct {
	Repositories []string `json:"repositories"`
	Tags         []string `json:"tags"`
}

// pageAll GETs first and follows rel="next" Link headers to the end,
// returning every entry in order and the number of requests made.
func (c *client) pageAll(ctx context.Context, first *url.URL, maxPages int) ([]string, int, error) {
	var all []string
	next := first
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		if pages > maxPages {
			return nil, pages, fmt.Errorf("paging %s: more than %d pages", first.Path, maxPages)
		}
		if seen[next.String()] {
			return nil, pages, fmt.Errorf("paging %s: Link loops back to %s", first.Path, next)
		}
		seen[next.String()] = true
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
		resp, err := c.do(req, http.StatusOK)
		if err != nil {
			return nil, pages, err
		}
		var p listPage
		err = json.NewDecoder(resp.Body).Decode(&p)
		_, _ = drain(resp)
		if err != nil {
			return nil, pages, fmt.Errorf("GET %s: decode: %w", next.RequestURI(), err)
		}
		all = append(all, p.Repositories...)
		all = append(all, p.Tags...)
		u, ok, err := nextLink(resp.Header.Get("Link"), resp.Request.URL)
		if err != nil {
			return nil, pages, err
		}
		if !ok {
			return all, pages, nil
		}
		next = u
	}
}

// withoutTimeout returns a client sharing c's connections but with no
// per-request timeout, for transfers whose length depends on the size.
func (c *client) withoutTimeout() *client {
	return &client{base: c.base, hc: &http.Client{Transport: c.hc.Transport}, auth: c.auth}
}

// setupAuth does what docker does before its first request to a registry:
// GET /v2/ without credentials (ping, which returned status and the
// challenges). A 200 needs no authentication; a 401 with a Bearer
// challenge gets tokens from its realm, one with a Basic challenge the
// credentials on every request. It sets c.auth, checks that GET /v2/ with
// it answers 200, and returns the mode ("none", "bearer", "basic").
func (c *client) setupAuth(ctx context.Context, status int, challenges []string, user, password string) (string, error) {
	if status == http.StatusOK {
		return "none", nil
	}
	if user == "" {
		return "", fmt.Errorf("registry asks for authentication (WWW-Authenticate: %s); pass -user and -password",
			strings.Join(challenges, "; "))
	}
	if ch, ok, err := findChallenge(challenges, "bearer"); err != nil {
		return "", err
	} else if ok {
		realm, err := url.Parse(ch.params["realm"])
		if err != nil || ch.params["realm"] == "" {
			return "", fmt.Errorf("the Bearer challenge has no usable realm: %q", challenges)
		}
		c.auth = newTokenSource(c.base.ResolveReference(realm), ch.params["service"], user, password, c.hc)
	} else if _, ok, _ := findChallenge(challenges, "basic"); ok {
		c.auth = newBasicAuth(user, password)
	} else {
		return "", fmt.Errorf("no Bearer or Basic challenge in %q", challenges)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v2/").String(), nil)
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("GET /v2/ with credentials: %w", err)
	}
	_, _ = drain(resp)
	if _, ok := c.auth.(*basicAuth); ok {
		return "basic", nil
	}
	return "bearer", nil
}
