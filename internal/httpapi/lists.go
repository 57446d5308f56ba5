package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/registry"
)

// pageParams reads n (-1 when absent) and last.
func pageParams(r *http.Request) (n int, last string, err error) {
	q := r.URL.Query()
	n = -1
	if s := q.Get("n"); s != "" {
		v, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || v < 0 {
			return 0, "", errcode.Unsupported.Errorf("invalid page size n=%q", s).WithStatus(http.StatusBadRequest)
		}
		if v > 1<<31 {
			v = 1 << 31 // clamped further by the service
		}
		n = int(v)
	}
	return n, q.Get("last"), nil
}

// writePage writes a listing and, when more follows, a Link header to it.
func writePage(w http.ResponseWriter, path string, p registry.Page, body any) error {
	if p.More && len(p.Items) > 0 {
		q := url.Values{}
		q.Set("n", strconv.Itoa(len(p.Items)))
		q.Set("last", p.Items[len(p.Items)-1])
		w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (a *API) tags(w http.ResponseWriter, r *http.Request, rt route) error {
	n, last, err := pageParams(r)
	if err != nil {
		return err
	}
	p, err := a.svc.Tags(r.Context(), rt.name, last, n)
	if err != nil {
		return err
	}
	return writePage(w, "/v2/"+rt.name+"/tags/list", p, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, p.Items})
}

func (a *API) catalog(w http.ResponseWriter, r *http.Request, _ route) error {
	n, last, err := pageParams(r)
	if err != nil {
		return err
	}
	var keep func(string) (bool, error)
	if l, ok := a.guard.(Lister); ok {
		keep = l.Visible(r.Context(), IdentityFrom(r.Context()))
	}
	p, err := a.svc.Catalog(r.Context(), last, n, keep)
	if err != nil {
		return err
	}
	return writePage(w, "/v2/_catalog", p, struct {
		Repositories []string `json:"repositories"`
	}{p.Items})
}
