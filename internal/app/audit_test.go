package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type auditPage struct {
	Events []struct {
		ID                                         int64
		Actor, ActorKind, Addr, Action, Repository string
		Digest, Tag, Detail                        string
		At                                         time.Time
	}
	Next string
}

func TestAuditLog(t *testing.T) {
	_, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	const admin, pw = "admin", matrixPassword

	img, _ := random.Image(512, 1)
	digest, _ := img.Digest()
	if err := remote.Write(mustRef(t, host+"/team/audited:v1"), img, remote.WithAuth(basicAuth(admin))); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(mustRef(t, host+"/team/audited:v1"), remote.WithAuth(basicAuth("dev"))); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := matrixDo(t, base, "guest", "HEAD", "/v2/team/audited/manifests/v1", nil); status != 200 {
		t.Fatalf("HEAD = %d", status) // not a pull
	}
	req, _ := http.NewRequest("GET", base+"/token?service=berth", nil)
	req.SetBasicAuth("dev", "wrong-password")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("bad login = %v, %v", resp, err)
	}
	apiCall(t, base, admin, pw, "PUT", "/projects/team/members/user/outsider", `{"role":"guest"}`, nil)
	if status, _, _ := matrixDo(t, base, admin, "DELETE", "/v2/team/audited/manifests/v1", nil); status != 202 {
		t.Fatalf("untag = %d", status)
	}

	// Pulls and logins are written in batches: wait for them.
	var page auditPage
	deadline := time.Now().Add(15 * time.Second)
	for {
		page = auditPage{}
		apiCall(t, base, admin, pw, "GET", "/audit?limit=1000", "", &page)
		if len(page.Events) > 0 && hasAction(page, "pull") && hasAction(page, "login.failed") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	want := []struct{ actor, action, repo, digest, tag, detail string }{
		{"admin", "push", "team/audited", digest.String(), "v1", ""},
		{"dev", "pull", "team/audited", digest.String(), "v1", ""},
		{"dev", "login.failed", "", "", "", "invalid username or password"},
		{"admin", "member.put", "team", "", "", "user outsider role guest"},
		{"admin", "tag.delete", "team/audited", digest.String(), "v1", ""},
	}
	for _, w := range want {
		found := false
		for _, e := range page.Events {
			if e.Actor == w.actor && e.Action == w.action && e.Repository == w.repo && e.Digest == w.digest && e.Tag == w.tag &&
				strings.Contains(e.Detail, w.detail) && e.Addr == "127.0.0.1" && !e.At.IsZero() {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit event %+v in %+v", w, page.Events)
		}
	}
	pulls := 0
	for _, e := range page.Events {
		if e.Action == "pull" {
			pulls++
		}
	}
	if pulls != 1 {
		t.Errorf("%d pulls recorded, want 1 (a HEAD is not a pull)", pulls)
	}

	t.Run("filters and paging", func(t *testing.T) {
		var p auditPage
		apiCall(t, base, admin, pw, "GET", "/audit?actor=dev&action=pull", "", &p)
		if len(p.Events) != 1 || p.Events[0].Action != "pull" {
			t.Fatalf("filtered = %+v", p.Events)
		}
		var first, second auditPage
		apiCall(t, base, admin, pw, "GET", "/audit?limit=2", "", &first)
		if len(first.Events) != 2 || first.Next == "" {
			t.Fatalf("first page = %+v", first)
		}
		apiCall(t, base, admin, pw, "GET", "/audit?limit=2&before="+first.Next, "", &second)
		if len(second.Events) == 0 || second.Events[0].ID >= first.Events[1].ID {
			t.Fatalf("second page = %+v after %+v", second.Events, first.Events)
		}
	})
	t.Run("bad queries and non-admins", func(t *testing.T) {
		for _, tc := range []struct {
			user, query string
			want        int
		}{
			{admin, "?since=yesterday", 400},
			{admin, "?limit=0", 400},
			{admin, "?limit=5000", 400},
			{"dev", "", 403},
			{"", "", 401},
		} {
			p := pw
			if tc.user != admin {
				p = matrixPassword
			}
			if got := apiCall(t, base, tc.user, p, "GET", "/audit"+tc.query, "", nil); got != tc.want {
				t.Errorf("%s GET /audit%s = %d, want %d", tc.user, tc.query, got, tc.want)
			}
		}
	})
}

func hasAction(p auditPage, action string) bool {
	for _, e := range p.Events {
		if e.Action == action {
			return true
		}
	}
	return false
}
