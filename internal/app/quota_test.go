package app

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/registry"
)

// imageParts is what an image adds to a project's usage when none of its
// parts is there yet: manifest, config and layers.
func imageParts(t *testing.T, img v1.Image) map[v1.Hash]int64 {
	t.Helper()
	out := map[v1.Hash]int64{}
	d, _ := img.Digest()
	out[d] = mustManifestSize(t, img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out[m.Config.Digest] = m.Config.Size
	for _, l := range m.Layers {
		out[l.Digest] = l.Size
	}
	return out
}

// distinctBytes adds up the sizes of the distinct digests of the images.
func distinctBytes(t *testing.T, imgs ...v1.Image) int64 {
	t.Helper()
	all := map[v1.Hash]int64{}
	for _, img := range imgs {
		for d, n := range imageParts(t, img) {
			all[d] = n
		}
	}
	var sum int64
	for _, n := range all {
		sum += n
	}
	return sum
}

type projectQuotaJSON struct {
	Name       string `json:"name"`
	QuotaBytes int64  `json:"quota_bytes"`
	UsedBytes  int64  `json:"used_bytes"`
}

func TestQuotas(t *testing.T) {
	a, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	push := func(ref string, img v1.Image) error {
		return remote.Write(mustRef(t, host+"/"+ref), img, remote.WithAuth(basicAuth("maint")))
	}
	used := func() int64 {
		t.Helper()
		var p projectQuotaJSON
		if code := apiCall(t, base, "guest", matrixPassword, "GET", "/projects/team", "", &p); code != 200 {
			t.Fatalf("GET /projects/team = %d", code)
		}
		var q struct {
			Project    string
			QuotaBytes int64 `json:"quota_bytes"`
			UsedBytes  int64 `json:"used_bytes"`
		}
		apiCall(t, base, "guest", matrixPassword, "GET", "/projects/team/quota", "", &q)
		if q.UsedBytes != p.UsedBytes || q.QuotaBytes != p.QuotaBytes {
			t.Fatalf("/projects/team says %+v, /projects/team/quota %+v", p, q)
		}
		return p.UsedBytes
	}
	setQuota := func(n int64) {
		t.Helper()
		if code := apiCall(t, base, "admin", matrixPassword, "PUT", "/projects/team/quota", fmt.Sprintf(`{"quota_bytes":%d}`, n), nil); code != 200 {
			t.Fatalf("set quota = %d", code)
		}
	}

	t.Run("only system admins set quotas; who sees a project sees its usage", func(t *testing.T) {
		for _, s := range []struct {
			who, method, path, body string
			want                    int
		}{
			{"maint", "PUT", "/projects/team/quota", `{"quota_bytes":1000}`, 403},
			{"maint", "PATCH", "/projects/team", `{"quota_bytes":1000}`, 403},
			{"admin", "PUT", "/projects/team/quota", `{"quota_bytes":-1}`, 400},
			{"admin", "PUT", "/projects/team/quota", `{}`, 400},
			{"admin", "PUT", "/projects/nosuch/quota", `{"quota_bytes":1}`, 404},
			{"admin", "PATCH", "/projects/team", `{"quota_bytes":123456}`, 200},
			{"guest", "GET", "/projects/team/quota", "", 200},
			{"outsider", "GET", "/projects/team/quota", "", 404},
			{"admin", "PUT", "/projects/team/quota", `{"quota_bytes":0}`, 200},
		} {
			if got := apiCall(t, base, s.who, matrixPassword, s.method, s.path, s.body, nil); got != s.want {
				t.Fatalf("%s %s %s %s = %d, want %d", s.who, s.method, s.path, s.body, got, s.want)
			}
		}
		var qs []struct {
			Project    string
			QuotaBytes int64 `json:"quota_bytes"`
		}
		apiCall(t, base, "outsider", matrixPassword, "GET", "/quotas", "", &qs)
		for _, q := range qs {
			if q.Project == "team" {
				t.Fatalf("an outsider sees the private project's quota: %+v", qs)
			}
		}
	})

	shared := randomLayer(t, 4000)
	img1, img2 := imageWith(t, shared, randomLayer(t, 3000)), imageWith(t, shared, randomLayer(t, 3001))
	if err := push("team/one:v1", img1); err != nil {
		t.Fatal(err)
	}
	if err := push("team/two:v1", img2); err != nil {
		t.Fatal(err)
	}
	t.Run("a layer shared by two repositories counts once", func(t *testing.T) {
		if got, want := used(), distinctBytes(t, img1, img2); got != want {
			t.Fatalf("usage = %d, want %d", got, want)
		}
	})

	setQuota(used() + 1000)
	t.Run("a push over the quota is refused and names the project", func(t *testing.T) {
		img3 := imageWith(t, randomLayer(t, 5000))
		err := push("team/three:v1", img3)
		if err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "quota exceeded: project team would use") {
			t.Fatalf("push over the quota = %v", err)
		}
		if got, want := used(), distinctBytes(t, img1, img2); got != want {
			t.Fatalf("usage after the refusal = %d, want %d", got, want)
		}
	})
	t.Run("a manifest over the quota is refused even when its blobs got in", func(t *testing.T) {
		small := imageWith(t, randomLayer(t, 600), randomLayer(t, 601))
		err := push("team/three:v1", small) // each blob fits, all of it does not
		if err == nil || !strings.Contains(err.Error(), "/manifests/v1: DENIED: quota exceeded: project team would use") {
			t.Fatalf("push over the quota = %v", err)
		}
		d, _ := small.Digest()
		if code, _, _ := matrixDo(t, base, "maint", "GET", "/v2/team/three/manifests/"+d.String(), nil); code != 404 {
			t.Fatalf("the refused manifest answers %d", code)
		}
	})
	t.Run("pushes that add nothing pass", func(t *testing.T) {
		setQuota(1) // far below the usage
		if err := push("team/one:again", img1); err != nil {
			t.Fatalf("re-tag over the quota: %v", err)
		}
		if got, want := used(), distinctBytes(t, img1, img2); got != want {
			t.Fatalf("usage = %d, want %d", got, want)
		}
		err := push("team/three:v1", imageWith(t, randomLayer(t, 10)))
		if err == nil || !strings.Contains(err.Error(), "quota exceeded: project team uses") {
			t.Fatalf("push at the quota = %v", err)
		}
	})

	setQuota(0)
	if err := push("team/three:v1", img2); err != nil { // img2 in a third repository
		t.Fatal(err)
	}
	t.Run("usage stays exact through tag deletes, manifest deletes, repository deletes and GC", func(t *testing.T) {
		gc := func() {
			t.Helper()
			if _, err := a.svc.GC(context.Background(), registry.GCOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			name   string
			do     func()
			images []v1.Image
		}{
			{"untag team/two:v1", func() {
				if code, _, _ := matrixDo(t, base, "maint", "DELETE", "/v2/team/two/manifests/v1", nil); code != 202 {
					t.Fatalf("untag = %d", code)
				}
			}, []v1.Image{img1, img2}},
			{"GC takes the untagged manifest; team/three still holds the image", gc, []v1.Image{img1, img2}},
			{"delete team/three", func() {
				if code := apiCall(t, base, "admin", matrixPassword, "DELETE", "/repositories/team/three", "", nil); code != 204 {
					t.Fatalf("delete repository = %d", code)
				}
			}, []v1.Image{img1}},
			{"delete img1 by digest", func() {
				d, _ := img1.Digest()
				if code, _, _ := matrixDo(t, base, "maint", "DELETE", "/v2/team/one/manifests/"+d.String(), nil); code != 202 {
					t.Fatalf("delete manifest = %d", code)
				}
			}, nil},
			{"GC after everything went", gc, nil},
		}
		for _, s := range steps {
			s.do()
			if got, want := used(), distinctBytes(t, s.images...); got != want {
				t.Fatalf("after %s: usage = %d, want %d", s.name, got, want)
			}
		}
	})
}
