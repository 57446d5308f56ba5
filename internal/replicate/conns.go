package replicate

import (
	"bytes"
	"context"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-registry/berth/internal/meta"
)

// connTTL is how long a policy's connections (see sides) serve its jobs
// before they are made afresh: long enough for a burst of pushes to share
// one ping and one token, short enough that a remote restarted with other
// settings, or a token with a short life, is soon met with new ones.
const connTTL = 30 * time.Second

// policyConns are a policy's connected sides and what they were made
// from: another remote, password, TLS setting or bandwidth makes new ones.
type policyConns struct {
	remoteURL, username string
	password            []byte
	insecure            bool
	bandwidth           int64
	made                time.Time
	sd                  sides
}

func (c *policyConns) fits(p meta.ReplicationPolicy, now time.Time) bool {
	return c.remoteURL == p.RemoteURL && c.username == p.Username && bytes.Equal(c.password, p.Password) &&
		c.insecure == p.Insecure && c.bandwidth == p.Bandwidth && now.Sub(c.made) < connTTL && !now.Before(c.made)
}

// sides returns the policy's two registries, connected: the ones its
// last jobs used while they fit the policy and are younger than connTTL,
// else new ones. A job that fails drops them (dropSides), so its retry
// pings and authenticates again.
func (s *Service) sides(ctx context.Context, p meta.ReplicationPolicy) (sides, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.conns[p.ID]
	s.mu.Unlock()
	if ok && c.fits(p, now) {
		return c.sd, nil
	}
	sd, err := s.newSides(ctx, p)
	if err != nil {
		return sides{}, err
	}
	s.mu.Lock()
	s.conns[p.ID] = &policyConns{remoteURL: p.RemoteURL, username: p.Username, password: bytes.Clone(p.Password),
		insecure: p.Insecure, bandwidth: p.Bandwidth, made: now, sd: sd}
	s.mu.Unlock()
	return sd, nil
}

// dropSides forgets a policy's connections.
func (s *Service) dropSides(id int64) {
	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
}

// freshAuth is an authenticator that asks f for credentials each time
// they are needed — when a token is fetched, at connection and after a
// 401 — so a connection that outlives one short-lived token gets another.
type freshAuth func() (authn.Authenticator, error)

// Authorization implements authn.Authenticator.
func (f freshAuth) Authorization() (*authn.AuthConfig, error) {
	a, err := f()
	if err != nil {
		return nil, err
	}
	if a == nil {
		return &authn.AuthConfig{}, nil
	}
	return a.Authorization()
}
