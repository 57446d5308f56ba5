package config

import (
	"encoding/base64"

	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the whole configuration and returns every problem at once
// (errors.Join), each message starting with the key it is about, in key
// order. Two rules apply to every key of their type: sizes must not be
// negative and durations must be positive.
func (c Config) Validate() error {
	v := validation{}
	if c.Version != CurrentVersion {
		v.bad("version", "must be %d (got %d)", CurrentVersion, c.Version)
	}
	if err := checkHostPort(c.HTTP.Addr); err != nil {
		v.bad("http.addr", "must be host:port, like 0.0.0.0:5000 or :5000 (got %q: %v)", c.HTTP.Addr, err)
	}
	if c.HTTP.DebugAddr != "" {
		if err := checkHostPort(c.HTTP.DebugAddr); err != nil {
			v.bad("http.debug_addr", "must be empty or host:port, like 127.0.0.1:6060 (got %q: %v)", c.HTTP.DebugAddr, err)
		}
	}
	if c.Proxy.Mirror.Addr != "" {
		if err := checkHostPort(c.Proxy.Mirror.Addr); err != nil {
			v.bad("proxy.mirror.addr", "must be empty or host:port, like 0.0.0.0:5001 (got %q: %v)", c.Proxy.Mirror.Addr, err)
		}
		if c.Proxy.Mirror.Project == "" {
			v.bad("proxy.mirror.project", "is required with proxy.mirror.addr: the proxy project the mirror serves")
		}
	}
	switch c.Scan.SBOMFormat {
	case "spdx", "cyclonedx", "none":
	default:
		v.bad("scan.sbom_format", "must be spdx, cyclonedx or none (got %q)", c.Scan.SBOMFormat)
	}
	if c.Proxy.TTL < 0 {
		v.bad("proxy.ttl", "must not be negative (got %s)", c.Proxy.TTL)
	}
	if c.Proxy.Timeout <= 0 {
		v.bad("proxy.timeout", "must be positive (got %s)", c.Proxy.Timeout)
	}
	if c.Metrics.Addr != "" {
		if err := checkHostPort(c.Metrics.Addr); err != nil {
			v.bad("metrics.addr", "must be empty or host:port, like 127.0.0.1:9090 (got %q: %v)", c.Metrics.Addr, err)
		}
	}
	v.oneOf("storage.driver", c.Storage.Driver, "filesystem", "s3")
	if c.Storage.Path == "" {
		v.bad("storage.path", "must not be empty")
	}
	if c.Storage.Driver == "s3" {
		if c.Storage.S3.Bucket == "" {
			v.bad("storage.s3.bucket", "must be set when storage.driver is s3")
		}
		if c.Storage.S3.PartSize < 5<<20 {
			v.bad("storage.s3.part_size", "must be at least 5MiB, S3's minimum part size (got %d)", c.Storage.S3.PartSize)
		}
		if c.Storage.S3.MaxConcurrency <= 0 {
			v.bad("storage.s3.max_concurrency", "must be greater than 0 (got %d)", c.Storage.S3.MaxConcurrency)
		}
	}
	v.oneOf("metadata.driver", c.Metadata.Driver, "sqlite", "postgres")
	if c.Metadata.Driver == "postgres" {
		if c.Metadata.Postgres.DSN == "" {
			v.bad("metadata.postgres.dsn", "must be set when metadata.driver is postgres")
		}
		if c.Metadata.Postgres.MaxConns <= 0 {
			v.bad("metadata.postgres.max_conns", "must be greater than 0 (got %d)", c.Metadata.Postgres.MaxConns)
		}
	}
	if c.Registry.ManifestMaxSize == 0 {
		v.bad("registry.manifest_max_size", "must be greater than 0")
	}
	if c.Registry.ListMaxEntries <= 0 {
		v.bad("registry.list_max_entries", "must be greater than 0 (got %d)", c.Registry.ListMaxEntries)
	}
	if c.HTTP.ExternalURL != "" {
		if u, err := url.Parse(c.HTTP.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			v.bad("http.external_url", "must be an http:// or https:// URL with a host and no query, like https://registry.example.com (got %q)", c.HTTP.ExternalURL)
		}
	}
	if (c.HTTP.TLS.Certificate == "") != (c.HTTP.TLS.Key == "") {
		v.bad("http.tls.certificate", "http.tls.certificate and http.tls.key go together: set both or neither")
	}
	for _, f := range []struct{ key, path string }{{"http.tls.certificate", c.HTTP.TLS.Certificate}, {"http.tls.key", c.HTTP.TLS.Key}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				v.bad(f.key, "cannot read %s: %v", f.path, err)
			}
		}
	}
	for _, l := range []struct {
		key   string
		items []string
	}{{"http.trusted_proxies", c.HTTP.TrustedProxies}, {"http.allow", c.HTTP.Allow}, {"http.push_allow", c.HTTP.PushAllow}} {
		for _, it := range l.items {
			if _, err := ParsePrefix(it); err != nil {
				v.bad(l.key, "%q is not an IP address or CIDR, like 10.0.0.0/8 or 192.0.2.7", it)
			}
		}
	}
	if c.HTTP.RateLimit < 0 {
		v.bad("http.rate_limit", "must not be negative (got %d; 0 means no limit)", c.HTTP.RateLimit)
	}
	if c.HTTP.RateLimit > 0 && c.HTTP.RateBurst <= 0 {
		v.bad("http.rate_burst", "must be greater than 0 when http.rate_limit is set (got %d)", c.HTTP.RateBurst)
	}
	v.oneOf("auth.mode", c.Auth.Mode, "local", "none")
	if c.Auth.Throttle.Failures < 0 {
		v.bad("auth.throttle.failures", "must not be negative (got %d; 0 turns throttling off)", c.Auth.Throttle.Failures)
	}
	if l := c.Auth.LDAP; l.URL != "" {
		u, err := url.Parse(l.URL)
		switch {
		case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
			v.bad("auth.ldap.url", "must be ldap://host[:port] or ldaps://host[:port] (got %q)", l.URL)
		case l.StartTLS && u.Scheme == "ldaps":
			v.bad("auth.ldap.start_tls", "is for ldap:// URLs; ldaps:// is TLS already")
		}
		if l.UserBase == "" {
			v.bad("auth.ldap.user_base", "must be set when auth.ldap.url is")
		}
		if !strings.Contains(l.UserFilter, "{username}") {
			v.bad("auth.ldap.user_filter", "must contain {username} (got %q)", l.UserFilter)
		}
		if l.GroupBase != "" && !strings.Contains(l.GroupFilter, "{dn}") && !strings.Contains(l.GroupFilter, "{username}") {
			v.bad("auth.ldap.group_filter", "must contain {dn} or {username} (got %q)", l.GroupFilter)
		}
		if l.GroupBase != "" && l.GroupAttribute == "" {
			v.bad("auth.ldap.group_attribute", "must be set when auth.ldap.group_base is")
		}
	}
	if c.Auth.Mode == "local" {
		if c.Auth.Token.Issuer == "" {
			v.bad("auth.token.issuer", "must not be empty")
		}
		if t := c.Auth.Token; t.TrustedIssuer != "" && t.TrustedCertificates == "" && t.TrustedJWKS == "" {
			v.bad("auth.token.trusted_issuer", "needs auth.token.trusted_certificates or auth.token.trusted_jwks to verify its tokens")
		}
		if t := c.Auth.Token; t.TrustedIssuer != "" && t.TrustedIssuer == t.Issuer {
			v.bad("auth.token.trusted_issuer", "must differ from auth.token.issuer (%q)", t.Issuer)
		}
		for _, f := range []struct{ key, path string }{{"auth.token.trusted_certificates", c.Auth.Token.TrustedCertificates}, {"auth.token.trusted_jwks", c.Auth.Token.TrustedJWKS}} {
			if f.path != "" {
				if _, err := os.Stat(f.path); err != nil {
					v.bad(f.key, "cannot read %s: %v", f.path, err)
				}
			}
		}
		if r := c.Auth.Token.Realm; r != "" {
			if u, err := url.Parse(r); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.bad("auth.token.realm", "must be an http:// or https:// URL (got %q)", r)
			}
		}
		if c.Auth.Token.Service == "" || strings.ContainsAny(c.Auth.Token.Service, "\"\\") {
			v.bad("auth.token.service", "must be a non-empty name without quotes or backslashes (got %q)", c.Auth.Token.Service)
		}
	}
	if c.Secrets.Key != "" && c.Secrets.KeyFile != "" {
		v.bad("secrets.key", "set secrets.key or secrets.key_file, not both")
	}
	if _, err := c.SecretsKey(); err != nil {
		v.bad("secrets.key", "%v", err)
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
	if c.Health.Threshold < 1 {
		v.bad("health.threshold", "must be at least 1 (got %d)", c.Health.Threshold)
	}

	root := reflect.ValueOf(c)
	for _, f := range mustFields(root.Type()) {
		fv := root.FieldByIndex(f.index)
		switch {
		case f.kind == kindSize && fv.Int() < 0:
			v.bad(f.key, "must not be negative (got %d)", fv.Int())
		case f.kind == kindDuration && fv.Int() <= 0:
			v.bad(f.key, "must be a positive duration, like 30s (got %s)", time.Duration(fv.Int()))
		}
	}
	return v.err()
}

