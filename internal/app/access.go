package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/htpasswd"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// openAccess builds the access control of auth.mode local: the htpasswd
// file, the token service and, on first start, the admin account.
func openAccess(ctx context.Context, cfg config.Config, md meta.Store, log *slog.Logger) (*auth.Service, error) {
	var external []auth.PasswordChecker
	if p := cfg.Auth.Htpasswd.Path; p != "" {
		f, err := htpasswd.Open(p, htpasswd.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("auth.htpasswd.path: %w", err)
		}
		external = append(external, htpasswdChecker{f})
	}
	svc, err := auth.New(ctx, md, auth.Options{
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

// htpasswdChecker adapts an htpasswd file to auth.PasswordChecker.
type htpasswdChecker struct{ f *htpasswd.File }

func (h htpasswdChecker) Authenticate(_ context.Context, user, password string) (bool, []string, error) {
	err := h.f.Authenticate(user, password)
	if errors.Is(err, htpasswd.ErrBadCredentials) {
		return false, nil, nil
	}
	return err == nil, nil, err
}
