package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestSignaturePolicyCommands(t *testing.T) {
	srv := startCLIServer(t)
	home := t.TempDir()
	run := func(wantCode int, wantOut, wantErr string, args ...string) {
		t.Helper()
		code, out, errOut := adminCLI(t, home, "", args...)
		if code != wantCode || !regexp.MustCompile(wantOut).MatchString(out) || !strings.Contains(errOut, wantErr) {
			t.Fatalf("berth %s = %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if code, out, errOut := adminCLI(t, home, cliAdminPassword+"\n", "login", srv, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login = %d\n%s%s", code, out, errOut)
	}
	admin := remote.WithAuth(&authn.Basic{Username: "admin", Password: cliAdminPassword})
	img, _ := random.Image(1000, 1)
	if err := remote.Write(mustRef(t, srv+"/prod/app:v1"), img, admin); err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	keyFile := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(t.TempDir(), "junk.pub")
	_ = os.WriteFile(junk, []byte("not a key"), 0o600)

	run(1, "", "give --key", "signature-policy", "add", "prod")
	run(1, "", "signature-policy add: invalid", "signature-policy", "add", "prod", "--key", junk)
	run(1, "", "no such file", "signature-policy", "add", "prod", "--key", "/nonexistent.pub")
	run(0, `^Signature policy 1 \(enforce\) governs prod/\*\* \(the whole project\)\n$`, "", "signature-policy", "add", "prod", "--key", keyFile)
	run(0, `^Signature policy 2 \(dry-run\) governs prod/web/\*\*\n$`, "", "signature-policy", "add", "prod", "--key", keyFile, "--repositories", "prod/web/**", "--dry-run")
	run(0, `(?m)^ID\s+GOVERNS\s+MODE\s+KEYS\s+CERTS\s+IDENTITIES\s+VERSION\n1\s+prod/\*\*.*\s+enforce\s+1\s+0\s+0\s+1\n2\s+prod/web/\*\*\s+dry-run\s+1\s+0\s+0\s+1\n$`, "", "signature-policy", "list")
	run(1, `refused by policy 1: no signature found`, "would be refused", "signature-policy", "check", "prod/app:v1")
	run(1, "", "want REPOSITORY:TAG", "signature-policy", "check", "prod/app")
	run(0, `^Signature policy 1 \(dry-run, version 2\)`, "", "signature-policy", "set", "1", "--dry-run")
	run(0, `policy 1 is a dry run; it would refuse: no signature found`, "", "signature-policy", "check", "prod/app:v1")
	run(1, "", "exclude each other", "signature-policy", "set", "1", "--dry-run", "--enforce")
	run(1, "", "nothing to change", "signature-policy", "set", "1")
	run(0, "Removed signature policy 1", "", "signature-policy", "rm", "1")
	run(1, "", "not_found", "signature-policy", "rm", "1")
	run(0, `no signature policy governs prod/app`, "", "signature-policy", "check", "prod/app:v1")
}
