package ldap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewOptions(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Options{URL: "ldap://127.0.0.1:389", UserBase: "ou=people,dc=x", Logger: quiet}
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{"minimal", func(*Options) {}, ""},
		{"ldaps with the system roots", func(o *Options) { o.URL = "ldaps://ldap.example.org" }, ""},
		{"StartTLS", func(o *Options) { o.StartTLS = true }, ""},
		{"service account", func(o *Options) { o.BindDN, o.BindPassword = "cn=svc,dc=x", "pw" }, ""},
		{"trailing slash", func(o *Options) { o.URL = "ldap://h/" }, ""},
		{"no URL", func(o *Options) { o.URL = "" }, "no URL"},
		{"http URL", func(o *Options) { o.URL = "http://h" }, "ldap:// or ldaps://"},
		{"no host", func(o *Options) { o.URL = "ldap://" }, "no host"},
		{"URL with a base DN", func(o *Options) { o.URL = "ldap://h/dc=x" }, "only scheme://host[:port]"},
		{"URL with a filter", func(o *Options) { o.URL = "ldap://h/?uid" }, "only scheme://host[:port]"},
		{"ldaps and StartTLS", func(o *Options) { o.URL, o.StartTLS = "ldaps://h", true }, "already TLS"},
		{"CA file without TLS", func(o *Options) { o.CAFile = notPEM }, "uses no TLS"},
		{"missing CA file", func(o *Options) { o.URL, o.CAFile = "ldaps://h", filepath.Join(dir, "nope.pem") }, "CA file"},
		{"CA file without PEM", func(o *Options) { o.URL, o.CAFile = "ldaps://h", notPEM }, "no PEM certificate"},
		{"bind DN without password", func(o *Options) { o.BindDN = "cn=svc,dc=x" }, "has no bind password"},
		{"password without bind DN", func(o *Options) { o.BindPassword = "pw" }, "no bind DN"},
		{"no user base", func(o *Options) { o.UserBase = " " }, "user base"},
		{"user filter without username", func(o *Options) { o.UserFilter = "(uid=x)" }, "no {username}"},
		{"bad group filter", func(o *Options) { o.GroupBase, o.GroupFilter = "ou=g,dc=x", "(member={dn}" }, "does not parse"},
		{"bad group filter ignored without a group base", func(o *Options) { o.GroupFilter = "(member={dn}" }, ""},
		{"negative timeout", func(o *Options) { o.Timeout = -time.Second }, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			d, err := New(o)
			if tc.wantErr == "" {
				if err != nil || d == nil {
					t.Fatalf("New = %v, %v; want a directory", d, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	d, err := New(Options{URL: "ldaps://ldap.example.org", UserBase: "dc=x"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"addr", d.addr, "ldap.example.org:636"},
		{"user filter", d.userFilter, DefaultUserFilter},
		{"group filter", d.groupFilter, DefaultGroupFilter},
		{"group attribute", d.groupAttr, DefaultGroupAttribute},
		{"TLS server name", d.tls.ServerName, "ldap.example.org"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if d.timeout != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", d.timeout, DefaultTimeout)
	}
	if d.tls.RootCAs != nil {
		t.Errorf("RootCAs set without a CA file; want the system's roots (nil)")
	}
	d, err = New(Options{URL: "ldap://[::1]", UserBase: "dc=x", Timeout: 1500 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if d.addr != "[::1]:389" || d.tls != nil || d.timeLimit() != 2 {
		t.Errorf("addr %q, tls %v, time limit %d; want [::1]:389, no TLS, 2s", d.addr, d.tls, d.timeLimit())
	}
}
