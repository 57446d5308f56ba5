package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string // one substring per expected error, in order; nil = valid
	}{
		{name: "default is valid", edit: func(*Config) {}},
		{name: "port only", edit: func(c *Config) { c.HTTP.Addr = ":5000" }},
		{name: "ipv6 and port 0", edit: func(c *Config) { c.HTTP.Addr = "[::1]:0" }},
		{name: "no size limit", edit: func(c *Config) { c.Storage.MaxBlobSize = 0 }},
		{
			name: "health check settings",
			edit: func(c *Config) { c.Health.Threshold = 0; c.Health.Interval = 0 },
			want: []string{"health.interval: must be a positive duration", "health.threshold: must be at least 1"},
		},
		{name: "a secrets key", edit: func(c *Config) { c.Secrets.Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }},
		{
			name: "bad secrets keys",
			edit: func(c *Config) { c.Secrets.Key = "c2hvcnQ="; c.Secrets.KeyFile = "/nonexistent" },
			want: []string{"secrets.key: set secrets.key or secrets.key_file, not both", "secrets.key: open /nonexistent"},
		},
		{
			name: "a secrets key that is not base64",
			edit: func(c *Config) { c.Secrets.Key = "not base64!" },
			want: []string{"secrets.key: is not base64"},
		},
		{name: "networks and proxies", edit: func(c *Config) {
			c.HTTP.TrustedProxies = []string{"10.0.0.1", "fd00::/8"}
			c.HTTP.Allow = []string{"192.0.2.0/24"}
			c.HTTP.PushAllow = []string{"192.0.2.7"}
		}},
		{name: "ldap with groups", edit: func(c *Config) {
			c.Auth.LDAP.URL = "ldap://127.0.0.1:389"
			c.Auth.LDAP.StartTLS = true
			c.Auth.LDAP.UserBase = "ou=people,dc=example,dc=org"
			c.Auth.LDAP.GroupBase = "ou=groups,dc=example,dc=org"
		}},
		{
			name: "access settings",
			edit: func(c *Config) {
				c.HTTP.ExternalURL = "registry.example.com"
				c.HTTP.TLS.Certificate = "/nonexistent/tls.crt"
				c.HTTP.TrustedProxies = []string{"10.0.0.0/33"}
				c.HTTP.PushAllow = []string{"office"}
				c.Auth.Mode = "open"
				c.Auth.LDAP.URL = "ldaps://dir.example.org"
				c.Auth.LDAP.StartTLS = true
				c.Auth.LDAP.UserFilter = "(uid=%s)"
			},
			want: []string{
				`http.external_url: must be an http:// or https:// URL`,
				`http.trusted_proxies: "10.0.0.0/33" is not an IP address or CIDR`,
				`http.push_allow: "office" is not an IP address or CIDR`,
				`http.tls.certificate: http.tls.certificate and http.tls.key go together`,
				`http.tls.certificate: cannot read /nonexistent/tls.crt`,
				`auth.mode: must be one of "local", "none" (got "open")`,
				`auth.ldap.start_tls: is for ldap:// URLs`,
				`auth.ldap.user_base: must be set when auth.ldap.url is`,
				`auth.ldap.user_filter: must contain {username}`,
			},
		},
		{
			name: "version",
			edit: func(c *Config) { c.Version = 2 },
			want: []string{"version: must be 1 (got 2)"},
		},
		{
			name: "addr without port",
			edit: func(c *Config) { c.HTTP.Addr = "localhost" },
			want: []string{`http.addr: must be host:port, like 0.0.0.0:5000 or :5000 (got "localhost": missing port in address)`},
		},
		{
			name: "metrics addr without port",
			edit: func(c *Config) { c.Metrics.Addr = "127.0.0.1" },
			want: []string{`metrics.addr: must be empty or host:port, like 127.0.0.1:9090 (got "127.0.0.1": missing port in address)`},
		},
		{
			name: "addr with bad port",
			edit: func(c *Config) { c.HTTP.Addr = "localhost:http" },
			want: []string{`http.addr: must be host:port`},
		},
		{
			name: "addr port out of range",
			edit: func(c *Config) { c.HTTP.Addr = ":70000" },
			want: []string{`not a number from 0 to 65535`},
		},
		{
			name: "manifest size zero",
			edit: func(c *Config) { c.Registry.ManifestMaxSize = 0 },
			want: []string{"registry.manifest_max_size: must be greater than 0"},
		},
		{
			name: "manifest size negative is reported once",
			edit: func(c *Config) { c.Registry.ManifestMaxSize = -1 },
			want: []string{"registry.manifest_max_size: must not be negative (got -1)"},
		},
		{
			name: "s3 driver needs a bucket and a valid part size",
			edit: func(c *Config) {
				c.Storage.Driver = "s3"
				c.Storage.S3.PartSize = 1 << 20
			},
			want: []string{
				"storage.s3.bucket: must be set when storage.driver is s3",
				"storage.s3.part_size: must be at least 5MiB",
			},
		},
		{
			name: "postgres driver needs a DSN",
			edit: func(c *Config) { c.Metadata.Driver = "postgres" },
			want: []string{"metadata.postgres.dsn: must be set when metadata.driver is postgres"},
		},
		{
			name: "s3 and postgres fully set are valid",
			edit: func(c *Config) {
				c.Storage.Driver = "s3"
				c.Storage.S3.Bucket = "berth"
				c.Metadata.Driver = "postgres"
				c.Metadata.Postgres.DSN = "postgres://127.0.0.1/berth"
			},
		},
		{
			name: "every problem at once, in key order",
			edit: func(c *Config) {
				c.Log.Format = "xml"
				c.HTTP.Addr = "nope"
				c.HTTP.ShutdownTimeout = 0
				c.Storage.Driver = "gcs"
				c.Storage.Path = ""
				c.Storage.MaxBlobSize = -1
				c.Storage.UploadPurgeInterval = -5
				c.Metadata.Driver = "mysql"
				c.Registry.ListMaxEntries = 0
				c.Log.Level = "verbose"
			},
			want: []string{
				"http.addr: must be host:port",
				"http.shutdown_timeout: must be a positive duration, like 30s (got 0s)",
				`storage.driver: must be one of "filesystem", "s3" (got "gcs")`,
				"storage.path: must not be empty",
				"storage.max_blob_size: must not be negative (got -1)",
				"storage.upload_purge_interval: must be a positive duration",
				`metadata.driver: must be one of "sqlite", "postgres" (got "mysql")`,
				"registry.list_max_entries: must be greater than 0 (got 0)",
				`log.level: must be one of "debug", "info", "warn", "error" (got "verbose")`,
				`log.format: must be one of "text", "json" (got "xml")`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			got := flatten(err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}
