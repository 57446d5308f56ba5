package ldap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests below run against a real slapd, as scripts/lib/slapd.sh's
// start_slapd sets it up and describes it in its environment variables.

// testDirectory is what start_slapd exported.
type testDirectory struct {
	url, ldapsURL, ca, bindDN, bindPW, base string
}

func needSlapd(t *testing.T) testDirectory {
	t.Helper()
	env := testDirectory{
		url:      os.Getenv("BERTH_TEST_LDAP_URL"),
		ldapsURL: os.Getenv("BERTH_TEST_LDAPS_URL"),
		ca:       os.Getenv("BERTH_TEST_LDAP_CA"),
		bindDN:   os.Getenv("BERTH_TEST_LDAP_BIND_DN"),
		bindPW:   os.Getenv("BERTH_TEST_LDAP_BIND_PASSWORD"),
		base:     os.Getenv("BERTH_TEST_LDAP_BASE"),
	}
	if env.url == "" {
		msg := "BERTH_TEST_LDAP_URL is not set: no slapd to test against (source scripts/lib/{common,deps,slapd}.sh and run start_slapd)"
		if os.Getenv("BERTH_TEST_REQUIRE_LDAP") == "1" {
			t.Fatal(msg + ", and BERTH_TEST_REQUIRE_LDAP=1")
		}
		t.Skip(msg)
	}
	for name, v := range map[string]string{"BERTH_TEST_LDAPS_URL": env.ldapsURL, "BERTH_TEST_LDAP_CA": env.ca,
		"BERTH_TEST_LDAP_BIND_DN": env.bindDN, "BERTH_TEST_LDAP_BIND_PASSWORD": env.bindPW, "BERTH_TEST_LDAP_BASE": env.base} {
		if v == "" {
			t.Fatalf("BERTH_TEST_LDAP_URL is set but %s is not", name)
		}
	}
	return env
}

