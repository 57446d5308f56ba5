package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// serveReplicating runs berth with its background loops and a quick
// replication queue (polls every 50ms, retries after 200ms) and returns
// its host:port.
func serveReplicating(t *testing.T) (*App, string) {
	t.Helper()
	return serveReplicatingPoll(t, 50*time.Millisecond)
}

// serveReplicatingPoll is serveReplicating with the queue's poll interval.
func serveReplicatingPoll(t *testing.T, poll time.Duration) (*App, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	cfg.Replication.PollInterval, cfg.Replication.RetryMin, cfg.Replication.RetryMax = poll, 200*time.Millisecond, time.Second
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
	serveOn(t, a, ln)
	return a, ln.Addr().String()
}

// serveOn serves a on ln until the test ends.
func serveOn(t *testing.T, a *App, ln net.Listener) {
	t.Helper()
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
}

type replPolicy struct {
	ID int64 `json:"id"`
}

type replRun struct {
	ID      int64  `json:"id"`
	Trigger string `json:"trigger"`
	State   string `json:"state"`
	Jobs    int    `json:"jobs"`
	Images  int    `json:"images"`
	Bytes   int64  `json:"bytes"`
	JobList []struct {
		Action, Reference, State, Error string
		Attempts                        int
		LagSeconds                      float64 `json:"lag_seconds"`
	} `json:"job_list"`
}

// addPolicy creates a policy on host through the API.
func addPolicy(t *testing.T, host string, body map[string]any) int64 {
	t.Helper()
	b, _ := json.Marshal(body)
	var p replPolicy
	if code := apiCall(t, "http://"+host, "admin", testAdminPassword, "POST", "/replication/policies", string(b), &p); code != http.StatusCreated {
		t.Fatalf("add policy %s = %d", b, code)
	}
	return p.ID
}

func getRun(t *testing.T, host string, id int64) replRun {
	t.Helper()
	var r replRun
	if code := apiCall(t, "http://"+host, "admin", testAdminPassword, "GET", fmt.Sprintf("/replication/runs/%d", id), "", &r); code != http.StatusOK {
		t.Fatalf("run %d = %d", id, code)
	}
	return r
}

func runsOf(t *testing.T, host string, policy int64) []replRun {
	t.Helper()
	var rs []replRun
	if code := apiCall(t, "http://"+host, "admin", testAdminPassword, "GET", fmt.Sprintf("/replication/runs?policy=%d", policy), "", &rs); code != http.StatusOK {
		t.Fatalf("runs = %d", code)
	}
	return rs
}

// waitFor polls cond every 50ms until it holds, for at most limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func digestAt(ref string) (string, bool) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", false
	}
	d, err := remote.Head(r, asAdmin)
	if err != nil {
		return "", false
	}
	return d.Digest.String(), true
}

func TestReplicationEventPush(t *testing.T) {
	_, src := serveReplicating(t)
	dst := newServer(t)
	id := addPolicy(t, src, map[string]any{"name": "to-dst", "direction": "push", "url": "http://" + dst,
		"username": "admin", "password": testAdminPassword, "repositories": "team/**", "tags": "v*",
		"prefix": "mirror", "on_event": true, "deletes": true})
	img, _ := random.Image(4<<10, 2)
	for _, tag := range []string{"v1", "latest"} {
		if err := remote.Write(mustRef(t, src+"/team/app:"+tag), img, asAdmin); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := img.Digest()
	t.Run("the push reaches the destination", func(t *testing.T) {
		waitFor(t, 20*time.Second, "mirror/team/app:v1", func() bool {
			d, ok := digestAt(dst + "/mirror/team/app:v1")
			return ok && d == want.String()
		})
		if _, ok := digestAt(dst + "/mirror/team/app:latest"); ok {
			t.Fatal("latest was copied: the tag filter is v*")
		}
	})
	t.Run("the run is recorded with its lag", func(t *testing.T) {
		var run replRun
		waitFor(t, 10*time.Second, "a finished event run", func() bool {
			rs := runsOf(t, src, id)
			if len(rs) == 0 {
				return false
			}
			run = getRun(t, src, rs[len(rs)-1].ID)
			return run.State == meta.JobSucceeded
		})
		if run.Trigger != meta.TriggerEvent || run.Images != 1 || run.Bytes == 0 || len(run.JobList) != 1 ||
			run.JobList[0].Reference != "v1" || run.JobList[0].LagSeconds <= 0 {
			t.Fatalf("run %+v", run)
		}
	})
	t.Run("a tag delete propagates", func(t *testing.T) {
		if err := remote.Delete(mustRef(t, src+"/team/app@"+want.String()), asAdmin); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "mirror/team/app:v1 deleted", func() bool {
			_, ok := digestAt(dst + "/mirror/team/app:v1")
			return !ok
		})
	})
}

