package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/retention"
)

// retentionAnswer is the API's answer to a retention run.
type retentionAnswer struct {
	DryRun     bool  `json:"dry_run"`
	Tags       int   `json:"tags"`
	Manifests  int   `json:"manifests"`
	BytesFreed int64 `json:"bytes_freed"`
	Projects   []struct {
		Project    string `json:"project"`
		BytesFreed int64  `json:"bytes_freed"`
		Removals   []struct {
			Repository string   `json:"repository"`
			Digest     string   `json:"digest"`
			Tags       []string `json:"tags"`
			Manifest   bool     `json:"manifest"`
			Size       int64    `json:"size"`
		} `json:"removals"`
		Skipped []struct {
			Repository, Digest, Tag, Reason string
		} `json:"skipped"`
	} `json:"projects"`
}

// lines writes the removals as sorted "repo@digest[tags]+m size" lines.
func (r retentionAnswer) lines() []string {
	var out []string
	for _, p := range r.Projects {
		for _, x := range p.Removals {
			s := fmt.Sprintf("%s@%s[%s]", x.Repository, x.Digest, strings.Join(x.Tags, ","))
			if x.Manifest {
				s += "+m"
			}
			out = append(out, fmt.Sprintf("%s %d", s, x.Size))
		}
	}
	slices.Sort(out)
	return out
}

