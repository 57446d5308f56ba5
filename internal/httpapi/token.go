package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errcode"
)

// maxTokenForm bounds a POST /token body.
const maxTokenForm = 64 << 10

// ServeToken is berth's token service: GET with Basic credentials (or none,
// for anonymous pulls) as registry clients use it, and the OAuth2 POST form
// (grant_type password or refresh_token) that the Docker engine and
// containerd use, with a refresh token when access_type=offline.
func (a *API) ServeToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if a.guard == nil {
		writeError(w, r, a.log, errcode.Unsupported.Errorf("authentication is off (auth.mode none): no tokens are issued").WithStatus(http.StatusNotFound))
		return
	}
	req, err := tokenRequest(w, r)
	if err != nil {
		writeError(w, r, a.log, err)
		return
	}
	resp, err := a.guard.IssueToken(r.Context(), req)
	user := req.Credentials.Username
	if err != nil {
		if req.Credentials.Basic || req.RefreshToken != "" {
			a.recordLogin(r, "login.failed", user, err.Error())
		}
		writeError(w, r, a.log, a.tokenError(err))
		return
	}
	if req.Credentials.Basic {
		a.recordLogin(r, "login", user, "token")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func tokenRequest(w http.ResponseWriter, r *http.Request) (auth.TokenRequest, error) {
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req := auth.TokenRequest{Offline: q.Get("offline_token") == "true"}
		if u, p, ok := r.BasicAuth(); ok {
			req.Credentials = auth.Credentials{Basic: true, Username: u, Password: p, Addr: ClientAddr(r).String()}
		}
		scopes, err := parseScopes(q["scope"])
		req.Scopes = scopes
		return req, err
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
		if err := r.ParseForm(); err != nil {
			return auth.TokenRequest{}, errcode.Unsupported.Errorf("invalid token request form: %v", err).WithStatus(http.StatusBadRequest)
		}
		f := r.PostForm
		req := auth.TokenRequest{Offline: f.Get("access_type") == "offline"}
		switch gt := f.Get("grant_type"); gt {
		case "password":
			req.Credentials = auth.Credentials{Basic: true, Username: f.Get("username"), Password: f.Get("password"), Addr: ClientAddr(r).String()}
		case "refresh_token":
			req.RefreshToken = f.Get("refresh_token")
			if req.RefreshToken == "" {
				return req, errcode.Unsupported.Errorf("refresh_token is missing").WithStatus(http.StatusBadRequest)
			}
		default:
			return req, errcode.Unsupported.Errorf("unsupported grant_type %q (password or refresh_token)", gt).WithStatus(http.StatusBadRequest)
		}
		scopes, err := parseScopes(strings.Fields(f.Get("scope")))
		req.Scopes = scopes
		return req, err
	}
	return auth.TokenRequest{}, errcode.Unsupported.Errorf("method %s not allowed here", r.Method)
}

func parseScopes(raw []string) ([]auth.Scope, error) {
	var out []auth.Scope
	for _, field := range raw {
		// Some clients join several scopes with spaces in one parameter.
		for _, s := range strings.Fields(field) {
			sc, ok := auth.ParseScope(s)
			if !ok {
				return nil, errcode.Unsupported.Errorf("invalid scope %q", s).WithStatus(http.StatusBadRequest)
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

func (a *API) tokenError(err error) error {
	var th *auth.ThrottledError
	switch {
	case errors.As(err, &th):
		return throttled(th)
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrAccountDisabled), errors.Is(err, auth.ErrInvalidToken):
		return errcode.Unauthorized.Errorf("%v", err)
	}
	return err
}
