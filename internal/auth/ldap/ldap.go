package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Defaults used for the Options fields left empty (the same as berth's
// configuration defaults).
const (
	DefaultUserFilter     = "(&(objectClass=person)(uid={username}))"
	DefaultGroupFilter    = "(&(objectClass=groupOfNames)(member={dn}))"
	DefaultGroupAttribute = "cn"
	DefaultTimeout        = 10 * time.Second
)

// Options configure a Directory; they mirror berth's auth.ldap settings.
type Options struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection with StartTLS.
	StartTLS bool
	// CAFile is a PEM bundle of the CAs trusted for the server's
	// certificate; empty means the system's roots.
	CAFile string
	// BindDN and BindPassword are the service account that searches;
	// an empty BindDN searches anonymously.
	BindDN       string
	BindPassword string
	// UserBase is where users are searched (whole subtree).
	UserBase string
	// UserFilter finds a user; {username} is the escaped login name.
	UserFilter string
	// GroupBase is where groups are searched; empty means no groups.
	GroupBase string
	// GroupFilter finds a user's groups; {dn} is the user's DN and
	// {username} the login name, both escaped.
	GroupFilter string
	// GroupAttribute names a group ("dn": the group entry's DN).
	GroupAttribute string
	// Timeout bounds each dial, TLS handshake and LDAP operation.
	Timeout time.Duration
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Directory is an LDAP directory berth checks passwords against. It is safe
// for concurrent use.
type Directory struct {
	url         string // as configured, for messages
	addr        string // host:port
	ldaps       bool
	startTLS    bool
	tls         *tls.Config // nil for plain ldap:// without StartTLS
	bindDN      string
	bindPW      string
	userBase    string
	userFilter  string
	groupBase   string
	groupFilter string
	groupAttr   string
	timeout     time.Duration
	log         *slog.Logger
}

// New checks the options and returns a Directory. It does not contact the
// server.
func New(o Options) (*Directory, error) {
	d := &Directory{
		url:         o.URL,
		startTLS:    o.StartTLS,
		bindDN:      o.BindDN,
		bindPW:      o.BindPassword,
		userBase:    o.UserBase,
		userFilter:  cmpOr(o.UserFilter, DefaultUserFilter),
		groupBase:   o.GroupBase,
		groupFilter: cmpOr(o.GroupFilter, DefaultGroupFilter),
		groupAttr:   cmpOr(o.GroupAttribute, DefaultGroupAttribute),
		timeout:     o.Timeout,
		log:         o.Logger,
	}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	if d.timeout < 0 {
		return nil, fmt.Errorf("ldap: timeout %v is negative", o.Timeout)
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	host, err := d.parseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if err := d.setupTLS(host, o.CAFile); err != nil {
		return nil, err
	}
	if o.BindDN == "" && o.BindPassword != "" {
		return nil, errors.New("ldap: a bind password is set but no bind DN")
	}
	if o.BindDN != "" && o.BindPassword == "" {
		// A simple bind with a DN and no password is an anonymous bind.
		return nil, fmt.Errorf("ldap: bind DN %q has no bind password", o.BindDN)
	}
	if strings.TrimSpace(o.UserBase) == "" {
		return nil, errors.New("ldap: the user base (where users are searched) is empty")
	}
	if err := checkFilter("user filter", d.userFilter, true, false); err != nil {
		return nil, err
	}
	if d.groupBase != "" {
		if err := checkFilter("group filter", d.groupFilter, false, true); err != nil {
			return nil, err
		}
		if strings.TrimSpace(d.groupAttr) == "" {
			return nil, errors.New("ldap: the group attribute is empty")
		}
	}
	if d.tls == nil {
		d.log.Warn("ldap: passwords go to the directory unencrypted (ldap:// without StartTLS)", "url", d.url)
	}
	return d, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parseURL sets addr and ldaps from an ldap:// or ldaps:// URL and returns
// its host name.
func (d *Directory) parseURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("ldap: no URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ldap: URL %q: %w", raw, err)
	}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "ldap":
		port = "389"
	case "ldaps":
		port, d.ldaps = "636", true
	default:
		return "", fmt.Errorf("ldap: URL %q: the scheme must be ldap:// or ldaps://", raw)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("ldap: URL %q has no host", raw)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("ldap: URL %q: only scheme://host[:port] is supported (the base DN and filter are separate settings)", raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	d.addr = net.JoinHostPort(u.Hostname(), port)
	if d.ldaps && d.startTLS {
		return "", fmt.Errorf("ldap: URL %q is already TLS (ldaps://); StartTLS is for ldap:// URLs", raw)
	}
	return u.Hostname(), nil
}

// setupTLS builds the TLS configuration for ldaps:// and StartTLS.
func (d *Directory) setupTLS(host, caFile string) error {
	if !d.ldaps && !d.startTLS {
		if caFile != "" {
			return fmt.Errorf("ldap: a CA file (%s) is set but %s uses no TLS (use ldaps:// or StartTLS)", caFile, d.url)
		}
		return nil
	}
	d.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return nil // the system's roots
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("ldap: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("ldap: CA file %s holds no PEM certificate", caFile)
	}
	d.tls.RootCAs = pool
	return nil
}

// Authenticate checks user and password against the directory and returns
// the user's groups. See the package documentation for what ok=false and an
// error mean.
func (d *Directory) Authenticate(ctx context.Context, user, password string) (bool, []string, error) {
	if user == "" || password == "" {
		return false, nil, nil
	}
	if strings.TrimSpace(user) != user {
		// The directory's matching ignores the spaces ("alice " finds
		// alice), which would give one account a second berth name.
		return false, nil, nil
	}
	svc, err := d.dial(ctx)
	if err != nil {
		return false, nil, err
	}
	defer svc.close()
	if d.bindDN != "" {
		if err := svc.l.Bind(d.bindDN, d.bindPW); err != nil {
			if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
				return false, nil, fmt.Errorf("ldap: %s refused the service account %q: wrong bind DN or bind password", d.url, d.bindDN)
			}
			return false, nil, d.fail(ctx, "bind as the service account "+quote(d.bindDN), err)
		}
	}
	dn, found, err := d.findUser(ctx, svc, user)
	if err != nil || !found {
		return false, nil, err
	}
	ok, err := d.checkPassword(ctx, dn, password)
	if err != nil || !ok {
		return false, nil, err
	}
	groups, err := d.groups(ctx, svc, dn, user)
	if err != nil {
		return false, nil, err
	}
	return true, groups, nil
}

// findUser returns the DN of the one entry the user filter finds.
func (d *Directory) findUser(ctx context.Context, c *conn, user string) (string, bool, error) {
	req := goldap.NewSearchRequest(d.userBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, d.timeLimit(), false, expandFilter(d.userFilter, user, ""), []string{"1.1"}, nil)
	res, err := c.l.Search(req)
	if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		return "", false, d.fail(ctx, "search for the user under "+quote(d.userBase), err)
	}
	var n int
	if res != nil {
		n = len(res.Entries)
	}
	switch {
	case n == 1 && err == nil:
		return res.Entries[0].DN, true, nil
	case n == 0 && err == nil:
		return "", false, nil
	default:
		d.log.Warn("ldap: the user filter finds more than one entry for a login name; refusing it",
			"user", user, "user_base", d.userBase, "user_filter", d.userFilter)
		return "", false, nil
	}
}

