package ldap_test

import (
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/ldap"
)

// The guard lives in a test so that the package itself does not import
// internal/auth (which may one day wire the directory in).
var _ auth.PasswordChecker = (*ldap.Directory)(nil)
