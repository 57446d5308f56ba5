package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/registry"
)

func (a *API) getManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ref, err := registry.ParseReference(rt.arg)
	if err != nil {
		// A pull may only fail with 404: no manifest can have an invalid tag.
		if !strings.Contains(rt.arg, ":") {
			return errcode.ManifestUnknown.WithDetail(map[string]string{"name": rt.name, "reference": rt.arg})
		}
		return err
	}
	m, cache, err := a.svc.PullManifest(r.Context(), rt.name, ref)
	if err != nil {
		return err
	}
	if err := a.admitPull(r, rt.name, m); err != nil {
		return err
	}
	setCacheStatus(w, cache)
	if r.Method == http.MethodHead && ref.Digest != "" && cache != registry.CacheMiss && cache != registry.CacheBypass {
		if err := a.svc.ManifestShown(r.Context(), rt.name, m); err != nil {
			return err
		}
	}
	h := w.Header()
	h["Content-Type"] = []string{m.MediaType}
	h["Docker-Content-Digest"] = []string{m.Digest.String()}
	h["Content-Length"] = []string{strconv.Itoa(len(m.Content))}
	h["Etag"] = []string{`"` + m.Digest.String() + `"`}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == `"`+m.Digest.String()+`"` {
		delete(h, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(m.Content)
		a.recordPull(r, rt.name, m.Digest.String(), ref.Tag)
		a.countOperation(rt.name, "pull")
	}
	return nil
}

func (a *API) putManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ref, err := registry.ParseReference(rt.arg)
	if err != nil {
		return err
	}
	max := a.svc.ManifestMaxSize()
	if r.ContentLength > max {
		return registry.ManifestTooLarge(max)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > max {
		return registry.ManifestTooLarge(max)
	}
	tags := r.URL.Query()["tag"]
	res, err := a.svc.PutManifest(r.Context(), rt.name, ref, r.Header.Get("Content-Type"), body, tags)
	if err != nil {
		return err
	}
	h := w.Header()
	for _, t := range tags {
		h.Add("OCI-Tag", t)
	}
	h.Set("Location", "/v2/"+rt.name+"/manifests/"+res.Digest.String())
	h.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		h.Set("OCI-Subject", res.Subject.String())
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	a.countOperation(rt.name, "push")
	return nil
}

func (a *API) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ref, err := registry.ParseReference(rt.arg)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteManifest(r.Context(), rt.name, ref); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	a.countOperation(rt.name, "delete")
	return nil
}

func (a *API) referrers(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.arg)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	descs, err := a.svc.Referrers(r.Context(), rt.name, d, artifactType)
	if err != nil {
		return err
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: descs}
	idx.SchemaVersion = 2
	body, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", ocispec.MediaTypeImageIndex)
	if artifactType != "" {
		h.Set("OCI-Filters-Applied", "artifactType")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
