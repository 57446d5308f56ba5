package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

func parseDigest(s string) (digest.Digest, error) {
	d, err := oci.ParseDigest(s)
	if err != nil {
		return "", errcode.DigestInvalid.Errorf("%v", err)
	}
	return d, nil
}

func blobLocation(name string, d digest.Digest) string {
	return "/v2/" + name + "/blobs/" + d.String()
}

func uploadLocation(name, id string) string {
	return "/v2/" + name + "/blobs/uploads/" + id
}

func (a *API) getBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.arg)
	if err != nil {
		return err
	}
	h := w.Header()
	if r.Method == http.MethodHead {
		info, err := a.svc.StatBlob(r.Context(), rt.name, d)
		if isBlobUnknown(err) {
			size, cache, uerr := a.svc.StatUpstreamBlob(r.Context(), rt.name, d)
			if cache != "" || uerr != nil {
				info.Size, err = size, uerr
				setCacheStatus(w, cache)
			}
		}
		if err != nil {
			return err
		}
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Docker-Content-Digest", d.String())
		h.Set("Accept-Ranges", "bytes")
		h.Set("ETag", `"`+d.String()+`"`)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if u, err := a.svc.BlobURL(r.Context(), rt.name, d); isBlobUnknown(err) {
		return a.pullBlob(w, r, rt.name, d, err)
	} else if err != nil {
		return err
	} else if u != "" {
		h.Set("Docker-Content-Digest", d.String())
		http.Redirect(w, r, u, http.StatusTemporaryRedirect)
		return nil
	}
	rc, info, err := a.svc.OpenBlob(r.Context(), rt.name, d)
	if isBlobUnknown(err) {
		return a.pullBlob(w, r, rt.name, d, err)
	}
	if err != nil {
		return err
	}
	if a.verifyOnRead {
		rc = newVerifyingReader(rc, d, info.Size, a.log.With("request_id", RequestID(r.Context())))
	}
	defer rc.Close()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", d.String())
	h.Set("ETag", `"`+d.String()+`"`)
	h.Set("Cache-Control", "max-age=31536000")
	// ServeContent handles Range (206/416) and, for an *os.File, lets the
	// kernel send the bytes (sendfile).
	http.ServeContent(w, r, "", time.Time{}, rc)
	return nil
}

func isBlobUnknown(err error) bool {
	var e *errcode.Error
	return errors.As(err, &e) && e.Code == errcode.BlobUnknown
}

