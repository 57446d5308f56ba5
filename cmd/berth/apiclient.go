package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/auth"
)

// login is what `berth login` keeps: the server and a refresh token (never
// the password), in $XDG_CONFIG_HOME/berth/login.json (~/.config/...).
type login struct {
	Server       string `json:"server"`
	User         string `json:"user"`
	RefreshToken string `json:"refresh_token"`
}

func (c *cli) getenv(key string) string {
	v := ""
	for _, kv := range c.env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func (c *cli) loginPath() (string, error) {
	if d := c.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "berth", "login.json"), nil
	}
	if h := c.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "berth", "login.json"), nil
	}
	return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login")
}

func (c *cli) loadLogin() (login, error) {
	p, err := c.loginPath()
	if err != nil {
		return login{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return login{}, errors.New("not logged in: run `berth login SERVER` first")
	}
	if err != nil {
		return login{}, err
	}
	var l login
	if err := json.Unmarshal(b, &l); err != nil {
		return login{}, fmt.Errorf("%s: %w", p, err)
	}
	return l, nil
}

func (c *cli) saveLogin(l login) (string, error) {
	p, err := c.loginPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(l, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// serverURL turns "host:port" into a URL: plain HTTP on loopback, HTTPS
// elsewhere, as the Docker engine assumes.
func serverURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		scheme := "https://"
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			scheme = "http://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("server %q: want host:port or an http(s) URL", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// apiClient calls a berth server's management API with a token.
type apiClient struct {
	server string
	hc     *http.Client
	bearer string
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// token posts the OAuth2 form to the server's token endpoint.
func postToken(ctx context.Context, hc *http.Client, server string, form url.Values) (tokenAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return tokenAnswer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return tokenAnswer{}, fmt.Errorf("%s: %s", server, apiMessage(resp.StatusCode, body))
	}
	var t tokenAnswer
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return tokenAnswer{}, fmt.Errorf("%s: not a berth token service (%d bytes of answer)", server, len(body))
	}
	return t, nil
}

// apiMessage extracts the message of a berth error body.
func apiMessage(status int, body []byte) string {
	var e struct {
		Errors []struct{ Code, Message string }
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		return strings.ToLower(e.Errors[0].Code) + ": " + e.Errors[0].Message
	}
	return fmt.Sprintf("HTTP %d", status)
}

// handlerTransport serves requests in-process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.RemoteAddr = "127.0.0.1:0"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// adminClient returns the API client of an administrative command: offline
// on the stores of --data/--config (refused while a server holds them),
// or the server of --server / the last login.
func (c *cli) adminClient(cmd *cobra.Command, server string) (*apiClient, error) {
	fs := cmd.Flags()
	if !fs.Changed("data") && !fs.Changed("config") {
		return c.client(cmd.Context(), server)
	}
	if server != "" {
		return nil, usageError{errors.New("--server talks to a running berth; --data and --config work offline: choose one")}
	}
	cfg, err := buildConfig(fs, c.env)
	if err != nil {
		return nil, err
	}
	release, err := app.LockData(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w; use --server to go through the running server", err)
	}
	// Warnings only: the one-time admin password when this is the first
	// start on the stores, and what is wrong.
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		release()
		return nil, err
	}
	c.cleanups = append(c.cleanups, func() { a.Close(); release() })
	tok, err := a.LocalAdminToken()
	if err != nil {
		return nil, err
	}
	return &apiClient{server: "http://berth.offline", hc: &http.Client{Transport: handlerTransport{a.Handler()}}, bearer: tok}, nil
}

// client returns an API client for the logged-in (or --server) server.
func (c *cli) client(ctx context.Context, server string) (*apiClient, error) {
	l, err := c.loadLogin()
	if err != nil {
		return nil, err
	}
	if server != "" {
		s, err := serverURL(server)
		if err != nil {
			return nil, err
		}
		if s != l.Server {
			return nil, fmt.Errorf("not logged in to %s (the login is for %s): run `berth login %s`", s, l.Server, server)
		}
	}
	hc := &http.Client{Timeout: time.Minute}
	t, err := postToken(ctx, hc, l.Server, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {l.RefreshToken}, "client_id": {"berth-cli"}, "service": {"berth"},
	})
	if err != nil {
		return nil, fmt.Errorf("%w (log in again: berth login %s)", err, l.Server)
	}
	return &apiClient{server: l.Server, hc: hc, bearer: t.AccessToken}, nil
}

// call sends a JSON request to /api/v1 and decodes the answer into out.
func (a *apiClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	return a.do(ctx, method, path, contentType, body, out)
}

// do sends body (nil for none) of contentType to /api/v1 and decodes the
// JSON answer into out.
func (a *apiClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.server+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.bearer)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 300 {
		return errors.New(apiMessage(resp.StatusCode, b))
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

func httpClient() *http.Client { return &http.Client{Timeout: time.Minute} }

// newPassword makes a password for `berth user add` without --password-stdin.
func newPassword() string { return auth.NewSecret(20) }
