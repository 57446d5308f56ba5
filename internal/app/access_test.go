package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// The permission matrix: every identity × every endpoint × a private and a
// public project, through the real HTTP API with Basic credentials.
//
//	team  private: maint maintainer, dev developer, guest guest, lguest limited-guest
//	pub   public, no members
//	robots: robot$team+rw push,pull on team/**; robot$team+ro pull on team/app

const matrixPassword = "matrix-secret"

type who struct {
	name string // "" anonymous
	role string // role in team: admin (system), maintainer, developer, guest, limited-guest, outsider, anonymous, rw, ro
}

var matrixWho = []who{
	{"admin", "system-admin"}, {"maint", "maintainer"}, {"dev", "developer"}, {"guest", "guest"},
	{"lguest", "limited-guest"}, {"outsider", "outsider"}, {"", "anonymous"},
	{"robot$team+rw", "robot-rw"}, {"robot$team+ro", "robot-ro"},
}

// allowed is the expected decision for role doing action in project.
func allowed(role, action, project string) bool {
	public := project == "pub"
	switch action {
	case "pull":
		if public {
			return true
		}
		return role != "outsider" && role != "anonymous"
	case "list": // tags list
		if public {
			return true
		}
		return !slices.Contains([]string{"outsider", "anonymous", "limited-guest"}, role)
	case "push":
		if role == "system-admin" {
			return true
		}
		return !public && slices.Contains([]string{"maintainer", "developer", "robot-rw"}, role)
	case "delete":
		if role == "system-admin" {
			return true
		}
		return !public && role == "maintainer"
	}
	panic(action)
}