// options are the settings most tests use: the service account, plain
// ldap://, users anywhere below the base, groupOfNames groups.
func (e testDirectory) options() Options {
	return Options{
		URL:          e.url,
		BindDN:       e.bindDN,
		BindPassword: e.bindPW,
		UserBase:     e.base,
		GroupBase:    "ou=groups," + e.base,
		Timeout:      5 * time.Second,
		Logger:       quiet,
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSlapdLogin(t *testing.T) {
	env := needSlapd(t)
	var logs syncBuffer
	o := env.options()
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, password string
		wantOK               bool
		wantGroups           []string
	}{
		{"alice", "alice", "alice-pw", true, []string{"devs"}},
		{"bob, in no group", "bob", "bob-pw", true, nil},
		{"carol, in two groups", "carol", "carol-pw", true, []string{"devs", "ops"}},
		{"eve, a DN with parentheses", "eve", "eve-pw", true, []string{"qa"}},
		{"non-ASCII login name", "zoë", "zoë-pw", true, []string{"devs"}},
		{"wrong password", "alice", "bob-pw", false, nil},
		{"password of another user", "bob", "alice-pw", false, nil},
		{"empty password", "alice", "", false, nil},
		{"unknown user", "mallory", "alice-pw", false, nil},
		{"injection matching everyone", "*)(uid=*", "alice-pw", false, nil},
		{"injection matching alice", "*)(uid=alice", "alice-pw", false, nil},
		{"wildcard matching alice", "alic*", "alice-pw", false, nil},
		{"lone wildcard", "*", "alice-pw", false, nil},
		{"uid on two entries", "twin", "twin-pw", false, nil},
		{"trailing space", "alice ", "alice-pw", false, nil},
		{"leading space", " alice", "alice-pw", false, nil},
		// The directory's uid matching ignores case: berth gets the name as typed.
		{"other case", "ALICE", "alice-pw", true, []string{"devs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, groups, err := d.Authenticate(context.Background(), tc.user, tc.password)
			if err != nil {
				t.Fatalf("Authenticate(%q) error: %v", tc.user, err)
			}
			if ok != tc.wantOK || !slices.Equal(groups, tc.wantGroups) {
				t.Fatalf("Authenticate(%q) = %v, %q; want %v, %q", tc.user, ok, groups, tc.wantOK, tc.wantGroups)
			}
		})
	}
	if !strings.Contains(logs.String(), "more than one entry") || !strings.Contains(logs.String(), "user=twin") {
		t.Errorf("no warning about the ambiguous login name twin; log:\n%s", logs.String())
	}
}

// writeOtherCA writes a CA certificate that signed nothing slapd has.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "berth test LDAP CA"}, // the same name as the real one
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSlapdOptions(t *testing.T) {
	env := needSlapd(t)
	otherCA := writeOtherCA(t)
	tests := []struct {
		name       string
		edit       func(*Options)
		user, pw   string
		wantOK     bool
		wantGroups []string
		wantErr    string
	}{
		{"anonymous search", func(o *Options) { o.BindDN, o.BindPassword = "", "" },
			"alice", "alice-pw", true, []string{"devs"}, ""},
		{"users under ou=people only", func(o *Options) { o.UserBase = "ou=people," + env.base },
			"carol", "carol-pw", true, []string{"devs", "ops"}, ""},
		{"no group base", func(o *Options) { o.GroupBase = "" },
			"carol", "carol-pw", true, nil, ""},
		{"groups by DN", func(o *Options) { o.GroupAttribute = "dn" },
			"alice", "alice-pw", true, []string{"cn=devs,ou=groups," + env.base}, ""},
		{"posixGroup by {username}", func(o *Options) { o.GroupFilter = "(&(objectClass=posixGroup)(memberUid={username}))" },
			"bob", "bob-pw", true, []string{"builders"}, ""},
		{"both kinds of group", func(o *Options) {
			o.GroupFilter = "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=posixGroup)(memberUid={username})))"
		}, "carol", "carol-pw", true, []string{"builders", "devs", "ops"}, ""},
		{"StartTLS with the CA", func(o *Options) { o.StartTLS, o.CAFile = true, env.ca },
			"alice", "alice-pw", true, []string{"devs"}, ""},
		{"StartTLS, wrong password", func(o *Options) { o.StartTLS, o.CAFile = true, env.ca },
			"alice", "nope", false, nil, ""},
		{"ldaps with the CA", func(o *Options) { o.URL, o.CAFile = env.ldapsURL, env.ca },
			"carol", "carol-pw", true, []string{"devs", "ops"}, ""},
		{"ldaps by host name", func(o *Options) {
			o.URL, o.CAFile = strings.Replace(env.ldapsURL, "127.0.0.1", "localhost", 1), env.ca
		}, "alice", "alice-pw", true, []string{"devs"}, ""},
		{"ldaps, unknown user", func(o *Options) { o.URL, o.CAFile = env.ldapsURL, env.ca },
			"mallory", "x", false, nil, ""},
		{"wrong service password", func(o *Options) { o.BindPassword = "not-" + env.bindPW },
			"alice", "alice-pw", false, nil, "refused the service account"},
		{"unknown service account", func(o *Options) { o.BindDN = "cn=nobody,ou=services," + env.base },
			"alice", "alice-pw", false, nil, "refused the service account"},
		{"user base that does not exist", func(o *Options) { o.UserBase = "ou=nowhere," + env.base },
			"alice", "alice-pw", false, nil, "No Such Object"},
		{"group base that does not exist", func(o *Options) { o.GroupBase = "ou=nowhere," + env.base },
			"alice", "alice-pw", false, nil, "No Such Object"},
		{"ldaps with a wrong CA", func(o *Options) { o.URL, o.CAFile = env.ldapsURL, otherCA },
			"alice", "alice-pw", false, nil, "certificate"},
		{"ldaps with the system roots", func(o *Options) { o.URL = env.ldapsURL },
			"alice", "alice-pw", false, nil, "certificate"},
		{"StartTLS with a wrong CA", func(o *Options) { o.StartTLS, o.CAFile = true, otherCA },
			"alice", "alice-pw", false, nil, "certificate"},
		{"ldap:// to the ldaps port", func(o *Options) { o.URL = strings.Replace(env.ldapsURL, "ldaps://", "ldap://", 1) },
			"alice", "alice-pw", false, nil, "service account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := env.options()
			tc.edit(&o)
			d, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			ok, groups, err := d.Authenticate(context.Background(), tc.user, tc.pw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Authenticate = %v, %q, %v; want an error containing %q", ok, groups, err, tc.wantErr)
				}
				if ok || groups != nil {
					t.Fatalf("Authenticate = %v, %q with an error; want false, nil", ok, groups)
				}
				if strings.Contains(err.Error(), tc.pw) || strings.Contains(err.Error(), env.bindPW) {
					t.Fatalf("error %q shows a password", err)
				}
				if took := time.Since(start); took > 3*time.Second {
					t.Fatalf("took %v", took)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Authenticate(%q) error: %v", tc.user, err)
			}
			if ok != tc.wantOK || !slices.Equal(groups, tc.wantGroups) {
				t.Fatalf("Authenticate(%q) = %v, %q; want %v, %q", tc.user, ok, groups, tc.wantOK, tc.wantGroups)
			}
		})
	}
}

func TestSlapdConcurrent(t *testing.T) {
	env := needSlapd(t)
	o := env.options()
	o.StartTLS, o.CAFile = true, env.ca
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			user, pw, want := "carol", "carol-pw", true
			if i%2 == 1 {
				pw, want = "wrong", false
			}
			ok, groups, err := d.Authenticate(context.Background(), user, pw)
			if err != nil || ok != want || (want && !slices.Equal(groups, []string{"devs", "ops"})) {
				errs <- fmt.Errorf("login %d: %v, %q, %v; want %v", i, ok, groups, err, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
