package auth

import (
	"slices"
	"strings"
)

// Actions on a repository, as they appear in Docker token scopes.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
)

// Roles a project member can have, from most to least powerful.
const (
	RoleAdmin        = "admin"
	RoleMaintainer   = "maintainer"
	RoleDeveloper    = "developer"
	RoleGuest        = "guest"
	RoleLimitedGuest = "limited-guest"
)

// Roles lists every role name.
var Roles = []string{RoleAdmin, RoleMaintainer, RoleDeveloper, RoleGuest, RoleLimitedGuest}

// ValidRole reports whether r names a role.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// roleActions is what each role may do to a repository of its project.
var roleActions = map[string][]string{
	RoleAdmin:        {ActionPull, ActionPush, ActionDelete},
	RoleMaintainer:   {ActionPull, ActionPush, ActionDelete},
	RoleDeveloper:    {ActionPull, ActionPush},
	RoleGuest:        {ActionPull},
	RoleLimitedGuest: {ActionPull},
}

// roleRank orders roles so that a user in several groups gets the best.
var roleRank = map[string]int{RoleLimitedGuest: 1, RoleGuest: 2, RoleDeveloper: 3, RoleMaintainer: 4, RoleAdmin: 5}

// Kinds of identity.
const (
	KindAnonymous = ""
	KindUser      = "user"
	KindRobot     = "robot"
)

// Identity is an authenticated caller (or the anonymous one: Kind "").
type Identity struct {
	Kind   string
	Name   string
	Admin  bool     // a system admin
	Groups []string // directory groups (LDAP), mapped to project roles
}

// Anonymous is the identity of a caller without credentials.
var Anonymous = Identity{}

// IsAnonymous reports whether id carries no credentials.
func (id Identity) IsAnonymous() bool { return id.Kind == KindAnonymous }

// RobotPrefix starts every robot account name.
const RobotPrefix = "robot$"

// IsRobotName reports whether name is a robot account's name.
func IsRobotName(name string) bool { return strings.HasPrefix(name, RobotPrefix) }

// RobotName returns the account name of robot name in project ("" for a
// system robot).
func RobotName(project, name string) string {
	if project == "" {
		return RobotPrefix + name
	}
	return RobotPrefix + project + "+" + name
}

// Scope is a request for access in the Docker token format:
// "repository:team/app:pull,push" or "registry:catalog:*".
type Scope struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Scope types.
const (
	ScopeRepository = "repository"
	ScopeRegistry   = "registry"
	// CatalogName is the registry scope's name for listing repositories.
	CatalogName = "catalog"
)

// ParseScope parses "type:name:actions". The name may contain colons
// (a repository with a port-qualified name never reaches a registry, but a
// type like "repository(plugin)" does), so type is up to the first colon
// and actions after the last.
func ParseScope(s string) (Scope, bool) {
	i, j := strings.IndexByte(s, ':'), strings.LastIndexByte(s, ':')
	if i <= 0 || j <= i+1 || j == len(s)-1 {
		return Scope{}, false
	}
	typ := s[:i]
	if k := strings.IndexByte(typ, '('); k > 0 && strings.HasSuffix(typ, ")") {
		typ = typ[:k] // "repository(plugin)" is a repository scope
	}
	var actions []string
	for _, a := range strings.Split(s[j+1:], ",") {
		if a != "" && !slices.Contains(actions, a) {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return Scope{}, false
	}
	return Scope{Type: typ, Name: s[i+1 : j], Actions: actions}, true
}

// String formats the scope as in a WWW-Authenticate challenge.
func (s Scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// covers reports whether the granted scopes allow every action of want.
func covers(granted []Scope, want Scope) bool {
	for _, a := range want.Actions {
		ok := false
		for _, g := range granted {
			if g.Type == want.Type && g.Name == want.Name && (slices.Contains(g.Actions, a) || slices.Contains(g.Actions, "*")) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
