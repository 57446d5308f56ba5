package auth

import (
	"strings"
	"testing"
	"time"
)

func TestCheckProxy(t *testing.T) {
	for _, c := range []struct {
		name    string
		spec    ProxySpec
		wantErr string
	}{
		{"https upstream", ProxySpec{URL: "https://registry-1.docker.io"}, ""},
		{"http with port and slash", ProxySpec{URL: "http://127.0.0.1:5000/", Username: "u", Password: "p", TTL: time.Minute}, ""},
		{"ftp", ProxySpec{URL: "ftp://example.com"}, "scheme must be http or https"},
		{"a path", ProxySpec{URL: "https://example.com/v2"}, "want scheme://host[:port] only"},
		{"credentials in the URL", ProxySpec{URL: "https://me:pw@example.com"}, "want scheme://host[:port] only"},
		{"no host", ProxySpec{URL: "https://"}, "want scheme://host[:port] only"},
		{"negative TTL", ProxySpec{URL: "https://example.com", TTL: -time.Second}, "negative"},
		{"password without user", ProxySpec{URL: "https://example.com", Password: "p"}, "needs a username"},
		{"CA not PEM", ProxySpec{URL: "https://example.com", CACert: "hello"}, "no PEM certificate"},
		{"CA PEM but not a certificate", ProxySpec{URL: "https://example.com", CACert: "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"}, "ca_cert"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Project = "hub"
			err := checkProxy(c.spec)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("checkProxy = %v, want %q", err, c.wantErr)
			}
		})
	}
}
