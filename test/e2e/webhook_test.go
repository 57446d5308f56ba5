//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// webhookSink receives registry:2 envelopes, checking the signature
// independently of berth's code; while down it answers 503.
type webhookSink struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	down   bool
	tries  int
	got    []string // "<action> <repository>:<tag>" per accepted event
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(s.secret))
	m.Write(b)
	if got, want := r.Header.Get("X-Berth-Signature"), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
		s.t.Errorf("signature %q, want %q", got, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var env struct {
		Events []struct {
			Action string
			Target struct{ Repository, Tag string }
		}
	}
	if err := json.Unmarshal(b, &env); err != nil {
		s.t.Errorf("envelope %s: %v", b, err)
	}
	for _, e := range env.Events {
		s.got = append(s.got, e.Action+" "+e.Target.Repository+":"+e.Target.Tag)
	}
}

func (s *webhookSink) state() (tries int, got []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries, slices.Clone(s.got)
}

// TestWebhookEventsSurviveKill: events committed while the receiver is
// down are still delivered, in order and signed, after berth is killed
// with SIGKILL and started again on the same data directory.
func TestWebhookEventsSurviveKill(t *testing.T) {
	requireBerth(t)
	srv := startServer(t, serverOpts{})
	sink := &webhookSink{t: t, secret: "e2e-hook-secret", down: true}
	recv := httptest.NewServer(sink)
	defer recv.Close()

	ctx := context.Background()
	body := fmt.Sprintf(`{"url":%q,"secret":"e2e-hook-secret","events":["push","tag_delete"]}`, recv.URL)
	req, _ := http.NewRequest("POST", srv.url("/api/v1/webhooks"), bytes.NewReader([]byte(body)))
	req.SetBasicAuth(adminUser, adminPassword)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/webhooks = %d", resp.StatusCode)
	}

	var want []string
	for _, tag := range []string{"v1", "v2", "v3"} {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(srv.host() + "/hooked/app:" + tag)
		if err := pushImage(ctx, ref, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		want = append(want, "push hooked/app:"+tag)
	}
	if status, _, b, err := srv.httpDo(ctx, "DELETE", "/v2/hooked/app/manifests/v2", nil); err != nil || status != http.StatusAccepted {
		t.Fatalf("DELETE tag v2 = %d %s, %v", status, b, err)
	}
	want = append(want, "delete hooked/app:v2")

	// berth has tried (and failed) to deliver: kill it with the events
	// undelivered, bring the receiver up, start berth again.
	deadline := time.Now().Add(30 * time.Second)
	for tries, _ := sink.state(); tries == 0; tries, _ = sink.state() {
		if time.Now().After(deadline) {
			t.Fatal("berth never tried to deliver")
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.kill()
	sink.mu.Lock()
	sink.down = false
	sink.mu.Unlock()
	srv.start()

	deadline = time.Now().Add(90 * time.Second)
	for {
		_, got := sink.state()
		if len(got) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the receiver got %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if _, got := sink.state(); !slices.Equal(got, want) {
		t.Errorf("receiver got\n%s\nwant, in this order, once each\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
