package app

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// TestHtpasswdUsers: users of an htpasswd file log in, get project roles,
// and a rewritten file is picked up without a restart.
func TestHtpasswdUsers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htpasswd")
	write := func(pw string) {
		t.Helper()
		h, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err := os.WriteFile(file+".tmp", []byte("# CI users\nci:"+string(h)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write("first-password")
	a, base := startApp(t, func(cfg *config.Config) {
		cfg.Auth.Htpasswd.Path = file
		cfg.Auth.CredentialCacheTTL = time.Millisecond // see the rewrite at once
		cfg.Auth.Throttle.Failures = 0                 // the polling below fails on purpose
	})
	if err := a.meta.Update(t.Context(), func(tx meta.Tx) error {
		if err := tx.CreateProject(meta.Project{Name: "team"}); err != nil {
			return err
		}
		return tx.PutMember(meta.Member{Project: "team", Kind: meta.MemberUser, Name: "ci", Role: "developer"})
	}); err != nil {
		t.Fatal(err)
	}
	status := func(pw string) int {
		req, _ := http.NewRequest("POST", base+"/v2/team/app/blobs/uploads/", nil)
		req.SetBasicAuth("ci", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("first-password"); got != 202 {
		t.Fatalf("htpasswd developer push = %d, want 202", got)
	}
	if got := status("wrong"); got != 401 {
		t.Fatalf("wrong password = %d, want 401", got)
	}
	write("second-password")
	deadline := time.Now().Add(10 * time.Second)
	for status("second-password") != 202 {
		if time.Now().After(deadline) {
			t.Fatal("the rewritten htpasswd file was not picked up within 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := status("first-password"); got != 401 {
		t.Fatalf("the old password after the rewrite = %d, want 401", got)
	}
}