// TestReplicationWakesOnPush: with an hour between polls, a push and a
// manual run still start at once — the committed event wakes the
// scheduler, the started run wakes the workers.
func TestReplicationWakesOnPush(t *testing.T) {
	_, src := serveReplicatingPoll(t, time.Hour)
	dst := newServer(t)
	addPolicy(t, src, map[string]any{"name": "to-dst", "direction": "push", "url": "http://" + dst,
		"username": "admin", "password": testAdminPassword, "repositories": "team/**", "on_event": true})
	img, _ := random.Image(4<<10, 2)
	want, _ := img.Digest()
	t.Run("event", func(t *testing.T) {
		if err := remote.Write(mustRef(t, src+"/team/app:v1"), img, asAdmin); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "team/app:v1 at the destination", func() bool {
			d, ok := digestAt(dst + "/team/app:v1")
			return ok && d == want.String()
		})
	})
	t.Run("manual", func(t *testing.T) {
		// A policy with neither schedule nor event trigger: only the
		// manual run copies its image.
		manual := addPolicy(t, src, map[string]any{"name": "by-hand", "direction": "push", "url": "http://" + dst,
			"username": "admin", "password": testAdminPassword, "repositories": "solo/**"})
		other, _ := random.Image(4<<10, 1)
		if err := remote.Write(mustRef(t, src+"/solo/app:v1"), other, asAdmin); err != nil {
			t.Fatal(err)
		}
		wantOther, _ := other.Digest()
		if code := apiCall(t, "http://"+src, "admin", testAdminPassword, "POST", fmt.Sprintf("/replication/policies/%d/run", manual), "", nil); code != http.StatusAccepted {
			t.Fatalf("POST run = %d", code)
		}
		waitFor(t, 20*time.Second, "solo/app:v1 at the destination", func() bool {
			d, ok := digestAt(dst + "/solo/app:v1")
			return ok && d == wantOther.String()
		})
	})
}

func TestReplicationManualSignedIndex(t *testing.T) {
	_, src := serveReplicating(t)
	dst := newServer(t)
	idx, sbom, sig := signedIndex(t, src+"/team/app", "v1")
	id := addPolicy(t, src, map[string]any{"name": "copy-all", "direction": "push", "url": dst,
		"username": "admin", "password": testAdminPassword, "repositories": "team/*", "prefix": "copy", "concurrency": 2})
	var run replRun
	if code := apiCall(t, "http://"+src, "admin", testAdminPassword, "POST", fmt.Sprintf("/replication/policies/%d/run", id), "", &run); code != http.StatusAccepted {
		t.Fatalf("run = %d", code)
	}
	waitFor(t, 30*time.Second, "the manual run", func() bool {
		run = getRun(t, src, run.ID)
		return run.State != meta.JobRunning
	})
	// An expand job, then one copy: the signature tag travels with its
	// subject instead of being a job of its own.
	if run.State != meta.JobSucceeded || run.Trigger != meta.TriggerManual || len(run.JobList) != 2 || run.Images != 1 {
		t.Fatalf("run %+v", run)
	}
	d, _ := idx.Digest()
	if got, _ := digestAt(dst + "/copy/team/app:v1"); got != d.String() {
		t.Fatalf("index digest at the destination = %q, want %s", got, d)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		if _, err := remote.Image(mustRef(t, dst+"/copy/team/app@"+m.Digest.String()), asAdmin); err != nil {
			t.Fatalf("platform %s: %v", m.Platform, err)
		}
	}
	sd, _ := sbom.Digest()
	refs, err := remote.Referrers(mustRef(t, dst+"/copy/team/app@"+d.String()).(name.Digest), asAdmin)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := refs.IndexManifest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != sd {
		t.Fatalf("referrers = %+v", rm.Manifests)
	}
	sigd, _ := sig.Digest()
	if got, _ := digestAt(dst + "/copy/team/app:" + strings.Replace(d.String(), ":", "-", 1) + ".sig"); got != sigd.String() {
		t.Fatalf("signature tag = %q", got)
	}
	t.Run("a disabled policy does not run", func(t *testing.T) {
		if code := apiCall(t, "http://"+src, "admin", testAdminPassword, "PATCH", fmt.Sprintf("/replication/policies/%d", id), `{"enabled":false}`, nil); code != http.StatusOK {
			t.Fatalf("disable = %d", code)
		}
		if code := apiCall(t, "http://"+src, "admin", testAdminPassword, "POST", fmt.Sprintf("/replication/policies/%d/run", id), "", nil); code != http.StatusBadRequest {
			t.Fatalf("run of a disabled policy = %d", code)
		}
	})
}