func newMatrixServer(t *testing.T) (*App, string) {
	t.Helper()
	a, base := startApp(t, func(cfg *config.Config) { cfg.Auth.AdminPassword = matrixPassword })
	hash, _ := bcrypt.GenerateFromPassword([]byte(matrixPassword), bcrypt.MinCost)
	err := a.meta.Update(t.Context(), func(tx meta.Tx) error {
		for _, n := range []string{"maint", "dev", "guest", "lguest", "outsider"} {
			if err := tx.CreateUser(meta.User{Name: n, PasswordHash: hash, CreatedAt: time.Now()}); err != nil {
				return err
			}
		}
		for _, p := range []meta.Project{{Name: "team"}, {Name: "pub", Public: true}} {
			if err := tx.CreateProject(p); err != nil {
				return err
			}
		}
		for n, role := range map[string]string{"maint": "maintainer", "dev": "developer", "guest": "guest", "lguest": "limited-guest"} {
			if err := tx.PutMember(meta.Member{Project: "team", Kind: meta.MemberUser, Name: n, Role: role}); err != nil {
				return err
			}
		}
		for _, rb := range []meta.Robot{
			{Name: "robot$team+rw", Project: "team", Permissions: []meta.RobotPermission{{Repositories: "team/**", Actions: []string{"push", "pull"}}}},
			{Name: "robot$team+ro", Project: "team", Permissions: []meta.RobotPermission{{Repositories: "team/app", Actions: []string{"pull"}}}},
		} {
			rb.SecretHash = hash
			if err := tx.CreateRobot(rb); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, base
}

func TestPermissionMatrix(t *testing.T) {
	_, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	for _, repo := range []string{"team/app", "pub/app"} {
		ref, _ := name.ParseReference(host + "/" + repo + ":v1")
		if err := remote.Write(ref, img, remote.WithAuth(basicAuth("admin"))); err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
	}
	missing := digest.FromString("no such thing").String()
	// An upload session in each repository, for the session endpoints.
	session := map[string]string{}
	for _, repo := range []string{"team/app", "pub/app"} {
		status, hdr, body := matrixDo(t, base, "admin", "POST", "/v2/"+repo+"/blobs/uploads/", nil)
		if status != 202 {
			t.Fatalf("admin upload start in %s = %d %s", repo, status, body)
		}
		session[repo] = hdr.Get("Location")
	}

	type endpoint struct {
		name, method, path, action string
		body                       []byte
	}
	endpoints := func(repo string) []endpoint {
		return []endpoint{
			{"manifest GET", "GET", "/v2/" + repo + "/manifests/v1", "pull", nil},
			{"manifest HEAD", "HEAD", "/v2/" + repo + "/manifests/v1", "pull", nil},
			{"blob GET", "GET", "/v2/" + repo + "/blobs/" + layer.String(), "pull", nil},
			{"blob HEAD", "HEAD", "/v2/" + repo + "/blobs/" + layer.String(), "pull", nil},
			{"referrers", "GET", "/v2/" + repo + "/referrers/" + missing, "pull", nil},
			{"tags list", "GET", "/v2/" + repo + "/tags/list", "list", nil},
			{"upload start", "POST", "/v2/" + repo + "/blobs/uploads/", "push", nil},
			{"upload status", "GET", session[repo], "push", nil},
			{"upload chunk (empty)", "PATCH", session[repo], "push", []byte{}},
			{"monolithic upload", "POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest.FromString("x").String(), "push", []byte("x")},
			{"manifest PUT (invalid body)", "PUT", "/v2/" + repo + "/manifests/bad", "push", []byte("{")},
			{"manifest DELETE", "DELETE", "/v2/" + repo + "/manifests/" + missing, "delete", nil},
			{"blob DELETE", "DELETE", "/v2/" + repo + "/blobs/" + missing, "delete", nil},
		}
	}
	for _, w := range matrixWho {
		for _, project := range []string{"team", "pub"} {
			for _, ep := range endpoints(project + "/app") {
				t.Run(fmt.Sprintf("%s/%s/%s", w.role, project, ep.name), func(t *testing.T) {
					status, hdr, body := matrixDo(t, base, w.name, ep.method, ep.path, ep.body)
					ok := allowed(w.role, ep.action, project)
					switch {
					case ok && (status == 401 || status == 403):
						t.Fatalf("%s %s = %d %s, want allowed", ep.method, ep.path, status, body)
					case ok && status >= 500:
						t.Fatalf("%s %s = %d %s", ep.method, ep.path, status, body)
					case !ok && w.name == "" && status != 401:
						t.Fatalf("anonymous %s %s = %d %s, want 401", ep.method, ep.path, status, body)
					case !ok && w.name == "" && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="`+base+`/token",service="berth",scope="repository:`+project+`/app:`):
						t.Fatalf("challenge = %q", hdr.Get("WWW-Authenticate"))
					case !ok && w.name != "" && status != 403:
						t.Fatalf("%s %s = %d %s, want 403", ep.method, ep.path, status, body)
					case !ok && w.name != "" && ep.method != "HEAD" && !strings.Contains(string(body), "requested access to the resource is denied"):
						t.Fatalf("403 body = %s", body)
					}
				})
			}
		}
	}
	t.Run("base endpoint", func(t *testing.T) {
		for _, w := range matrixWho {
			status, hdr, _ := matrixDo(t, base, w.name, "GET", "/v2/", nil)
			if w.name == "" {
				if status != 401 || hdr.Get("WWW-Authenticate") != `Bearer realm="`+base+`/token",service="berth"` {
					t.Errorf("anonymous GET /v2/ = %d %q", status, hdr.Get("WWW-Authenticate"))
				}
			} else if status != 200 {
				t.Errorf("%s GET /v2/ = %d", w.role, status)
			}
		}
	})
	t.Run("catalog lists only what the caller may see", func(t *testing.T) {
		want := map[string][]string{
			"system-admin": {"pub/app", "team/app"}, "maintainer": {"pub/app", "team/app"},
			"developer": {"pub/app", "team/app"}, "guest": {"pub/app", "team/app"},
			"limited-guest": {"pub/app"}, "outsider": {"pub/app"},
			"robot-rw": {"pub/app", "team/app"}, "robot-ro": {"pub/app", "team/app"},
		}
		for _, w := range matrixWho {
			status, _, body := matrixDo(t, base, w.name, "GET", "/v2/_catalog", nil)
			if w.name == "" {
				if status != 401 {
					t.Errorf("anonymous catalog = %d", status)
				}
				continue
			}
			var got struct{ Repositories []string }
			if err := json.Unmarshal(body, &got); err != nil || status != 200 {
				t.Fatalf("%s catalog = %d %s", w.role, status, body)
			}
			if !slices.Equal(got.Repositories, want[w.role]) {
				t.Errorf("%s catalog = %v, want %v", w.role, got.Repositories, want[w.role])
			}
		}
	})
	t.Run("cross-repository mount needs pull on the source", func(t *testing.T) {
		secret, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(mustRef(t, host+"/secret/app:v1"), secret, remote.WithAuth(basicAuth("admin"))); err != nil {
			t.Fatal(err)
		}
		sl, _ := secret.Layers()
		secretLayer, _ := sl[0].Digest()
		for _, tc := range []struct {
			name, who, blob, from string
			want                  int
		}{
			{"public source is mounted", "dev", layer.String(), "pub/app", 201},
			{"unreadable source: an upload instead", "dev", secretLayer.String(), "secret/app", 202},
			{"automatic mount never picks an unreadable source", "dev", secretLayer.String(), "", 202},
			{"unreadable source, robot", "robot$team+rw", secretLayer.String(), "secret/app", 202},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := "/v2/team/app/blobs/uploads/?mount=" + tc.blob
				if tc.from != "" {
					q += "&from=" + tc.from
				}
				status, _, body := matrixDo(t, base, tc.who, "POST", q, nil)
				if status != tc.want {
					t.Fatalf("mount = %d %s, want %d", status, body, tc.want)
				}
			})
		}
		if status, _, _ := matrixDo(t, base, "admin", "HEAD", "/v2/team/app/blobs/"+secretLayer.String(), nil); status != 404 {
			t.Fatalf("the secret layer leaked into team/app: HEAD = %d", status)
		}
		if status, _, _ := matrixDo(t, base, "admin", "POST", "/v2/team/app/blobs/uploads/?mount="+secretLayer.String()+"&from=secret/app", nil); status != 201 {
			t.Fatalf("the admin, who may read secret/app, could not mount from it: %d", status)
		}
	})
}

func basicAuth(user string) *authn.Basic {
	return &authn.Basic{Username: user, Password: matrixPassword}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func matrixDo(t *testing.T, base, user, method, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, matrixPassword)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestLoginThrottling(t *testing.T) {
	_, base := newMatrixServer(t) // auth.throttle: 10 failures per user
	wrong := func(path string) (int, http.Header) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.SetBasicAuth("dev", "not-the-password")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for i := range 10 {
		if code, _ := wrong("/v2/"); code != 401 {
			t.Fatalf("failure %d answered %d, want 401", i+1, code)
		}
	}
	for _, path := range []string{"/v2/", "/token?service=berth", "/api/v1/me"} {
		code, hdr := wrong(path)
		if code != 429 || hdr.Get("Retry-After") == "" {
			t.Fatalf("%s after 10 failures = %d (Retry-After %q), want 429 with Retry-After", path, code, hdr.Get("Retry-After"))
		}
	}
	// The right password is refused too while the user is blocked, but
	// another user is not.
	if status, _, _ := matrixDo(t, base, "dev", "GET", "/v2/", nil); status != 429 {
		t.Fatalf("blocked user with the right password = %d, want 429", status)
	}
	if status, _, _ := matrixDo(t, base, "guest", "GET", "/v2/", nil); status != 200 {
		t.Fatalf("another user = %d, want 200", status)
	}
}
