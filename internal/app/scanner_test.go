package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan"
)

// fakeAdapter speaks Harbor's Pluggable Scanner API: it pulls the
// manifest it is asked to scan from the registry with the credential it
// was handed, answers "not yet" twice (302 with Refresh-After), then a
// report; a repository named */fails makes the scan fail.
type fakeAdapter struct {
	t      *testing.T
	mu     sync.Mutex
	polls  map[string]int
	pulled map[string]int // manifest GET status per scan id
	users  []string       // who the credentials named
}

func (f *fakeAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v1/metadata":
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.1")
		fmt.Fprint(w, `{"scanner":{"name":"Trivy","vendor":"Aqua Security","version":"0.50.1"},"capabilities":[{"type":"vulnerability",
			"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json","application/vnd.docker.distribution.manifest.v2+json"],
			"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`)
	case r.URL.Path == "/api/v1/scan" && r.Method == http.MethodPost:
		if r.Header.Get("Authorization") != "Bearer adapter-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		var req struct {
			Registry struct{ URL, Authorization string }
			Artifact struct {
				Repository, Digest string
				MimeType           string `json:"mime_type"`
			}
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		// Pull what is scanned, as a scanner does, with the credential handed over.
		preq, _ := http.NewRequest(http.MethodGet, req.Registry.URL+"/v2/"+req.Artifact.Repository+"/manifests/"+req.Artifact.Digest, nil)
		preq.Header.Set("Authorization", req.Registry.Authorization)
		preq.Header.Set("Accept", req.Artifact.MimeType)
		status := 0
		if resp, err := http.DefaultClient.Do(preq); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(req.Registry.Authorization, "Basic "))
		user, _, _ := strings.Cut(string(raw), ":")
		id := req.Artifact.Repository + "@" + req.Artifact.Digest
		f.mu.Lock()
		f.pulled[id], f.users = status, append(f.users, user)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.scan.response+json; version=1.0")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":%q}`, id)
	case strings.HasPrefix(r.URL.Path, "/api/v1/scan/") && strings.HasSuffix(r.URL.Path, "/report"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/scan/"), "/report")
		f.mu.Lock()
		f.polls[id]++
		n := f.polls[id]
		f.mu.Unlock()
		switch {
		case strings.Contains(id, "/fails@"):
			w.Header().Set("Content-Type", "application/vnd.scanner.adapter.error+json; version=1.0")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":{"message":"trivy: database locked"}}`)
		case n <= 2:
			w.Header().Set("Refresh-After", "1")
			w.WriteHeader(http.StatusFound)
		default:
			w.Header().Set("Content-Type", "application/vnd.security.vulnerability.report; version=1.1")
			fmt.Fprint(w, `{"generated_at":"2026-11-22T10:00:00Z","scanner":{"name":"Trivy","vendor":"Aqua Security","version":"0.50.1"},
				"severity":"High","vulnerabilities":[
				{"id":"CVE-2024-0001","package":"openssl","version":"3.0.10-1","fix_version":"3.0.11-1","severity":"High","description":"first line\nmore"},
				{"id":"CVE-2024-0002","package":"zlib","version":"1.2.13","severity":"Negligible"}]}`)
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAdapter) snapshot() (map[string]int, map[string]int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	polls, pulled := map[string]int{}, map[string]int{}
	for k, v := range f.polls {
		polls[k] = v
	}
	for k, v := range f.pulled {
		pulled[k] = v
	}
	return polls, pulled, append([]string(nil), f.users...)
}

