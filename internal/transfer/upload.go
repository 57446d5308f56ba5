package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// monolithicMax is the largest blob sent in the PUT that ends its upload
// (POST, then PUT with the body: one request fewer); a larger one goes in
// a PATCH first, as the Distribution API's streamed upload does.
const monolithicMax = 16 << 20

// blobResult is what became of a blob at the destination.
type blobResult int

const (
	blobThere   blobResult = iota // the destination had it (HEAD)
	blobMounted                   // taken without an upload (POST answered 201)
	blobSent                      // uploaded
)

// blobURL is the URL of path on repo's registry.
func blobURL(repo name.Repository, path string) *url.URL {
	return &url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: path}
}

// do sends req and checks its answer is one of codes; the response is
// returned open (the caller closes it) only on success.
func (c *copier) do(req *http.Request, codes ...int) (*http.Response, error) {
	resp, err := c.dstHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, codes...); err != nil {
		_ = resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// uploadBlob puts one blob into dstRepo unless it is there: HEAD, then
// POST (asking to mount it from mountFrom when set), then PUT with the
// body, or PATCH and PUT for a large blob. open reads the blob from the
// source (verified against its digest as it is read). BlobStart is
// emitted once the destination is found to lack the blob.
func (c *copier) uploadBlob(ctx context.Context, dstRepo name.Repository, d v1.Descriptor, mountFrom *name.Repository, open func() (io.ReadCloser, error)) (blobResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, blobURL(dstRepo, fmt.Sprintf("/v2/%s/blobs/%s", dstRepo.RepositoryStr(), d.Digest)).String(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(req, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return 0, fmt.Errorf("checking blob %s in %s: %w", d.Digest, dstRepo, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return blobThere, nil
	}

	c.emit(withKind(blobEvent(dstRepo, d), BlobStart))
	u := blobURL(dstRepo, fmt.Sprintf("/v2/%s/blobs/uploads/", dstRepo.RepositoryStr()))
	if mountFrom != nil {
		u.RawQuery = url.Values{"mount": {d.Digest.String()}, "from": {mountFrom.RepositoryStr()}}.Encode()
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return 0, err
	}
	resp, err = c.do(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return blobMounted, nil
	}
	loc, err := nextLocation(resp)
	if err != nil {
		return 0, err
	}

	body, err := open()
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if d.Size == 0 {
		body = http.NoBody
	}
	if d.Size > monolithicMax {
		req, err = http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), body)
		if err != nil {
			return 0, err
		}
		req.ContentLength = d.Size
		req.Header.Set("Content-Type", "application/octet-stream")
		if resp, err = c.do(req, http.StatusAccepted, http.StatusNoContent, http.StatusCreated); err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		if loc, err = nextLocation(resp); err != nil {
			return 0, err
		}
		body, d.Size = http.NoBody, 0
	}
	q := loc.Query()
	q.Set("digest", d.Digest.String())
	loc.RawQuery = q.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = d.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	if resp, err = c.do(req, http.StatusCreated); err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return blobSent, nil
}

// nextLocation is the upload URL an answer names in Location, resolved
// against the request's. A Location on another host that is a private,
// loopback or link-local address is refused: a registry must not steer
// the blob's bytes to an internal service.
func nextLocation(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("the registry's answer to an upload has no Location")
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("upload Location %q: %w", loc, err)
	}
	if err := checkHop(resp.Request.URL, u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkHop refuses to follow from to a different host that is a private,
// loopback or link-local IP address.
func checkHop(from, to *url.URL) error {
	if to.Hostname() == from.Hostname() {
		return nil
	}
	ip, err := netip.ParseAddr(to.Hostname())
	if err != nil {
		return nil // a name: public hosts (presigned storage URLs) are fine
	}
	if ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() {
		return fmt.Errorf("the registry sends the upload to %s, a private address of another host: refused", to.Host)
	}
	return nil
}

// checkRedirect is the destination client's redirect policy: the
// default limit of 10, and no hop to another private host.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return checkHop(via[len(via)-1].URL, req.URL)
}
