package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/htpasswd"
	"github.com/berth-registry/berth/internal/auth/ldap"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/secretbox"
)

// openAccess builds the access control of auth.mode local: the htpasswd
// file, the token service and, on first start, the admin account.
func openAccess(ctx context.Context, cfg config.Config, md meta.Store, box *secretbox.Box, log *slog.Logger) (*auth.Service, error) {
	var external []auth.PasswordChecker
	if p := cfg.Auth.Htpasswd.Path; p != "" {
		f, err := htpasswd.Open(p, htpasswd.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("auth.htpasswd.path: %w", err)
		}
		external = append(external, htpasswdChecker{f})
	}
	if l := cfg.Auth.LDAP; l.URL != "" {
		d, err := ldap.New(ldap.Options{
			URL: l.URL, StartTLS: l.StartTLS, CAFile: l.CAFile, BindDN: l.BindDN, BindPassword: l.BindPassword,
			UserBase: l.UserBase, UserFilter: l.UserFilter, GroupBase: l.GroupBase, GroupFilter: l.GroupFilter,
			GroupAttribute: l.GroupAttribute, Timeout: l.RequestTimeout, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("auth.ldap: %w", err)
		}
		external = append(external, ldapChecker{d})
	}
	svc, err := auth.New(ctx, md, auth.Options{
		Secrets:            box,
		Issuer:             cfg.Auth.Token.Issuer,
		Service:            cfg.Auth.Token.Service,
		TokenTTL:           cfg.Auth.Token.TTL,
		RefreshTTL:         cfg.Auth.Token.RefreshTTL,
		CredentialCacheTTL: cfg.Auth.CredentialCacheTTL,
		AutoCreateProjects: cfg.Projects.AutoCreate,
		External:           external,
		Throttle: auth.Throttle{
			Failures: cfg.Auth.Throttle.Failures, AddressFactor: 5,
			Window: cfg.Auth.Throttle.Window, Lockout: cfg.Auth.Throttle.Lockout,
		},
	})
	if err != nil {
		return nil, err
	}
	if t := cfg.Auth.Token; t.TrustedIssuer != "" {
		keys, err := auth.LoadTrustedKeys(t.TrustedCertificates, t.TrustedJWKS)
		if err != nil {
			return nil, fmt.Errorf("auth.token.trusted_*: %w", err)
		}
		svc.Tokens.SetTrustedIssuer(&auth.TrustedIssuer{Issuer: t.TrustedIssuer, Keys: keys})
	}
	created, generated, err := auth.Bootstrap(ctx, md, cfg.Auth.AdminPassword)
	if err != nil {
		return nil, err
	}
	switch {
	case created && generated != "":
		log.Warn("created the system admin account: this password is shown only once; change it after logging in",
			"user", auth.AdminUser, "password", generated)
	case created:
		log.Info("created the system admin account with the configured password (auth.admin_password, BERTH_ADMIN_PASSWORD)", "user", auth.AdminUser)
	}
	return svc, nil
}

// ldapChecker takes lower-case login names only: directories match names
// without regard to case, and berth's memberships name users exactly, so
// "Alice" must not become a second identity of alice.
type ldapChecker struct{ d *ldap.Directory }

func (l ldapChecker) Authenticate(ctx context.Context, user, password string) (bool, []string, error) {
	if user != strings.ToLower(user) {
		return false, nil, nil
	}
	return l.d.Authenticate(ctx, user, password)
}

// htpasswdChecker adapts an htpasswd file to auth.PasswordChecker.
type htpasswdChecker struct{ f *htpasswd.File }

func (h htpasswdChecker) Authenticate(_ context.Context, user, password string) (bool, []string, error) {
	err := h.f.Authenticate(user, password)
	if errors.Is(err, htpasswd.ErrBadCredentials) {
		return false, nil, nil
	}
	return err == nil, nil, err
}
