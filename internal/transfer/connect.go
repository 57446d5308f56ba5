package transfer

import (
	"context"
	"crypto/tls"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Connect pings reg once and sets up its authentication (a token where
// the registry asks for one), and returns e with that ready Transport: a
// copy through the returned Endpoint neither pings nor logs in again, so
// one Connect can serve many copies (replication keeps one per policy).
//
// The Transport retries requests that can be replayed on network flakes
// and on 408, 429 and 5xx answers, sends userAgent (when set), and renews
// a bearer token when the registry answers 401 — also for repositories
// that were not known at Connect: the registry's challenge names the
// scope to add. A caller that keeps it should still build a new one from
// time to time and after a failure, so changed credentials and a
// registry that changed its mind about authentication are seen. (Copy
// connects by itself when given an Endpoint that is not connected, and then
// asks for pull access to the source repository too where it mounts
// blobs across repositories of one registry; through a Connect-ed
// Endpoint a registry that grants no such access uploads instead.)
func Connect(ctx context.Context, reg name.Registry, e Endpoint, userAgent string) (Endpoint, error) {
	return connect(ctx, reg, e, userAgent, nil)
}

// connect is Connect asking, at once, for a token covering scopes.
func connect(ctx context.Context, reg name.Registry, e Endpoint, userAgent string, scopes []string) (Endpoint, error) {
	if connected(e) {
		return e, nil
	}
	auth := e.Auth
	if auth == nil && e.Keychain != nil {
		a, err := authn.Resolve(ctx, e.Keychain, reg)
		if err != nil {
			return Endpoint{}, err
		}
		auth = a
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	var tr http.RoundTripper = &retrying{inner: e.base()}
	if userAgent != "" {
		tr = transport.NewUserAgent(tr, userAgent)
	}
	tr, err := transport.NewWithContext(ctx, reg, auth, tr, scopes)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Auth: e.Auth, Keychain: e.Keychain, Insecure: e.Insecure, Transport: tr}, nil
}

// connected reports whether e's Transport is one Connect made (or one the
// caller prepared the same way with go-containerregistry's transport
// package): go-containerregistry then uses it as it is.
func connected(e Endpoint) bool {
	_, ok := e.Transport.(*transport.Wrapper)
	return ok
}

// base is e's transport before authentication: e.Transport (or
// remote.DefaultTransport) with certificate checks off when Insecure.
func (e Endpoint) base() http.RoundTripper {
	tr := e.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	if !e.Insecure {
		return tr
	}
	t, ok := tr.(*http.Transport)
	if !ok {
		return tr
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // asked for with --*-tls-verify=false
	return t
}
