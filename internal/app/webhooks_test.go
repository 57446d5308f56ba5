package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/webhook"
)

// serveApp runs berth with its background loops (ServeListener) on a
// temp data dir and returns it with its base URL.
func serveApp(t *testing.T) (*App, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
		a.Close()
	})
	return a, "http://" + ln.Addr().String()
}

// hookReceiver checks each request's signature and records the events of
// the requests it accepts; it refuses the first fail requests with 503.
type hookReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	fail   int
	got    []string // "<outbox id> <action or type> <repository> <tag>"
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if !webhook.Verify([]byte(h.secret), b, r.Header.Get(webhook.HeaderSignature)) {
		h.t.Errorf("request with a bad signature: %s", b)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail > 0 {
		h.fail--
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	switch ct := r.Header.Get("Content-Type"); ct {
	case webhook.ContentTypeRegistry:
		var env struct {
			Events []struct {
				ID, Action string
				Target     struct{ Repository, Tag, Digest string }
				Actor      struct{ Name string }
			}
		}
		if err := json.Unmarshal(b, &env); err != nil {
			h.t.Errorf("envelope %s: %v", b, err)
		}
		for _, e := range env.Events {
			h.got = append(h.got, fmt.Sprintf("%s %s %s %s by %s", e.ID, e.Action, e.Target.Repository, e.Target.Tag, e.Actor.Name))
		}
	case webhook.ContentTypeCloudEvents:
		var ce struct {
			ID, Type string
			Data     struct{ Repository, Tag string }
		}
		if err := json.Unmarshal(b, &ce); err != nil {
			h.t.Errorf("cloudevent %s: %v", b, err)
		}
		id, _, _ := strings.Cut(ce.ID, "-")
		h.got = append(h.got, fmt.Sprintf("%s %s %s %s", id, ce.Type, ce.Data.Repository, ce.Data.Tag))
	default:
		h.t.Errorf("content type %q", ct)
	}
}

func (h *hookReceiver) events() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// expected renders the outbox events after the endpoint's start that w
// wants, as a receiver records them (action names by format).
func expected(t *testing.T, a *App, w meta.Webhook, after int64) []string {
	t.Helper()
	var evs []meta.Event
	if err := a.meta.View(t.Context(), func(r meta.Reader) error {
		var err error
		evs, err = r.EventsAfter(after, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{"manifest.push": "push", meta.EventPull: "pull", "manifest.delete": "delete", "tag.delete": "delete", "blob.delete": "delete"}
	var out []string
	for _, e := range evs {
		if !w.Wants(e) {
			continue
		}
		if w.Format == meta.WebhookFormatCloudEvents {
			out = append(out, fmt.Sprintf("%d %s %s %s", e.ID, webhook.EventType(e.Kind), e.Repo, e.Tag))
			continue
		}
		if e.Actor == "" {
			t.Errorf("outbox event %d (%s) has no actor", e.ID, e.Kind)
		}
		out = append(out, fmt.Sprintf("%d %s %s %s by %s", e.ID, actions[e.Kind], e.Repo, e.Tag, e.Actor))
	}
	return out
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebhooksDeliverEveryEventInOrder(t *testing.T) {
	a, base := serveApp(t)
	host := strings.TrimPrefix(base, "http://")
	const pw = testAdminPassword
	if err := a.meta.Update(t.Context(), func(tx meta.Tx) error {
		for _, p := range []string{"team", "lib"} {
			if err := tx.CreateProject(meta.Project{Name: p}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	global := &hookReceiver{t: t, secret: "global-secret"}
	project := &hookReceiver{t: t, secret: "team-secret", fail: 2} // recovers after two refusals
	gsrv, psrv := httptest.NewServer(global), httptest.NewServer(project)
	defer gsrv.Close()
	defer psrv.Close()

	var gw, pwh struct {
		ID     int64
		Cursor int64
		Secret string
	}
	if s := apiCall(t, base, "admin", pw, "POST", "/webhooks",
		`{"url":"`+gsrv.URL+`","secret":"global-secret","events":["all"]}`, &gw); s != 201 {
		t.Fatalf("POST /webhooks = %d", s)
	}
	if s := apiCall(t, base, "admin", pw, "POST", "/projects/team/webhooks",
		`{"url":"`+psrv.URL+`","secret":"team-secret","events":["push","tag_delete"],"format":"cloudevents"}`, &pwh); s != 201 {
		t.Fatalf("POST /projects/team/webhooks = %d", s)
	}
	for _, tc := range []struct{ path, body string }{
		{"/webhooks", `{"url":"ftp://x","secret":"s","events":["all"]}`},
		{"/webhooks", `{"url":"http://x","secret":"s","events":["everything"]}`},
		{"/webhooks", `{"url":"http://x","secret":"","events":["push"]}`},
		{"/projects/team/webhooks", `{"url":"http://x","secret":"s","events":["push"],"format":"xml"}`},
	} {
		if s := apiCall(t, base, "admin", pw, "POST", tc.path, tc.body, nil); s != 400 {
			t.Errorf("POST %s %s = %d, want 400", tc.path, tc.body, s)
		}
	}

	img1, _ := random.Image(256, 1)
	img2, _ := random.Image(256, 1)
	for _, p := range []struct {
		ref string
		img v1.Image
	}{{"/team/app:v1", img1}, {"/team/app:v2", img2}, {"/lib/base:1", img1}} {
		if err := remote.Write(mustRef(t, host+p.ref), p.img, asAdmin); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := remote.Image(mustRef(t, host+"/team/app:v1"), asAdmin); err != nil {
		t.Fatal(err)
	}
	// The pull reaches the outbox with the next audit batch (within a
	// second): wait for it, so that the order below is known.
	waitUntil(t, "the pull event", 15*time.Second, func() bool {
		return slices.ContainsFunc(global.events(), func(s string) bool { return strings.Contains(s, " pull team/app v1") })
	})
	d1, _ := img1.Digest()
	for _, path := range []string{"/v2/team/app/manifests/v2", "/v2/lib/base/manifests/" + d1.String()} {
		req, _ := http.NewRequest("DELETE", base+path, nil)
		req.SetBasicAuth("admin", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("DELETE %s = %v, %v", path, resp, err)
		}
		resp.Body.Close()
	}

	gWant := expected(t, a, meta.Webhook{Events: []string{"all"}, Format: "registry"}, gw.Cursor)
	pWant := expected(t, a, meta.Webhook{Project: "team", Events: []string{"push", "tag_delete"}, Format: "cloudevents"}, pwh.Cursor)
	for _, must := range []string{" push team/app v1", " push team/app v2", " push lib/base 1", " pull team/app v1", " delete team/app v2", " delete lib/base "} {
		if !slices.ContainsFunc(gWant, func(s string) bool { return strings.HasSuffix(s, must) || strings.Contains(s, must) }) {
			t.Errorf("outbox for the global endpoint %v lacks %q", gWant, must)
		}
	}
	if len(pWant) != 3 {
		t.Errorf("outbox for the project endpoint: %v, want two pushes and a tag delete", pWant)
	}
	waitUntil(t, "every event at both endpoints", 30*time.Second, func() bool {
		return len(global.events()) >= len(gWant) && len(project.events()) >= len(pWant)
	})
	time.Sleep(300 * time.Millisecond) // and nothing more
	if got := global.events(); !slices.Equal(got, gWant) {
		t.Errorf("global endpoint got\n%v\nwant, in this order\n%v", got, gWant)
	}
	if got := project.events(); !slices.Equal(got, pWant) {
		t.Errorf("project endpoint got\n%v\nwant, in this order\n%v", got, pWant)
	}

	// The delivery log shows the two refusals, then the successes.
	var log []struct {
		FirstEvent, LastEvent int64
		Attempt, Status       int
		Error                 string
	}
	apiCall(t, base, "admin", pw, "GET", fmt.Sprintf("/projects/team/webhooks/%d/deliveries", pwh.ID), "", &log)
	if len(log) != len(pWant)+2 {
		t.Fatalf("delivery log %+v: want %d attempts", log, len(pWant)+2)
	}
	first := log[len(log)-3:] // oldest last
	if first[2].Status != 503 || first[2].Attempt != 1 || first[1].Status != 503 || first[1].Attempt != 2 || first[0].Status != 200 || first[0].Attempt != 3 {
		t.Errorf("first attempts (newest first) %+v: want 503, 503, then 200", first)
	}
	// Listing shows no secret; the wrong scope answers 404.
	var list []map[string]any
	apiCall(t, base, "admin", pw, "GET", "/projects/team/webhooks", "", &list)
	if len(list) != 1 || list[0]["secret"] != nil || list[0]["url"] != psrv.URL {
		t.Errorf("project webhooks = %v", list)
	}
	if s := apiCall(t, base, "admin", pw, "DELETE", fmt.Sprintf("/webhooks/%d", pwh.ID), "", nil); s != 404 {
		t.Errorf("DELETE a project's endpoint as a global one = %d, want 404", s)
	}
	// Disabled, an endpoint gets nothing; removed, it is gone.
	if s := apiCall(t, base, "admin", pw, "PATCH", fmt.Sprintf("/webhooks/%d", gw.ID), `{"enabled":false}`, nil); s != 200 {
		t.Errorf("PATCH enabled=false = %d", s)
	}
	if s := apiCall(t, base, "admin", pw, "DELETE", fmt.Sprintf("/projects/team/webhooks/%d", pwh.ID), "", nil); s != 204 {
		t.Errorf("DELETE = %d", s)
	}
	time.Sleep(2 * time.Second) // the dispatchers notice
	n := len(global.events())
	if err := remote.Write(mustRef(t, host+"/team/app:v3"), img2, asAdmin); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := global.events(); len(got) != n {
		t.Errorf("a disabled endpoint got %v", got[n:])
	}
	if s := apiCall(t, base, "admin", pw, "GET", fmt.Sprintf("/projects/team/webhooks/%d/deliveries", pwh.ID), "", nil); s != 404 {
		t.Errorf("deliveries of a removed endpoint = %d, want 404", s)
	}
}
