package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

func imageWith(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func randomLayer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestGC(t *testing.T) {
	data := t.TempDir()
	a, base := startApp(t, func(cfg *config.Config) { cfg.Storage.Path = data })
	host := strings.TrimPrefix(base, "http://")
	ref := func(s string) name.Reference { return mustRef(t, host+"/"+s) }
	push := func(r string, img v1.Image) {
		t.Helper()
		if err := remote.Write(ref(r), img, asAdmin); err != nil {
			t.Fatalf("push %s: %v", r, err)
		}
	}
	shared, only1, only2 := randomLayer(t, 3000), randomLayer(t, 3001), randomLayer(t, 3002)
	img1, img2 := imageWith(t, shared, only1), imageWith(t, shared, only2)
	push("gc/one:v1", img1)
	push("gc/two:v1", img2)
	d1, _ := img1.Digest()
	d2, _ := img2.Digest()
	// A multi-platform index, tagged: its children are untagged but kept.
	idx, err := random.Index(1024, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref("gc/multi:v1"), idx, asAdmin); err != nil {
		t.Fatal(err)
	}
	// The same shape untagged: the index goes, then its children.
	loose, _ := random.Index(1024, 1, 2)
	looseD, _ := loose.Digest()
	if err := remote.WriteIndex(ref("gc/loose@"+looseD.String()), loose, asAdmin); err != nil {
		t.Fatal(err)
	}
	// A signature-like referrer of img1, pushed by digest.
	sig := mutate.Subject(imageWith(t, randomLayer(t, 100)), v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: d1, Size: mustManifestSize(t, img1)}).(v1.Image)
	sigD, _ := sig.Digest()
	push("gc/one@"+sigD.String(), sig)
	// A cosign-style signature: no subject field, tagged sha256-<hex>.sig.
	cosignTag := "sha256-" + d1.Hex + ".sig"
	push("gc/one:"+cosignTag, imageWith(t, randomLayer(t, 90)))
	// A blob uploaded by a push that never finished.
	junk := randomLayer(t, 2000)
	if err := remote.WriteLayer(ref("gc/junk:x").Context(), junk, asAdmin); err != nil {
		t.Fatal(err)
	}
	junkD, _ := junk.Digest()

	run := func(o registry.GCOptions) registry.GCReport {
		t.Helper()
		rep, err := a.svc.GC(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := run(registry.GCOptions{Grace: time.Hour}); rep != (registry.GCReport{Duration: rep.Duration}) {
		t.Fatalf("within the grace period GC removed %+v", rep)
	}
	if code, _, _ := apiStatus(t, "DELETE", base+"/v2/gc/two/manifests/v1"); code != 202 {
		t.Fatalf("untag = %d", code)
	}
	dry := run(registry.GCOptions{DryRun: true})
	if dry.Manifests == 0 || dry.Links == 0 {
		t.Fatalf("dry run found nothing: %+v", dry)
	}
	if _, err := remote.Image(ref("gc/two@"+d2.String()), asAdmin); err != nil {
		t.Fatalf("a dry run removed something: %v", err)
	}
	// gc.delete_untagged off: the untagged manifests stay, pullable by
	// digest; only the blob nothing references goes.
	keep := run(registry.GCOptions{KeepUntagged: true})
	if keep.Manifests != 0 || keep.Links != 1 || keep.Blobs != 1 {
		t.Fatalf("keeping untagged manifests, GC removed %+v; want only the junk blob and its link", keep)
	}
	for _, r := range []string{"gc/two@" + d2.String(), "gc/loose@" + looseD.String()} {
		if _, err := remote.Get(ref(r), asAdmin); err != nil {
			t.Fatalf("%s is untagged but must stay while untagged manifests are kept: %v", r, err)
		}
	}
	rep := run(registry.GCOptions{})
	// img2, the loose index and its 2 children: 4 manifests.
	if rep.Manifests != 4 || rep.Blobs == 0 || rep.Bytes == 0 {
		t.Fatalf("report = %+v", rep)
	}
	gone := func(r string) bool {
		_, err := remote.Get(ref(r), asAdmin)
		return err != nil && strings.Contains(err.Error(), "MANIFEST_UNKNOWN")
	}
	for _, r := range []string{"gc/two@" + d2.String(), "gc/loose@" + looseD.String()} {
		if !gone(r) {
			t.Errorf("%s survived GC", r)
		}
	}
	onlyD2, _ := only2.Digest()
	for _, d := range []v1.Hash{onlyD2, junkD} {
		if _, err := os.Stat(blobFile(data, d)); !os.IsNotExist(err) {
			t.Errorf("blob %s is still on disk: %v", d, err)
		}
	}
	for _, r := range []string{"gc/one:v1", "gc/multi:v1"} {
		desc, err := remote.Get(ref(r), asAdmin)
		if err != nil {
			t.Fatalf("%s after GC: %v", r, err)
		}
		if desc.MediaType.IsIndex() {
			ii, _ := desc.ImageIndex()
			if err := validate.Index(ii); err != nil {
				t.Fatalf("%s after GC: %v", r, err)
			}
		} else {
			img, _ := desc.Image()
			if err := validate.Image(img); err != nil {
				t.Fatalf("%s after GC: %v", r, err)
			}
		}
	}
	refs, err := remote.Referrers(ref("gc/one@"+d1.String()).Context().Digest(d1.String()), asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := refs.IndexManifest(); len(m.Manifests) != 1 {
		t.Fatalf("the referrer of a kept subject is gone: %+v", m)
	}

	// Untag img1: it goes, and its referrer goes with it.
	if code, _, _ := apiStatus(t, "DELETE", base+"/v2/gc/one/manifests/v1"); code != 202 {
		t.Fatalf("untag = %d", code)
	}
	// gc.delete_orphan_referrers off: the subject goes, its referrer stays.
	if rep := run(registry.GCOptions{KeepOrphanReferrers: true}); rep.Manifests != 1 {
		t.Fatalf("keeping orphaned referrers, GC removed %d manifests; want the subject only", rep.Manifests)
	}
	if !gone("gc/one@"+d1.String()) || gone("gc/one@"+sigD.String()) {
		t.Fatalf("keeping orphaned referrers: want the subject gone and its referrer kept")
	}
	if gone("gc/one:" + cosignTag) {
		t.Fatal("keeping orphaned referrers, the cosign signature tag went")
	}
	if rep := run(registry.GCOptions{}); rep.Tags != 1 {
		t.Fatalf("GC removed %d orphaned signature tags, want 1", rep.Tags)
	}
	for _, r := range []string{"gc/one@" + d1.String(), "gc/one@" + sigD.String(), "gc/one:" + cosignTag} {
		if !gone(r) {
			t.Errorf("%s survived GC after its tag (or subject) went", r)
		}
	}
}

func mustManifestSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	b, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(b))
}

// TestGCWhileServing runs GC in a loop while 8 clients push images that
// share layers, pull what they tagged, and untag some: no pull of anything
// still tagged fails, and afterwards everything unreferenced is gone.
func TestGCWhileServing(t *testing.T) {
	// The server's gc.grace is the runs' grace: a layer a client is shown
	// (HEAD) is refreshed after half of it, so the rest must outlast the
	// time from that HEAD to the manifest PUT, race detector included.
	const grace = 6 * time.Second
	data := t.TempDir()
	a, base := startApp(t, func(cfg *config.Config) {
		cfg.Storage.Path = data
		cfg.GC.Grace = grace
	})
	host := strings.TrimPrefix(base, "http://")
	pool := make([]v1.Layer, 6)
	for i := range pool {
		pool[i] = randomLayer(t, int64(2048+i))
	}
	ctx, stop := context.WithCancel(context.Background())
	gcDone := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := a.svc.GC(ctx, registry.GCOptions{Grace: grace}); err != nil && ctx.Err() == nil {
				gcDone <- err
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		gcDone <- nil
	}()

	var (
		mu       sync.Mutex
		failures []string
		kept     = map[string]v1.Hash{} // tag ref → digest still tagged
	)
	fail := func(f string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(f, args...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(c)))
			repo := fmt.Sprintf("gcload/c%d", c)
			var mine []string
			for i := range 12 {
				layers := []v1.Layer{pool[rng.Intn(len(pool))], randomLayer(t, int64(1000+rng.Intn(1000)))}
				img := imageWith(t, layers...)
				tag := fmt.Sprintf("%s/%s/img:%d", host, repo, i)
				if err := remote.Write(mustRef(t, tag), img, asAdmin); err != nil {
					fail("push %s: %v", tag, err)
					continue
				}
				d, _ := img.Digest()
				mine = append(mine, tag)
				mu.Lock()
				kept[tag] = d
				mu.Unlock()
				for _, r := range mine { // pull everything still tagged
					got, err := remote.Image(mustRef(t, r), asAdmin)
					if err == nil {
						err = validate.Image(got)
					}
					if err != nil {
						fail("pull of tagged %s: %v", r, err)
					}
				}
				if rng.Intn(3) == 0 && len(mine) > 1 { // untag one
					j := rng.Intn(len(mine))
					r := mine[j]
					tagName := r[strings.LastIndexByte(r, ':')+1:]
					if code, _, body := apiStatus(t, "DELETE", base+"/v2/"+repo+"/img/manifests/"+tagName); code != 202 {
						fail("untag %s: %d %s", r, code, body)
					}
					mine = append(mine[:j], mine[j+1:]...)
					mu.Lock()
					delete(kept, r)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	stop()
	if err := <-gcDone; err != nil {
		t.Fatalf("GC failed while serving: %v", err)
	}
	if len(failures) > 0 {
		t.Fatalf("%d failures while GC ran, first: %s", len(failures), failures[0])
	}

	// After the grace period one more run leaves only what is referenced.
	time.Sleep(grace + 100*time.Millisecond)
	if _, err := a.svc.GC(context.Background(), registry.GCOptions{Grace: grace}); err != nil {
		t.Fatal(err)
	}
	err := a.meta.View(context.Background(), func(r meta.Reader) error {
		far := time.Now().Add(time.Hour)
		if ms, err := r.UntaggedManifests(far, "", "", 0); err != nil || len(ms) != 0 {
			t.Errorf("untagged manifests left: %d, %v", len(ms), err)
		}
		if ls, err := r.UnreferencedLinks(far, "", "", 0); err != nil || len(ls) != 0 {
			t.Errorf("unreferenced links left: %d, %v", len(ls), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.svc.Verify(context.Background(), registry.VerifyOptions{DryRun: true})
	if err != nil || len(rep.Orphans) != 0 || len(rep.Missing) != 0 || len(rep.Corrupt) != 0 {
		t.Fatalf("after GC: %d orphans, %d missing, %d corrupt, %v", len(rep.Orphans), len(rep.Missing), len(rep.Corrupt), err)
	}
	for r, d := range kept {
		got, err := remote.Image(mustRef(t, r), asAdmin)
		if err != nil {
			t.Fatalf("%s after the last GC: %v", r, err)
		}
		if gd, _ := got.Digest(); gd != d {
			t.Fatalf("%s is %s, want %s", r, gd, d)
		}
	}
}

// TestGCOneAtATime: a run asked for while another holds the cluster-wide
// lease is refused with 409; afterwards it runs and is in the audit log.
func TestGCOneAtATime(t *testing.T) {
	a, base := startApp(t, nil)
	holding, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = jobs.New(a.meta, nil).Once(context.Background(), gcRunLease, time.Minute, func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/system/gc", "", nil); code != 409 {
		t.Fatalf("GC while another run holds the lease = %d, want 409", code)
	}
	if _, err := a.RunGC(context.Background(), registry.GCOptions{}); !errors.Is(err, jobs.ErrBusy) {
		t.Fatalf("RunGC while another run holds the lease = %v, want ErrBusy", err)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	var rep struct{ Manifests int }
	for apiCall(t, base, "admin", testAdminPassword, "POST", "/system/gc", `{"dry_run":false}`, &rep) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the lease was never released")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := apiCall(t, base, "dev", "x", "POST", "/system/gc", "", nil); code != 401 {
		t.Fatalf("a non-admin = %d", code)
	}
	var page struct {
		Events []struct{ Action, Actor string }
	}
	apiCall(t, base, "admin", testAdminPassword, "GET", "/audit?action=gc.run", "", &page)
	if len(page.Events) != 1 || page.Events[0].Actor != "gc" {
		t.Fatalf("gc.run audit events = %+v", page.Events)
	}
}

// TestGCKeepsWhatAClientWasJustShown: a client that HEADs a blob its
// repository holds may reference it without uploading it, and one that
// HEADs a manifest by digest may list it in an index without pushing it.
// What it asks about restarts GC's grace period; what nobody asks about
// goes.
func TestGCKeepsWhatAClientWasJustShown(t *testing.T) {
	const grace = 2 * time.Second
	a, base := startApp(t, func(cfg *config.Config) { cfg.GC.Grace = grace })
	host := strings.TrimPrefix(base, "http://")
	shown, ignored := randomLayer(t, 1500), randomLayer(t, 1501)
	repo := mustRef(t, host+"/gc/shown:x").Context()
	for _, l := range []v1.Layer{shown, ignored} {
		if err := remote.WriteLayer(repo, l, asAdmin); err != nil {
			t.Fatal(err)
		}
	}
	shownD, _ := shown.Digest()
	ignoredD, _ := ignored.Digest()
	// Two untagged images pushed by digest, as a multi-platform build
	// pushes its children before the index that lists them.
	var manifests []v1.Hash
	for range 2 {
		img := imageWith(t, randomLayer(t, 700))
		d, _ := img.Digest()
		if err := remote.Write(mustRef(t, host+"/gc/children@"+d.String()), img, asAdmin); err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, d)
	}
	time.Sleep(grace + 200*time.Millisecond) // everything is now older than the grace period
	for _, u := range []string{"/v2/gc/shown/blobs/" + shownD.String(), "/v2/gc/children/manifests/" + manifests[0].String()} {
		if code, _, _ := apiStatus(t, "HEAD", base+u); code != 200 {
			t.Fatalf("HEAD %s = %d", u, code)
		}
	}
	rep, err := a.RunGC(context.Background(), registry.GCOptions{Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Manifests != 1 {
		t.Fatalf("GC removed %d manifests, want only the one nobody asked about", rep.Manifests)
	}
	for u, want := range map[string]int{
		"/v2/gc/shown/blobs/" + shownD.String():              200,
		"/v2/gc/shown/blobs/" + ignoredD.String():            404,
		"/v2/gc/children/manifests/" + manifests[0].String(): 200,
		"/v2/gc/children/manifests/" + manifests[1].String(): 404,
	} {
		if code, _, _ := apiStatus(t, "GET", base+u); code != want {
			t.Errorf("GET %s after GC = %d, want %d", u, code, want)
		}
	}
}
