package app

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// TestLDAPLogin runs against the slapd of scripts/lib/slapd.sh: alice is
// in group devs, bob in none; devs are developers of project devproj.
func TestLDAPLogin(t *testing.T) {
	url := os.Getenv("BERTH_TEST_LDAP_URL")
	if url == "" {
		if os.Getenv("BERTH_TEST_REQUIRE_LDAP") == "1" {
			t.Fatal("BERTH_TEST_LDAP_URL is not set (start_slapd in scripts/lib/slapd.sh)")
		}
		t.Skip("no directory: set BERTH_TEST_LDAP_URL (scripts/lib/slapd.sh start_slapd)")
	}
	base := os.Getenv("BERTH_TEST_LDAP_BASE")
	a, srvURL := startApp(t, func(cfg *config.Config) {
		cfg.Auth.LDAP.URL = url
		cfg.Auth.LDAP.StartTLS = true
		cfg.Auth.LDAP.CAFile = os.Getenv("BERTH_TEST_LDAP_CA")
		cfg.Auth.LDAP.BindDN = os.Getenv("BERTH_TEST_LDAP_BIND_DN")
		cfg.Auth.LDAP.BindPassword = os.Getenv("BERTH_TEST_LDAP_BIND_PASSWORD")
		cfg.Auth.LDAP.UserBase = base
		cfg.Auth.LDAP.GroupBase = base
	})
	host := strings.TrimPrefix(srvURL, "http://")
	if err := a.meta.Update(t.Context(), func(tx meta.Tx) error {
		if err := tx.CreateProject(meta.Project{Name: "devproj"}); err != nil {
			return err
		}
		return tx.PutMember(meta.Member{Project: "devproj", Kind: meta.MemberGroup, Name: "devs", Role: "developer"})
	}); err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(512, 1)
	for _, tc := range []struct {
		name, user, pw string
		ok             bool
	}{
		{"a member of devs pushes", "alice", "alice-pw", true},
		{"a user in no group may not", "bob", "bob-pw", false},
		{"a wrong password", "alice", "nope", false},
		{"another spelling of the name is refused", "ALICE", "alice-pw", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := remote.Write(mustRef(t, host+"/devproj/app:"+tc.user), img, remote.WithAuth(&authn.Basic{Username: tc.user, Password: tc.pw}))
			if (err == nil) != tc.ok {
				t.Fatalf("push = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