// imageBytes is an image's manifest, config and layer bytes.
func imageBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := mustManifestSize(t, img) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func TestRetention(t *testing.T) {
	a, base := newMatrixServer(t)
	host := strings.TrimPrefix(base, "http://")
	ctx := context.Background()
	hash, _ := bcrypt.GenerateFromPassword([]byte(matrixPassword), bcrypt.MinCost)
	if err := a.meta.Update(ctx, func(tx meta.Tx) error {
		if err := tx.CreateUser(meta.User{Name: "owner", PasswordHash: hash, CreatedAt: time.Now()}); err != nil {
			return err
		}
		return tx.PutMember(meta.Member{Project: "team", Kind: meta.MemberUser, Name: "owner", Role: "admin"})
	}); err != nil {
		t.Fatal(err)
	}
	push := func(ref string, img v1.Image) v1.Hash {
		t.Helper()
		if err := remote.Write(mustRef(t, host+"/"+ref), img, remote.WithAuth(basicAuth("admin"))); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		d, _ := img.Digest()
		return d
	}
	newImage := func() v1.Image {
		img, err := random.Image(700, 1)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}

	// team/app: v1..v5 pushed in order; a signature of v1 (by digest, with
	// its subject) and a cosign-style tag, pushed last.
	apps := map[string]v1.Image{}
	digests := map[string]v1.Hash{}
	for i := 1; i <= 5; i++ {
		tag := fmt.Sprintf("v%d", i)
		apps[tag] = newImage()
		digests[tag] = push("team/app:"+tag, apps[tag])
	}
	sig := mutate.Subject(newImage(), v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: digests["v1"], Size: mustManifestSize(t, apps["v1"])}).(v1.Image)
	sigD := push("team/app@"+mustDigest(t, sig).String(), sig)
	cosignTag := "sha256-" + digests["v1"].Hex + ".sig"
	push("team/app:"+cosignTag, newImage())
	// team/keep: v1, v2, dev1 (immutable), dev2.
	keep := map[string]v1.Image{}
	for _, tag := range []string{"v1", "v2", "dev1", "dev2"} {
		keep[tag] = newImage()
		digests["keep-"+tag] = push("team/keep:"+tag, keep[tag])
	}
	// team/pull: a is pulled, b is not.
	pulled, notPulled := newImage(), newImage()
	digests["pull-a"], digests["pull-b"] = push("team/pull:a", pulled), push("team/pull:b", notPulled)
	if err := a.meta.Update(ctx, func(tx meta.Tx) error {
		return tx.RecordPulls([]meta.PullCount{{Repo: "team/pull", Digest: digest.Digest(digests["pull-a"].String()), Tag: "a", Pulls: 3, Last: time.Now()}})
	}); err != nil {
		t.Fatal(err)
	}
	// team/other: matched by no rule.
	push("team/other:v1", newImage())
	push("team/other:v2", newImage())

	for _, s := range []struct {
		who, method, path, body string
		want                    int
	}{
		{"maint", "POST", "/projects/team/retention-rules", `{"repositories":"team/app","kind":"keep-last","count":2}`, 403},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"other/**","kind":"keep-last","count":2}`, 400},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"team/app","kind":"keep-most","count":2}`, 400},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"team/app","kind":"keep-last"}`, 400},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"team/app","kind":"untagged-after","age":"soon"}`, 400},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"team/app","kind":"keep-last","count":2}`, 201},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"team/keep","tags":"v*","kind":"keep-tags"}`, 201},
		{"owner", "POST", "/projects/team/retention-rules", `{"repositories":"team/pull","kind":"keep-pulled-within","age":"7d"}`, 201},
		{"admin", "POST", "/projects/team/immutable-rules", `{"repositories":"team/keep","tags":"dev1"}`, 201},
		{"maint", "POST", "/projects/team/retention/run", `{"dry_run":true}`, 403},
		{"dev", "POST", "/system/retention", `{"dry_run":true}`, 403},
		{"", "POST", "/system/retention", `{"dry_run":true}`, 401},
	} {
		if got := apiCall(t, base, s.who, matrixPassword, s.method, s.path, s.body, nil); got != s.want {
			t.Fatalf("%s %s %s %s = %d, want %d", s.who, s.method, s.path, s.body, got, s.want)
		}
	}
	var rules []struct {
		ID                            int64
		Repositories, Tags, Kind, Age string
		Count                         int
		Description                   string
	}
	apiCall(t, base, "guest", matrixPassword, "GET", "/projects/team/retention-rules", "", &rules)
	if len(rules) != 3 || rules[0].Description != "keep-last 2" || rules[1].Tags != "v*" || rules[2].Age != "1w" {
		t.Fatalf("rules = %+v", rules)
	}

	size := func(img v1.Image) int64 { return imageBytes(t, img) }
	want := []string{
		fmt.Sprintf("team/app@%s[v1]+m %d", digests["v1"], size(apps["v1"])),
		fmt.Sprintf("team/app@%s[v2]+m %d", digests["v2"], size(apps["v2"])),
		fmt.Sprintf("team/app@%s[v3]+m %d", digests["v3"], size(apps["v3"])),
		fmt.Sprintf("team/keep@%s[dev2]+m %d", digests["keep-dev2"], size(keep["dev2"])),
		fmt.Sprintf("team/pull@%s[b]+m %d", digests["pull-b"], size(notPulled)),
	}
	slices.Sort(want)
	// Every image here has blobs of its own: all of their bytes leave.
	wantFreed := size(apps["v1"]) + size(apps["v2"]) + size(apps["v3"]) + size(keep["dev2"]) + size(notPulled)

	var dry retentionAnswer
	if code := apiCall(t, base, "owner", matrixPassword, "POST", "/projects/team/retention/run", `{"dry_run":true}`, &dry); code != 200 {
		t.Fatalf("dry run = %d", code)
	}
	t.Run("a dry run lists what would go, with sizes, and removes nothing", func(t *testing.T) {
		if got := dry.lines(); !slices.Equal(got, want) {
			t.Fatalf("dry run:\n got %q\nwant %q", got, want)
		}
		if !dry.DryRun || dry.Tags != 5 || dry.Manifests != 5 || dry.BytesFreed != wantFreed || dry.Projects[0].BytesFreed != wantFreed {
			t.Fatalf("dry run totals = %+v, want 5 tags, 5 manifests, %d bytes", dry, wantFreed)
		}
		if sk := dry.Projects[0].Skipped; len(sk) != 1 || sk[0].Tag != "dev1" || !strings.Contains(sk[0].Reason, "immutable") {
			t.Fatalf("skipped = %+v, want dev1 as immutable", sk)
		}
		if _, err := remote.Image(mustRef(t, host+"/team/app:v1"), remote.WithAuth(basicAuth("admin"))); err != nil {
			t.Fatalf("v1 after a dry run: %v", err)
		}
	})

	var real retentionAnswer
	if code := apiCall(t, base, "owner", matrixPassword, "POST", "/projects/team/retention/run", `{}`, &real); code != 200 {
		t.Fatalf("run = %d", code)
	}
	t.Run("the run removes exactly what the dry run listed", func(t *testing.T) {
		if got := real.lines(); !slices.Equal(got, dry.lines()) {
			t.Fatalf("run removed:\n %q\ndry run listed:\n %q", got, dry.lines())
		}
		if real.DryRun || real.BytesFreed != dry.BytesFreed {
			t.Fatalf("run = %+v", real)
		}
	})
	tags := func(repo string) []string {
		t.Helper()
		ts, err := remote.List(mustRef(t, host+"/"+repo+":x").Context(), remote.WithAuth(basicAuth("admin")))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	gone := func(repo string, d v1.Hash) bool {
		_, err := remote.Get(mustRef(t, host+"/"+repo+"@"+d.String()), remote.WithAuth(basicAuth("admin")))
		return err != nil && strings.Contains(err.Error(), "MANIFEST_UNKNOWN")
	}
	t.Run("what is kept stays, referrer tags untouched", func(t *testing.T) {
		for repo, want := range map[string][]string{
			"team/app":   {cosignTag, "v4", "v5"},
			"team/keep":  {"dev1", "v1", "v2"},
			"team/pull":  {"a"},
			"team/other": {"v1", "v2"},
		} {
			if got := tags(repo); !slices.Equal(got, want) {
				t.Errorf("tags of %s = %v, want %v", repo, got, want)
			}
		}
		for _, k := range []string{"v1", "v2", "v3"} {
			if !gone("team/app", digests[k]) {
				t.Errorf("manifest of %s survived", k)
			}
		}
		if gone("team/app", sigD) {
			t.Error("the signature went before GC")
		}
	})
	t.Run("the audit log has every deletion and the run", func(t *testing.T) {
		var page struct {
			Events []struct {
				Action, Actor, Tag, Digest, Detail string
				Repo                               string `json:"repository"`
			}
		}
		apiCall(t, base, "admin", matrixPassword, "GET", "/audit?actor=retention", "", &page)
		var got []string
		for _, e := range page.Events {
			got = append(got, e.Action+" "+e.Repo+" "+e.Tag)
		}
		slices.Sort(got)
		wantAudit := []string{"delete team/app ", "delete team/app ", "delete team/app ", "delete team/keep ", "delete team/pull ",
			"retention.run team ", "tag.delete team/app v1", "tag.delete team/app v2", "tag.delete team/app v3",
			"tag.delete team/keep dev2", "tag.delete team/pull b"}
		if !slices.Equal(got, wantAudit) {
			t.Fatalf("audit events of retention:\n got %q\nwant %q", got, wantAudit)
		}
		for _, e := range page.Events {
			if e.Action == "retention.run" && !strings.Contains(e.Detail, "asked by owner") {
				t.Errorf("retention.run detail = %q", e.Detail)
			}
		}
	})
	t.Run("a run with nothing left to remove removes nothing", func(t *testing.T) {
		var again retentionAnswer
		apiCall(t, base, "admin", matrixPassword, "POST", "/system/retention", `{"dry_run":false}`, &again)
		if again.Tags != 0 || again.Manifests != 0 || len(again.Projects) != 1 || again.Projects[0].Project != "team" {
			t.Fatalf("second run = %+v", again)
		}
	})
	t.Run("the signatures go with their subject through GC", func(t *testing.T) {
		rep, err := a.RunGC(ctx, registry.GCOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !gone("team/app", sigD) {
			t.Fatal("the signature of a removed subject survived GC")
		}
		if got := tags("team/app"); !slices.Equal(got, []string{"v4", "v5"}) || rep.Tags != 1 {
			t.Fatalf("tags of team/app after GC = %v (%d removed), want the cosign tag of the removed v1 gone", got, rep.Tags)
		}
	})
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRetentionUntagged: with gc.delete_untagged off GC keeps untagged
// manifests; an untagged-after rule removes them once old enough, but not
// the children of an index.
func TestRetentionUntagged(t *testing.T) {
	a, base := startApp(t, func(cfg *config.Config) { cfg.GC.DeleteUntagged = false })
	host := strings.TrimPrefix(base, "http://")
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/projects", `{"name":"team"}`, nil); code != 201 {
		t.Fatalf("create project = %d", code)
	}
	loose, _ := random.Image(600, 1)
	looseD := mustDigest(t, loose)
	if err := remote.Write(mustRef(t, host+"/team/u@"+looseD.String()), loose, asAdmin); err != nil {
		t.Fatal(err)
	}
	tagged, _ := random.Image(600, 1)
	if err := remote.Write(mustRef(t, host+"/team/u:v1"), tagged, asAdmin); err != nil {
		t.Fatal(err)
	}
	idx, _ := random.Index(600, 1, 2)
	if err := remote.WriteIndex(mustRef(t, host+"/team/u:multi"), idx, asAdmin); err != nil {
		t.Fatal(err)
	}
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/projects/team/retention-rules",
		`{"repositories":"team/**","kind":"untagged-after","age":"1s"}`, nil); code != 201 {
		t.Fatalf("add rule = %d", code)
	}
	gone := func(d v1.Hash) bool {
		_, err := remote.Get(mustRef(t, host+"/team/u@"+d.String()), asAdmin)
		return err != nil && strings.Contains(err.Error(), "MANIFEST_UNKNOWN")
	}
	if _, err := a.RunGC(context.Background(), registry.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if gone(looseD) {
		t.Fatal("GC removed an untagged manifest with gc.delete_untagged off")
	}
	var young retentionAnswer
	apiCall(t, base, "admin", testAdminPassword, "POST", "/projects/team/retention/run", `{}`, &young)
	if young.Manifests != 0 {
		t.Fatalf("a run removed manifests younger than the rule's age: %+v", young)
	}
	time.Sleep(1100 * time.Millisecond)
	var rep retentionAnswer
	apiCall(t, base, "admin", testAdminPassword, "POST", "/projects/team/retention/run", `{}`, &rep)
	want := []string{fmt.Sprintf("team/u@%s[]+m %d", looseD, imageBytes(t, loose))}
	if got := rep.lines(); !slices.Equal(got, want) {
		t.Fatalf("removed %q, want %q", got, want)
	}
	if !gone(looseD) {
		t.Fatal("the untagged manifest survived")
	}
	im, _ := idx.IndexManifest()
	for _, c := range im.Manifests {
		if gone(c.Digest) {
			t.Errorf("index child %s was removed", c.Digest)
		}
	}
	if _, err := remote.Image(mustRef(t, host+"/team/u:v1"), asAdmin); err != nil {
		t.Fatalf("the tagged image: %v", err)
	}
}

// TestRetentionOneAtATime: a run asked for while another holds the
// cluster-wide lease is refused with 409.
func TestRetentionOneAtATime(t *testing.T) {
	a, base := startApp(t, nil)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = jobs.New(a.meta, nil).Once(context.Background(), retentionRunLease, time.Minute, func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/system/retention", `{"dry_run":true}`, nil); code != 409 {
		t.Fatalf("a run while another holds the lease = %d, want 409", code)
	}
	if _, err := a.RunRetention(context.Background(), retention.Options{}); !errors.Is(err, jobs.ErrBusy) {
		t.Fatalf("RunRetention while another run holds the lease = %v, want ErrBusy", err)
	}
	close(release)
	<-done
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/system/retention", `{"dry_run":true}`, nil); code != 200 {
		t.Fatalf("after the lease was released = %d", code)
	}
}
