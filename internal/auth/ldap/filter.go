package ldap

import (
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// expandFilter replaces {username} and {dn} in filter by user and dn, each
// escaped as an RFC 4515 filter value, in one pass (a value that itself
// holds "{dn}" is not expanded again).
func expandFilter(filter, user, dn string) string {
	return strings.NewReplacer(
		"{username}", goldap.EscapeFilter(user),
		"{dn}", goldap.EscapeFilter(dn),
	).Replace(filter)
}

// checkFilter checks that filter parses once expanded and holds the
// placeholders it needs: {username} when needUser, {dn} or {username} when
// needEither.
func checkFilter(name, filter string, needUser, needEither bool) error {
	hasUser := strings.Contains(filter, "{username}")
	hasDN := strings.Contains(filter, "{dn}")
	switch {
	case needUser && !hasUser:
		return fmt.Errorf("ldap: the %s %q has no {username}", name, filter)
	case needUser && hasDN:
		return fmt.Errorf("ldap: the %s %q has {dn}, which only the group filter knows", name, filter)
	case needEither && !hasUser && !hasDN:
		return fmt.Errorf("ldap: the %s %q has neither {dn} nor {username}", name, filter)
	}
	if _, err := goldap.CompileFilter(expandFilter(filter, "user", "cn=user,dc=example")); err != nil {
		return fmt.Errorf("ldap: the %s %q does not parse: %w", name, filter, err)
	}
	return nil
}
