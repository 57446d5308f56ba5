package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

// serveForShutdown serves a fresh app (no authentication: these tests are
// about draining, not access) on a loopback listener with the given
// shutdown timeout; stop cancels Serve's context as SIGTERM does, and
// served gets what Serve returned.
func serveForShutdown(t *testing.T, timeout time.Duration) (ln net.Listener, stop func(), served chan error) {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.HTTP.ShutdownTimeout = timeout
	cfg.Auth.Mode = "none"
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	served = make(chan error, 1)
	go func() { served <- a.ServeListener(ctx, ln) }()
	return ln, stop, served
}

// TestShutdownDrainsInFlightRequests: cancelling Serve's context (what
// SIGTERM does) lets a request already in flight finish before Serve returns,
// and refuses new connections.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	ln, stop, served := serveForShutdown(t, 10*time.Second)
	base := "http://" + ln.Addr().String()

	resp, err := http.Post(base+"/v2/drain/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")

	// A PATCH whose body arrives slowly, across the shutdown.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPatch, base+loc, pr)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight PATCH: %v", err)
			done <- nil
			return
		}
		done <- resp
	}()
	if _, err := pw.Write([]byte("first half ")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}
	if _, err := pw.Write([]byte("second half")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if resp := <-done; resp == nil || resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-21" {
		t.Fatalf("in-flight PATCH answered %+v", resp)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

// TestShutdownClosesQuietConnections: a connection that never sent a
// request does not hold the shutdown up (net/http would wait five seconds
// for it, longer than this test's shutdown timeout, and Serve would return
// the timeout's error); it is closed.
func TestShutdownClosesQuietConnections(t *testing.T) {
	ln, stop, served := serveForShutdown(t, 2*time.Second)
	// A request first, so the server is surely serving.
	resp, err := http.Get("http://" + ln.Addr().String() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	quiet, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	time.Sleep(100 * time.Millisecond) // accepted
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
	quiet.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := quiet.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the quiet connection read %d bytes, %v; want it closed (EOF)", n, err)
	}
}
