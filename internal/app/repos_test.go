package app

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRepositoryAPI(t *testing.T) {
	_, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	img, _ := random.Image(4096, 2)
	cf, _ := img.ConfigFile()
	cf.OS, cf.Architecture = "linux", "arm64"
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	for _, ref := range []string{"/team/app:v1", "/team/app:latest", "/pub/tool:1"} {
		if err := remote.Write(mustRef(t, host+ref), img, remote.WithAuth(basicAuth("admin"))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := remote.Image(mustRef(t, host+"/team/app:v1"), remote.WithAuth(basicAuth("dev"))); err != nil {
		t.Fatal(err)
	}

	t.Run("repositories visible to each caller", func(t *testing.T) {
		for _, tc := range []struct {
			user, query string
			want        []string
		}{
			{"admin", "", []string{"pub/tool", "team/app"}},
			{"guest", "", []string{"pub/tool", "team/app"}},
			{"lguest", "", []string{"pub/tool"}},
			{"outsider", "", []string{"pub/tool"}},
			{"admin", "?project=team", []string{"team/app"}},
		} {
			var out struct {
				Repositories []struct{ Name, Project string }
			}
			if code := apiCall(t, base, tc.user, matrixPassword, "GET", "/repositories"+tc.query, "", &out); code != 200 {
				t.Fatalf("%s: %d", tc.user, code)
			}
			var got []string
			for _, r := range out.Repositories {
				got = append(got, r.Name)
				if r.Project != strings.Split(r.Name, "/")[0] {
					t.Errorf("project of %s = %s", r.Name, r.Project)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s%s sees %v, want %v", tc.user, tc.query, got, tc.want)
			}
		}
	})
	t.Run("artifacts with tags, size, platform, pusher and pulls", func(t *testing.T) {
		type artifact struct {
			Digest    string
			Tags      []string
			Size      int64
			Platforms []struct{ OS, Architecture string }
			Pusher    string
			Pulls     int
			TagPulls  []struct {
				Tag      string
				Pulls    int
				LastPull time.Time `json:"last_pull"`
			} `json:"tag_pulls"`
		}
		var as []artifact
		deadline := time.Now().Add(15 * time.Second)
		for { // pulls are recorded in batches
			as = nil
			if code := apiCall(t, base, "guest", matrixPassword, "GET", "/artifacts?repository=team/app", "", &as); code != 200 {
				t.Fatalf("artifacts = %d", code)
			}
			if len(as) == 1 && as[0].Pulls == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		want, _ := img.Size()
		layers, _ := img.Layers()
		cfgSize := int64(0)
		if m, err := img.Manifest(); err == nil {
			cfgSize = m.Config.Size
		}
		total := want + cfgSize
		for _, l := range layers {
			s, _ := l.Size()
			total += s
		}
		a := as[0]
		if len(as) != 1 || a.Digest != digest.String() || strings.Join(a.Tags, ",") != "latest,v1" || a.Size != total ||
			len(a.Platforms) != 1 || a.Platforms[0].OS != "linux" || a.Platforms[0].Architecture != "arm64" || a.Pusher != "admin" || a.Pulls != 1 {
			t.Fatalf("artifacts = %+v (want size %d)", as, total)
		}
		if len(a.TagPulls) != 1 || a.TagPulls[0].Tag != "v1" || a.TagPulls[0].Pulls != 1 || time.Since(a.TagPulls[0].LastPull) > time.Minute {
			t.Fatalf("tag pulls = %+v, want one pull of v1 just now", a.TagPulls)
		}
	})
	t.Run("who may list and delete", func(t *testing.T) {
		for _, tc := range []struct {
			user, method, path string
			want               int
		}{
			{"outsider", "GET", "/artifacts?repository=team/app", 404}, // a private name is not revealed
			{"admin", "GET", "/artifacts?repository=team/none", 404},
			{"admin", "GET", "/artifacts", 400},
			{"dev", "DELETE", "/repositories/team/app", 403},
			{"outsider", "DELETE", "/repositories/team/app", 404},
			{"maint", "DELETE", "/repositories/team/app", 204},
			{"admin", "GET", "/artifacts?repository=team/app", 404},
			{"maint", "DELETE", "/repositories/team/app", 404},
		} {
			if got := apiCall(t, base, tc.user, matrixPassword, tc.method, tc.path, "", nil); got != tc.want {
				t.Errorf("%s %s %s = %d, want %d", tc.user, tc.method, tc.path, got, tc.want)
			}
		}
		if _, err := remote.Image(mustRef(t, host+"/team/app:v1"), remote.WithAuth(basicAuth("admin"))); err == nil {
			t.Fatal("the deleted repository still serves its image")
		}
		if _, err := remote.Image(mustRef(t, host+"/pub/tool:1"), remote.WithAuth(basicAuth("admin"))); err != nil {
			t.Fatalf("another repository suffered: %v", err)
		}
	})
}
