package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestScannerCommands(t *testing.T) {
	srv := startCLIServer(t)
	home := t.TempDir()
	loginCLI(t, home, srv, "admin", cliAdminPassword)
	adapter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/metadata" || r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, `{"error":{"message":"who are you"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.1")
		fmt.Fprint(w, `{"scanner":{"name":"Trivy","vendor":"Aqua Security","version":"0.50.1"},"capabilities":[{"type":"vulnerability",
			"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`)
	}))
	defer adapter.Close()
	img, _ := random.Image(100, 1)
	if err := remote.Write(mustRef(t, srv+"/prod/app:v1"), img, remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})); err != nil {
		t.Fatal(err)
	}
	run := func(wantCode int, stdin, wantOut, wantErr string, args ...string) {
		t.Helper()
		code, out, errOut := adminCLI(t, home, stdin, args...)
		if code != wantCode || !strings.Contains(out, wantOut) || !strings.Contains(errOut, wantErr) {
			t.Fatalf("berth %s = %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
	}
	run(1, "", "", "needs the credential on standard input", "scanner", "add", "trivy", adapter.URL, "--auth", "bearer")
	run(1, "", "", "invalid", "scanner", "add", "trivy", "ftp://example.com")
	run(1, "x\n", "", "invalid", "scanner", "add", "trivy", adapter.URL, "--auth", "magic", "--credential-stdin")
	run(0, "wrong\n", "does not answer yet", "", "scanner", "add", "trivy", adapter.URL, "--auth", "bearer", "--credential-stdin")
	run(0, "s3cret\n", "Registered scanner trivy at "+adapter.URL+": Trivy 0.50.1 (Aqua Security)", "", "scanner", "add", "trivy", adapter.URL, "--auth", "bearer", "--credential-stdin", "--default")
	run(0, "", "trivy", "", "scanner", "list")
	run(0, "", "application/vnd.oci.image.manifest.v1+json", "", "scanner", "show", "trivy")
	run(1, "", "", "scanner nope", "scan-policy", "set", "prod", "--scanner", "nope")
	run(0, "", "trivy", "", "scan-policy", "set", "prod", "--scanner", "trivy")
	run(1, "", "", "the scan policy of project prod names scanner trivy", "scanner", "rm", "trivy")
	run(0, "", "", "", "scan-policy", "set", "prod")
	run(0, "", "Removed scanner trivy", "", "scanner", "rm", "trivy")
	run(1, "", "", "not_found", "scanner", "rm", "trivy")
	run(1, "", "", "not_found", "scanner", "show", "trivy")
}
