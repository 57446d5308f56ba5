package ldap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startTLSOK is an LDAP message: message 1, an ExtendedResponse with
// result success, as a server accepting StartTLS sends it.
var startTLSOK = []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00}

// silentServer accepts connections on 127.0.0.1 and never answers, or
// answers the first request with reply and then falls silent.
type silentServer struct {
	ln       net.Listener
	accepted atomic.Int32
}

func newSilentServer(t *testing.T, reply []byte) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{ln: ln}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					_ = c.Close()
				}
				return
			}
			s.accepted.Add(1)
			conns = append(conns, c)
			if reply != nil {
				go func() {
					buf := make([]byte, 512)
					if _, err := c.Read(buf); err == nil {
						_, _ = c.Write(reply)
					}
				}()
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return s
}

func (s *silentServer) addr() string { return s.ln.Addr().String() }

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// quiet discards the package's log output (the plain-ldap:// warning).
var quiet = slog.New(slog.DiscardHandler)

func TestEmptyCredentialsNeverReachTheServer(t *testing.T) {
	srv := newSilentServer(t, nil)
	d, err := New(Options{URL: "ldap://" + srv.addr(), UserBase: "dc=x", Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, user, password string }{
		{"empty password", "alice", ""},
		{"empty user", "", "secret"},
		{"both empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			ok, groups, err := d.Authenticate(context.Background(), tc.user, tc.password)
			if ok || groups != nil || err != nil {
				t.Fatalf("Authenticate = %v, %v, %v; want false, nil, nil", ok, groups, err)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("took %v: it went to the server", time.Since(start))
			}
		})
	}
	if n := srv.accepted.Load(); n != 0 {
		t.Fatalf("the server saw %d connections, want none", n)
	}
}

func TestDirectoryTrouble(t *testing.T) {
	silent := newSilentServer(t, nil)
	noHandshake := newSilentServer(t, startTLSOK)
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name     string
		opts     Options
		ctxLimit time.Duration // 0: none
		wantErr  string
	}{
		{"connection refused", Options{URL: "ldap://" + closedPort(t)}, 0, "connect"},
		{"silent server, plain", Options{URL: "ldap://" + silent.addr()}, 0, "bind as the service account"},
		{"silent server, StartTLS", Options{URL: "ldap://" + silent.addr(), StartTLS: true}, 0, "StartTLS"},
		{"StartTLS accepted, then no handshake", Options{URL: "ldap://" + noHandshake.addr(), StartTLS: true}, 0, "TLS handshake failed"},
		{"silent server, ldaps", Options{URL: "ldaps://" + silent.addr()}, 0, "TLS handshake"},
		{"silent server, anonymous search", Options{URL: "ldap://" + silent.addr(), BindDN: "-"}, 0, "search for the user"},
		{"ctx ends first", Options{URL: "ldap://" + silent.addr(), Timeout: time.Minute}, timeout, "context deadline exceeded"},
		{"ctx ends first, StartTLS", Options{URL: "ldap://" + silent.addr(), StartTLS: true, Timeout: time.Minute}, timeout, "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.UserBase = "dc=x"
			o.Logger = quiet
			if o.Timeout == 0 {
				o.Timeout = timeout
			}
			switch o.BindDN {
			case "":
				o.BindDN, o.BindPassword = "cn=svc,dc=x", "svc-pw"
			case "-":
				o.BindDN = ""
			}
			d, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.ctxLimit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxLimit)
				defer cancel()
			}
			start := time.Now()
			ok, groups, err := d.Authenticate(ctx, "alice", "alice-pw")
			took := time.Since(start)
			if ok || groups != nil || err == nil {
				t.Fatalf("Authenticate = %v, %v, %v; want an error", ok, groups, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "alice-pw") || strings.Contains(err.Error(), "svc-pw") {
				t.Fatalf("error %q shows a password", err)
			}
			if tc.ctxLimit > 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %q is not context.DeadlineExceeded", err)
			}
			if took > 5*timeout {
				t.Fatalf("took %v, want about %v", took, timeout)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}
