package api

import "net/http"

// AdminOnly serves h to system admins only, authenticated as the
// management API authenticates (Basic or Bearer); anyone else gets the
// API's error answer (401 without credentials, 403 with others'). It is
// how /metrics is kept from the world on the main listener.
func (x *API) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := credentials(r)
		if x.clientAddr != nil {
			cr.Addr = x.clientAddr(r)
		}
		actor, err := x.auth.Authenticate(r.Context(), cr)
		if err == nil {
			err = x.auth.RequireAdmin(actor)
		}
		if err != nil {
			x.writeError(w, r, actor, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
