package ldap

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// conn is one connection to the directory, closed when ctx ends.
type conn struct {
	l    *goldap.Conn
	stop func() bool
}

func (c *conn) close() {
	c.stop()
	_ = c.l.Close()
}

// dial connects to the directory, with TLS from the start (ldaps://) or
// after StartTLS, each step bounded by the timeout and by ctx.
func (d *Directory) dial(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(dctx, "tcp", d.addr)
	if err != nil {
		return nil, d.fail(ctx, "connect", err)
	}
	if d.ldaps {
		tc := tls.Client(raw, d.tls.Clone())
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = raw.Close()
			return nil, d.fail(ctx, "TLS handshake", err)
		}
		raw = tc
	}
	l := goldap.NewConn(raw, d.ldaps)
	l.Start()
	l.SetTimeout(d.timeout)
	c := &conn{l: l, stop: context.AfterFunc(ctx, func() { _ = l.Close() })}
	if d.startTLS {
		// go-ldap bounds the StartTLS request but not the handshake that
		// follows: a deadline on the socket bounds both.
		_ = raw.SetDeadline(time.Now().Add(d.timeout))
		if err := l.StartTLS(d.tls.Clone()); err != nil {
			c.close()
			return nil, d.fail(ctx, "StartTLS", err)
		}
		_ = raw.SetDeadline(time.Time{})
	}
	return c, nil
}