// TestExternalScanner: a registered adapter of Harbor's scanner API scans
// the images of a project: berth hands it a short-lived pull credential
// that reads the image even under a require-scan policy and is deleted
// afterwards, waits out its "not yet" answers, stores its findings and
// decides pulls on them; a scan the adapter says failed fails, with its
// message.
func TestExternalScanner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Auth.AdminPassword = testAdminPassword
	cfg.Scan.PollInterval = 100 * time.Millisecond
	cfg.Scan.RegistryURL = "http://" + host
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, a, ln)
	adapter := &fakeAdapter{t: t, polls: map[string]int{}, pulled: map[string]int{}}
	as := httptest.NewServer(adapter)
	defer as.Close()
	ctx := context.Background()

	if _, err := a.scans.PutScanner(ctx, scan.ScannerSpec{Name: "trivy", URL: as.URL, Auth: "bearer", Credential: "wrong"}); err != nil {
		t.Fatal(err)
	}
	if md, err := a.scans.ScannerMetadata(ctx, "trivy"); err != nil || md.Scanner.Name != "Trivy" {
		t.Fatalf("metadata = %+v, %v", md, err)
	}
	if _, err := a.scans.PutScanner(ctx, scan.ScannerSpec{Name: "trivy", URL: as.URL, Auth: "bearer", Credential: "adapter-token", Default: true}); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"prod/app:v1", "prod/fails:v1"} {
		img, _ := random.Image(1024, 1)
		if err := remote.Write(mustRef(t, host+"/"+tag), img, asAdmin); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.scans.SetPolicy(ctx, meta.ScanPolicy{Project: "prod", Block: "high", RequireScan: true}); err != nil {
		t.Fatal(err)
	}
	status := func(repo string) scan.Status {
		st, err := a.scans.Status(ctx, repo, "v1")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, repo := range []string{"prod/app", "prod/fails"} {
		desc, err := remote.Head(mustRef(t, host+"/"+repo+":v1"), asAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.scans.Queue(ctx, repo, digest.Digest(desc.Digest.String()), "manual"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "both external scans finished", func() bool {
		return status("prod/app").State == meta.ScanDone && status("prod/fails").State == meta.ScanFailed
	})
	polls, pulled, users := adapter.snapshot()
	t.Run("the findings are the adapter's", func(t *testing.T) {
		st := status("prod/app")
		if st.Report == nil || st.Report.Scanner != "trivy" || st.Report.Engine != "Trivy 0.50.1" || len(st.Report.Findings) != 2 ||
			st.Report.Findings[0].ID != "CVE-2024-0001" || st.Report.Findings[0].Severity != "HIGH" || st.Report.Findings[0].FixedVersion != "3.0.11-1" ||
			st.Report.Findings[0].Summary != "first line" || st.Report.Findings[1].Severity != "LOW" || st.Summary.High != 1 || st.Summary.Low != 1 {
			t.Fatalf("status %+v report %+v", st, st.Report)
		}
		if n := polls["prod/app@"+st.Digest.String()]; n != 3 {
			t.Errorf("report polled %d times, want 3 (two 302s)", n)
		}
	})
	t.Run("the credential pulled the image under the require-scan policy, and is gone", func(t *testing.T) {
		for id, code := range pulled {
			if code != http.StatusOK {
				t.Errorf("the adapter's pull of %s = %d", id, code)
			}
		}
		if len(users) != 2 || !strings.HasPrefix(users[0], "robot$berth-scanner-") {
			t.Fatalf("credentials named %v", users)
		}
		var robots []struct{ Name string }
		apiCall(t, "http://"+host, "admin", testAdminPassword, "GET", "/robots", "", &robots)
		for _, r := range robots {
			if strings.HasPrefix(r.Name, "robot$berth-scanner-") {
				t.Errorf("scanner robot %s outlived its scan", r.Name)
			}
		}
	})
	t.Run("a failed scan says why", func(t *testing.T) {
		st := status("prod/fails")
		if !strings.Contains(st.Error, "trivy: database locked") || st.Report != nil {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("pulls are decided on the adapter's findings", func(t *testing.T) {
		if _, err := remote.Get(mustRef(t, host+"/prod/app:v1"), asReaderOf(t, host, "prod")); !deniedWith(err, "CVE-2024-0001") {
			t.Fatalf("pull of the scanned image: %v", err)
		}
		if _, err := remote.Get(mustRef(t, host+"/prod/fails:v1"), asReaderOf(t, host, "prod")); !deniedWith(err, "scan failed") {
			t.Fatalf("pull of the image whose scan failed: %v", err)
		}
	})
	t.Run("nobody else may make a scanner robot", func(t *testing.T) {
		code := apiCall(t, "http://"+host, "admin", testAdminPassword, "POST", "/robots",
			`{"name":"berth-scanner-mine","permissions":[{"repositories":"prod/**","actions":["pull"]}]}`, nil)
		if code != http.StatusBadRequest {
			t.Fatalf("POST /robots with the reserved prefix = %d", code)
		}
	})
}

// asReaderOf makes a user who may only pull from project and returns
// go-containerregistry's authentication as that user.
func asReaderOf(t *testing.T, host, project string) remote.Option {
	t.Helper()
	base := "http://" + host
	name := "reader-" + project
	if code := apiCall(t, base, "admin", testAdminPassword, "POST", "/users", `{"name":"`+name+`","password":"reader-pw-1"}`, nil); code != http.StatusCreated && code != http.StatusConflict {
		t.Fatalf("create user = %d", code)
	}
	if code := apiCall(t, base, "admin", testAdminPassword, "PUT", "/projects/"+project+"/members/user/"+name, `{"role":"guest"}`, nil); code != http.StatusOK {
		t.Fatalf("member = %d", code)
	}
	return remote.WithAuth(&authn.Basic{Username: name, Password: "reader-pw-1"})
}

// deniedWith reports whether err is the registry's DENIED saying what.
func deniedWith(err error, what string) bool {
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.DeniedErrorCode && strings.Contains(d.Message, what) {
			return true
		}
	}
	return false
}
