package app

import (
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestImmutableTags(t *testing.T) {
	_, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	images := map[int64]v1.Image{}
	push := func(user, ref string, seed int64) (string, error) {
		img, ok := images[seed]
		if !ok {
			img, _ = random.Image(512+seed, 1)
			images[seed] = img
		}
		d, _ := img.Digest()
		return d.String(), remote.Write(mustRef(t, host+ref), img, remote.WithAuth(basicAuth(user)))
	}
	first, err := push("maint", "/team/app:v1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := push("maint", "/team/app:latest", 2); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		who, method, path, body string
		want                    int
	}{
		{"dev", "POST", "/projects/team/immutable-rules", `{"repositories":"team/**","tags":"v*"}`, 403},
		{"maint", "POST", "/projects/team/immutable-rules", `{"repositories":"team/**","tags":"v*"}`, 403}, // project admins only
		{"admin", "POST", "/projects/team/immutable-rules", `{"repositories":"other/**","tags":"v*"}`, 400},
		{"admin", "POST", "/projects/team/immutable-rules", `{"repositories":"team/**","tags":"v[0-9]"}`, 400},
		{"admin", "POST", "/projects/team/immutable-rules", `{"repositories":"team/**","tags":"v*"}`, 201},
	} {
		if got := apiCall(t, base, s.who, matrixPassword, s.method, s.path, s.body, nil); got != s.want {
			t.Fatalf("%s %s %s %s = %d, want %d", s.who, s.method, s.path, s.body, got, s.want)
		}
	}
	var rules []struct {
		ID                 int64
		Repositories, Tags string
	}
	apiCall(t, base, "guest", matrixPassword, "GET", "/projects/team/immutable-rules", "", &rules)
	if len(rules) != 1 || rules[0].Tags != "v*" {
		t.Fatalf("rules = %+v", rules)
	}

	t.Run("an immutable tag cannot move", func(t *testing.T) {
		_, err := push("maint", "/team/app:v1", 3)
		if err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "tag v1 of team/app is immutable") {
			t.Fatalf("moving v1 = %v", err)
		}
	})
	t.Run("pushing the same manifest again is fine", func(t *testing.T) {
		if d, err := push("maint", "/team/app:v1", 1); err != nil || d != first {
			t.Fatalf("re-push = %s, %v", d, err)
		}
	})
	t.Run("a new immutable tag can be set once", func(t *testing.T) {
		if _, err := push("maint", "/team/app:v2", 4); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("other tags move as before", func(t *testing.T) {
		if _, err := push("maint", "/team/app:latest", 5); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("nor can it be deleted, by tag or through its manifest or repository", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"DELETE", "/v2/team/app/manifests/v1"},
			{"DELETE", "/v2/team/app/manifests/" + first},
		} {
			status, _, body := matrixDo(t, base, "maint", c.method, c.path, nil)
			if status != 403 || !strings.Contains(string(body), "immutable") {
				t.Fatalf("%s %s = %d %s", c.method, c.path, status, body)
			}
		}
		if got := apiCall(t, base, "maint", matrixPassword, "DELETE", "/repositories/team/app", "", nil); got != 403 {
			t.Fatalf("deleting the repository = %d, want 403", got)
		}
	})
	t.Run("after the rule is removed it moves again", func(t *testing.T) {
		if got := apiCall(t, base, "admin", matrixPassword, "DELETE", "/projects/team/immutable-rules/"+strconv.FormatInt(rules[0].ID, 10), "", nil); got != 204 {
			t.Fatalf("remove rule = %d", got)
		}
		if _, err := push("maint", "/team/app:v1", 6); err != nil {
			t.Fatal(err)
		}
	})
}