type problem struct {
	key string
	msg string
}

type validation []problem

func (v *validation) bad(key, format string, args ...any) {
	*v = append(*v, problem{key, fmt.Sprintf(format, args...)})
}

func (v *validation) oneOf(key, got string, allowed ...string) {
	if slices.Contains(allowed, got) {
		return
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	if len(allowed) == 1 {
		v.bad(key, "must be %s (got %q)", quoted[0], got)
		return
	}
	v.bad(key, "must be one of %s (got %q)", strings.Join(quoted, ", "), got)
}

// err joins the problems in the order the keys are declared.
func (v validation) err() error {
	order := map[string]int{}
	for i, f := range mustFields(reflect.TypeFor[Config]()) {
		order[f.key] = i
	}
	slices.SortStableFunc(v, func(a, b problem) int { return cmp.Compare(order[a.key], order[b.key]) })
	errs := make([]error, len(v))
	for i, p := range v {
		errs[i] = errors.New(p.key + ": " + p.msg)
	}
	return errors.Join(errs...)
}

// checkHostPort accepts "host:port" and ":port" with a numeric port
// (0 asks the system for a free one).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var aerr *net.AddrError
		if errors.As(err, &aerr) {
			return errors.New(aerr.Err)
		}
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// ParsePrefix reads a CIDR, or a bare IP address as a one-address prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// SecretsKey returns the secrets key (nil when none is configured), read
// from secrets.key or secrets.key_file.
func (c Config) SecretsKey() ([]byte, error) {
	s := c.Secrets.Key
	if c.Secrets.KeyFile != "" {
		b, err := os.ReadFile(c.Secrets.KeyFile)
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return parseSecretsKey(s)
}

// parseSecretsKey reads a key given as base64 (standard or URL, padded or
// not) of 32 bytes.
func parseSecretsKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("must be 32 bytes in base64 (got %d bytes); make one with: head -c 32 /dev/urandom | base64", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("is not base64; make one with: head -c 32 /dev/urandom | base64")
}