// checkPassword binds as dn with password on a connection of its own.
func (d *Directory) checkPassword(ctx context.Context, dn, password string) (bool, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return false, err
	}
	defer c.close()
	err = c.l.Bind(dn, password)
	switch {
	case err == nil:
		return true, nil
	case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
		return false, nil
	default:
		return false, d.fail(ctx, "bind as the user "+quote(dn), err)
	}
}

// groups returns the sorted, distinct names of the user's groups.
func (d *Directory) groups(ctx context.Context, c *conn, dn, user string) ([]string, error) {
	if d.groupBase == "" {
		return nil, nil
	}
	byDN := strings.EqualFold(d.groupAttr, "dn")
	attrs := []string{d.groupAttr}
	if byDN {
		attrs = []string{"1.1"}
	}
	req := goldap.NewSearchRequest(d.groupBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, d.timeLimit(), false, expandFilter(d.groupFilter, user, dn), attrs, nil)
	res, err := c.l.Search(req)
	if err != nil {
		return nil, d.fail(ctx, "search for the groups of "+quote(dn)+" under "+quote(d.groupBase), err)
	}
	var names []string
	for _, e := range res.Entries {
		if byDN {
			names = append(names, e.DN)
			continue
		}
		names = append(names, e.GetEqualFoldAttributeValues(d.groupAttr)...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// timeLimit is the server-side time limit of a search, in whole seconds.
func (d *Directory) timeLimit() int {
	return int((d.timeout + time.Second - 1) / time.Second)
}

// fail wraps an error of an LDAP operation, naming ctx's end when that is
// what broke it.
func (d *Directory) fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("ldap: %s at %s: %w (%v)", what, d.url, cerr, err)
	}
	return fmt.Errorf("ldap: %s at %s: %w", what, d.url, err)
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
