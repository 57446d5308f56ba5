package app

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// quietConns tracks the connections that have not sent a request yet
// (http.StateNew). http.Server.Shutdown counts such a connection as busy
// for up to five seconds — a client that opened one and never used it
// (HTTP clients dial spares) held every SIGTERM up that long. Once the
// server shuts down they are closed at once, as idle keep-alive connections
// are.
type quietConns struct {
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	shutting bool
}

func newQuietConns() *quietConns { return &quietConns{conns: map[net.Conn]struct{}{}} }

// track is the server's ConnState hook.
func (q *quietConns) track(c net.Conn, st http.ConnState) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if st != http.StateNew {
		delete(q.conns, c)
		return
	}
	if q.shutting {
		c.Close()
		return
	}
	q.conns[c] = struct{}{}
}

// closeAll closes the connections that have not sent a request, and any
// accepted from now on.
func (q *quietConns) closeAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutting = true
	for c := range q.conns {
		c.Close()
		delete(q.conns, c)
	}
}

// shutdown stops srv, whose ConnState hook is q.track: it stops accepting,
// closes the connections that sent no request, and waits up to timeout for
// the requests in flight; past it, it closes everything and returns the
// timeout's error.
func (q *quietConns) shutdown(srv *http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	q.closeAll()
	err := <-done
	if err != nil {
		_ = srv.Close()
	}
	return err
}
