package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// ProxySpec makes a project a pull-through cache of an upstream registry.
type ProxySpec struct {
	Project  string
	URL      string // scheme://host[:port]
	Username string
	Password string // sealed before it is stored, when a key is configured
	Insecure bool   // skip TLS verification of the upstream
	CACert   string // PEM the upstream's certificate must chain to
	TTL      time.Duration
}

// checkProxy validates a spec's URL, CA and TTL.
func checkProxy(spec ProxySpec) error {
	u, err := url.Parse(spec.URL)
	switch {
	case err != nil:
		return invalid("proxy of %s: url %q: %v", spec.Project, spec.URL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("proxy of %s: url %q: the scheme must be http or https", spec.Project, spec.URL)
	case u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return invalid("proxy of %s: url %q: want scheme://host[:port] only (credentials go in username and password)", spec.Project, spec.URL)
	case spec.TTL < 0:
		return invalid("proxy of %s: ttl %s is negative", spec.Project, spec.TTL)
	case spec.Password != "" && spec.Username == "":
		return invalid("proxy of %s: a password needs a username", spec.Project)
	}
	if spec.CACert != "" {
		rest, n := []byte(spec.CACert), 0
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return invalid("proxy of %s: ca_cert: %v", spec.Project, err)
			}
			n++
		}
		if n == 0 {
			return invalid("proxy of %s: ca_cert holds no PEM certificate", spec.Project)
		}
	}
	return nil
}

// SetProxy makes an existing project a pull-through cache of an upstream
// (or changes its upstream). System admins only. The answer holds no
// password.
func (s *Service) SetProxy(ctx context.Context, actor Identity, spec ProxySpec) (meta.Proxy, error) {
	if err := s.requireAdmin(actor); err != nil {
		return meta.Proxy{}, err
	}
	if err := checkProxy(spec); err != nil {
		return meta.Proxy{}, err
	}
	password := []byte(spec.Password)
	if s.opts.Secrets != nil && spec.Password != "" {
		var err error
		if password, err = s.opts.Secrets.Seal(password); err != nil {
			return meta.Proxy{}, err
		}
	}
	p := meta.Proxy{Project: spec.Project, URL: spec.URL, Username: spec.Username, Password: password,
		Insecure: spec.Insecure, CACert: spec.CACert, TTL: spec.TTL, CreatedAt: time.Now()}
	err := s.store.Update(ctx, func(tx meta.Tx) error {
		if old, err := tx.Proxy(spec.Project); err == nil {
			p.CreatedAt = old.CreatedAt
		}
		if err := tx.PutProxy(p); err != nil {
			return err
		}
		return auditIn(ctx, tx, "project.proxy", spec.Project, fmt.Sprintf("upstream=%s user=%s insecure=%t ttl=%s", spec.URL, spec.Username, spec.Insecure, spec.TTL))
	})
	p.Password = nil
	return p, err
}

// Proxy returns the upstream of a proxy project (meta.ErrNotFound when it
// is not one). System admins only.
func (s *Service) Proxy(ctx context.Context, actor Identity, project string) (meta.Proxy, error) {
	if err := s.requireAdmin(actor); err != nil {
		return meta.Proxy{}, err
	}
	var p meta.Proxy
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		p, err = r.Proxy(project)
		return err
	})
	p.Password = nil
	return p, err
}

// ListProxies returns every proxy project. System admins only.
func (s *Service) ListProxies(ctx context.Context, actor Identity) ([]meta.Proxy, error) {
	if err := s.requireAdmin(actor); err != nil {
		return nil, err
	}
	var ps []meta.Proxy
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		ps, err = r.ListProxies()
		return err
	})
	for i := range ps {
		ps[i].Password = nil
	}
	return ps, err
}

// DeleteProxy makes a proxy project a plain one; what it cached stays.
// System admins only.
func (s *Service) DeleteProxy(ctx context.Context, actor Identity, project string) error {
	if err := s.requireAdmin(actor); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.DeleteProxy(project); err != nil {
			return err
		}
		return auditIn(ctx, tx, "project.proxy.delete", project, "")
	})
}