func TestReplicationScheduledPull(t *testing.T) {
	remoteHost := newServer(t)
	_, local := serveReplicating(t)
	img, _ := random.Image(4<<10, 1)
	if err := remote.Write(mustRef(t, remoteHost+"/upstream/tool:v2"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	id := addPolicy(t, local, map[string]any{"name": "pull-tools", "direction": "pull", "url": "http://" + remoteHost,
		"username": "admin", "password": testAdminPassword, "repositories": "upstream/*", "schedule": "*/1 * * * * *"})
	want, _ := img.Digest()
	waitFor(t, 20*time.Second, "upstream/tool:v2 pulled", func() bool {
		d, ok := digestAt(local + "/upstream/tool:v2")
		return ok && d == want.String()
	})
	rs := runsOf(t, local, id)
	if len(rs) == 0 || rs[len(rs)-1].Trigger != meta.TriggerCron {
		t.Fatalf("runs %+v", rs)
	}
}

func TestReplicationRetriesUntilDestinationIsUp(t *testing.T) {
	_, src := serveReplicating(t)
	// An address where nothing listens yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dst := ln.Addr().String()
	ln.Close()
	id := addPolicy(t, src, map[string]any{"name": "later", "direction": "push", "url": "http://" + dst,
		"username": "admin", "password": testAdminPassword, "repositories": "team/app", "on_event": true})
	img, _ := random.Image(4<<10, 1)
	if err := remote.Write(mustRef(t, src+"/team/app:v1"), img, asAdmin); err != nil {
		t.Fatal(err)
	}
	var run replRun
	waitFor(t, 20*time.Second, "a failed attempt", func() bool {
		rs := runsOf(t, src, id)
		if len(rs) == 0 {
			return false
		}
		run = getRun(t, src, rs[0].ID)
		return len(run.JobList) == 1 && run.JobList[0].Attempts >= 1 && run.JobList[0].Error != ""
	})
	if run.JobList[0].State != meta.JobQueued {
		t.Fatalf("job after a failed attempt: %+v", run.JobList[0])
	}
	// The destination comes up on that address.
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if ln, err = net.Listen("tcp", dst); err != nil {
		t.Skipf("the address was taken meanwhile: %v", err)
	}
	serveOn(t, b, ln)
	want, _ := img.Digest()
	waitFor(t, 20*time.Second, "the copy after the retries", func() bool {
		d, ok := digestAt(dst + "/team/app:v1")
		return ok && d == want.String()
	})
	waitFor(t, 5*time.Second, "the run succeeded", func() bool {
		run = getRun(t, src, run.ID)
		return run.State == meta.JobSucceeded
	})
	if run.JobList[0].Attempts < 2 {
		t.Fatalf("job %+v", run.JobList[0])
	}
}
