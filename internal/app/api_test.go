package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// apiCall sends a management API request as user (password pw; "" for
// anonymous) and decodes the JSON answer into out when it is not nil.
func apiCall(t *testing.T, base, user, pw, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// TestManagementFlow: an admin sets a team up through the API; the team's
// developer and CI robot then push with real clients.
func TestManagementFlow(t *testing.T) {
	_, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	const admin, pw = "admin", matrixPassword
	steps := []struct {
		name, user, pass, method, path, body string
		want                                 int
	}{
		{"anonymous may not create users", "", "", "POST", "/users", `{"name":"alice","password":"alice-password"}`, 401},
		{"admin creates alice", admin, pw, "POST", "/users", `{"name":"alice","password":"alice-password"}`, 201},
		{"the name is taken", admin, pw, "POST", "/users", `{"name":"alice","password":"another-password"}`, 409},
		{"a bad user name", admin, pw, "POST", "/users", `{"name":"Alice Smith","password":"alice-password"}`, 400},
		{"a short password", admin, pw, "POST", "/users", `{"name":"bob","password":"short"}`, 400},
		{"an unknown field", admin, pw, "POST", "/users", `{"name":"bob","password":"bob-password","role":"x"}`, 400},
		{"broken JSON", admin, pw, "POST", "/users", `{"name":`, 400},
		{"alice may not list users", "alice", "alice-password", "GET", "/users", "", 403},
		{"alice may not create projects", "alice", "alice-password", "POST", "/projects", `{"name":"apps"}`, 403},
		{"admin creates apps", admin, pw, "POST", "/projects", `{"name":"apps"}`, 201},
		{"a project name with a slash", admin, pw, "POST", "/projects", `{"name":"a/b"}`, 400},
		{"alice cannot see the private project", "alice", "alice-password", "GET", "/projects/apps", "", 404},
		{"alice becomes a developer", admin, pw, "PUT", "/projects/apps/members/user/alice", `{"role":"developer"}`, 200},
		{"an unknown role", admin, pw, "PUT", "/projects/apps/members/user/alice", `{"role":"owner"}`, 400},
		{"alice sees the project now", "alice", "alice-password", "GET", "/projects/apps", "", 200},
		{"a developer may not add members", "alice", "alice-password", "PUT", "/projects/apps/members/user/outsider", `{"role":"guest"}`, 403},
		{"a robot outside its project", admin, pw, "POST", "/projects/apps/robots", `{"name":"ci","permissions":[{"repositories":"other/**","actions":["push"]}]}`, 400},
		{"a robot with a bad action", admin, pw, "POST", "/projects/apps/robots", `{"name":"ci","permissions":[{"repositories":"apps/**","actions":["own"]}]}`, 400},
		{"alice changes her password", "alice", "alice-password", "PATCH", "/users/alice", `{"password":"alice-new-password"}`, 200},
		{"the old password stops working", "alice", "alice-password", "GET", "/me", "", 401},
		{"alice may not make herself admin", "alice", "alice-new-password", "PATCH", "/users/alice", `{"admin":true}`, 403},
		{"an empty project can be deleted", admin, pw, "DELETE", "/projects/team", "", 204},
		{"it is gone", admin, pw, "GET", "/projects/team", "", 404},
	}
	for _, s := range steps {
		if got := apiCall(t, base, s.user, s.pass, s.method, s.path, s.body, nil); got != s.want {
			t.Fatalf("%s: %s %s = %d, want %d", s.name, s.method, s.path, got, s.want)
		}
	}

	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]any
	}
	if code := apiCall(t, base, "", "", "GET", "/openapi.json", "", &doc); code != 200 || doc.OpenAPI != "3.0.3" || doc.Paths["/api/v1/users"] == nil {
		t.Fatalf("openapi.json = %d %+v", code, doc)
	}

	var robot struct {
		Name, Secret string
	}
	if got := apiCall(t, base, admin, pw, "POST", "/projects/apps/robots",
		`{"name":"ci","description":"CI pushes","permissions":[{"repositories":"apps/**","actions":["push","pull"]}]}`, &robot); got != 201 {
		t.Fatalf("create robot = %d", got)
	}
	if robot.Name != "robot$apps+ci" || len(robot.Secret) < 32 {
		t.Fatalf("robot = %+v", robot)
	}
	var listed []map[string]any
	apiCall(t, base, admin, pw, "GET", "/projects/apps/robots", "", &listed)
	if len(listed) != 1 || listed[0]["secret"] != nil || listed[0]["name"] != "robot$apps+ci" {
		t.Fatalf("robot list = %v (the secret must never be listed)", listed)
	}

	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	push := func(user, pass, repo string) error {
		ref := mustRef(t, host+"/"+repo+":v1")
		return remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	}
	if err := push("alice", "alice-new-password", "apps/web"); err != nil {
		t.Fatalf("developer push: %v", err)
	}
	if err := push(robot.Name, robot.Secret, "apps/worker"); err != nil {
		t.Fatalf("robot push: %v", err)
	}
	if err := push(robot.Name, robot.Secret, "library/app"); err == nil {
		t.Fatal("the apps robot pushed into library")
	}
	if got := apiCall(t, base, admin, pw, "PATCH", "/projects/apps/robots/ci", `{"disabled":true}`, nil); got != 204 {
		t.Fatalf("disable robot = %d", got)
	}
	if err := push(robot.Name, robot.Secret, "apps/worker2"); err == nil {
		t.Fatal("a disabled robot pushed")
	}
	if got := apiCall(t, base, admin, pw, "DELETE", "/projects/apps", "", nil); got != 409 {
		t.Fatalf("deleting a project with repositories = %d, want 409", got)
	}
	if got := apiCall(t, base, admin, pw, "DELETE", "/users/alice", "", nil); got != 204 {
		t.Fatalf("delete alice = %d", got)
	}
	if got := apiCall(t, base, "alice", "alice-new-password", "GET", "/me", "", nil); got != 401 {
		t.Fatalf("a deleted user still authenticates: %d", got)
	}
	var members []map[string]string
	apiCall(t, base, admin, pw, "GET", "/projects/apps/members", "", &members)
	for _, m := range members {
		if m["name"] == "alice" {
			t.Fatalf("a deleted user is still a member: %v", members)
		}
	}
}