// pullBlob serves a blob the repository does not hold from its proxy
// project's upstream (the whole blob: a Range is not honoured while it
// streams in); when the repository is not in a proxy project, notHere is
// the answer.
func (a *API) pullBlob(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest, notHere error) error {
	rc, size, cache, err := a.svc.PullBlob(r.Context(), repo, d)
	if err != nil {
		return err
	}
	if cache == "" {
		return notHere
	}
	defer rc.Close()
	h := w.Header()
	setCacheStatus(w, cache)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", d.String())
	h.Set("ETag", `"`+d.String()+`"`)
	if size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		// The status is out: all that is left is to cut the connection so
		// the client sees a short body.
		a.log.WarnContext(r.Context(), "pull-through cache: blob stream ended early", "repo", repo, "digest", d, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (a *API) deleteBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.arg)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteBlob(r.Context(), rt.name, d); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// contentLength is the request's declared body length, -1 when unknown.
func contentLength(r *http.Request) int64 {
	if r.ContentLength >= 0 {
		return r.ContentLength
	}
	return -1
}

func (a *API) startUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	q := r.URL.Query()
	ctx := r.Context()
	if m := q.Get("mount"); m != "" {
		d, err := parseDigest(m)
		if err != nil {
			return err
		}
		from := q.Get("from")
		if from != "" && !oci.ValidName(from) {
			return errcode.NameInvalid.WithDetail(map[string]string{"name": from})
		}
		mounted, err := a.mount(r, rt.name, d, from)
		if err != nil {
			return err
		}
		if mounted {
			return blobCreated(w, rt.name, d)
		}
		// not mountable: fall back to an upload session (202)
	} else if ds := q.Get("digest"); ds != "" {
		d, err := parseDigest(ds)
		if err != nil {
			return err
		}
		if _, err := a.svc.PutBlob(ctx, rt.name, d, contentLength(r), r.Body); err != nil {
			return err
		}
		return blobCreated(w, rt.name, d)
	}
	var alg digest.Algorithm
	if as := q.Get("digest-algorithm"); as != "" {
		var err error
		if alg, err = oci.ParseAlgorithm(as); err != nil {
			return errcode.DigestInvalid.Errorf("%v", err)
		}
	}
	up, err := a.svc.StartUpload(ctx, rt.name, alg)
	if err != nil {
		return err
	}
	return uploadAccepted(w, up, http.StatusAccepted)
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) error {
	h := w.Header()
	h.Set("Location", blobLocation(name, d))
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func uploadAccepted(w http.ResponseWriter, up registry.UploadState, status int) error {
	h := w.Header()
	h.Set("Location", uploadLocation(up.Repo, up.ID))
	h.Set("Docker-Upload-UUID", up.ID)
	end := up.Offset - 1
	if end < 0 {
		end = 0
	}
	h.Set("Range", fmt.Sprintf("0-%d", end))
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

func (a *API) uploadStatus(w http.ResponseWriter, r *http.Request, rt route) error {
	up, err := a.svc.UploadStatus(r.Context(), rt.name, rt.arg)
	if err != nil {
		return err
	}
	return uploadAccepted(w, up, http.StatusNoContent)
}

// parseContentRange reads a chunk's Content-Range ("<start>-<end>", also
// accepting a "bytes " prefix). It returns start -1 when the header is absent.
func parseContentRange(r *http.Request) (start, length int64, err error) {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return -1, contentLength(r), nil
	}
	spec := strings.TrimPrefix(strings.TrimPrefix(cr, "bytes "), "bytes=")
	if i := strings.IndexByte(spec, '/'); i >= 0 {
		spec = spec[:i]
	}
	a, b, ok := strings.Cut(spec, "-")
	s, err1 := strconv.ParseInt(a, 10, 64)
	e, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || s < 0 || e < s {
		return 0, 0, errcode.BlobUploadInvalid.Errorf("invalid Content-Range %q", cr).WithStatus(http.StatusRequestedRangeNotSatisfiable)
	}
	length = e - s + 1
	if cl := contentLength(r); cl >= 0 && cl != length {
		return 0, 0, errcode.SizeInvalid.Errorf("Content-Range %q does not match Content-Length %d", cr, cl).WithStatus(http.StatusRequestedRangeNotSatisfiable)
	}
	return s, length, nil
}

func (a *API) patchUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	start, length, err := parseContentRange(r)
	if err != nil {
		return err
	}
	up, err := a.svc.WriteUpload(r.Context(), rt.name, rt.arg, start, length, r.Body)
	if err != nil {
		return err
	}
	return uploadAccepted(w, up, http.StatusAccepted)
}

func (a *API) finishUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	ds := r.URL.Query().Get("digest")
	if ds == "" {
		return errcode.DigestInvalid.Errorf("the closing PUT needs ?digest=")
	}
	d, err := parseDigest(ds)
	if err != nil {
		return err
	}
	start, length, err := parseContentRange(r)
	if err != nil {
		return err
	}
	var body io.Reader = r.Body
	if start >= 0 {
		if _, err := a.svc.WriteUpload(r.Context(), rt.name, rt.arg, start, length, body); err != nil {
			return err
		}
		body, length = http.NoBody, 0
	}
	if _, err := a.svc.FinishUpload(r.Context(), rt.name, rt.arg, d, length, body); err != nil {
		return err
	}
	return blobCreated(w, rt.name, d)
}

func (a *API) cancelUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	if err := a.svc.CancelUpload(r.Context(), rt.name, rt.arg); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
