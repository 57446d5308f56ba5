// Package ldap checks user names and passwords against an LDAP directory
// (OpenLDAP, Active Directory, 389 Directory Server, ...) and reads the
// groups a user belongs to, for berth's project roles. [Directory] satisfies
// auth.PasswordChecker.
//
// # Search, then bind
//
// Authenticate never builds a DN from the login name. It binds as the
// service account (Options.BindDN, or anonymously when that is empty),
// searches Options.UserBase (whole subtree) with Options.UserFilter, in which
// {username} is replaced by the login name escaped as a filter value (RFC
// 4515: "*", "(", ")", "\", NUL and every non-ASCII byte become \XX), and
// needs exactly one entry: none means an unknown user, two or more a filter
// that is not unique enough (logged as a warning); both answer ok=false. It
// then binds as that entry's DN with the password on a fresh connection.
// An empty password is refused before any bind, since LDAP servers treat a
// simple bind with a DN and no password as an anonymous bind that
// "succeeds" (RFC 4513, section 5.1.2).
//
// # Groups
//
// When Options.GroupBase is set, the service-account connection searches it
// with Options.GroupFilter, in which {dn} is the user's DN and {username}
// the login name, both escaped the same way, and collects the values of
// Options.GroupAttribute ("cn" by default; "dn" collects the groups' DNs) of
// every entry found, sorted and without duplicates. Examples:
//
//	groupOfNames (OpenLDAP):  (&(objectClass=groupOfNames)(member={dn}))
//	posixGroup (RFC 2307):    (&(objectClass=posixGroup)(memberUid={username}))
//	Active Directory, nested: (&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))
//
// For Active Directory the user filter is typically
// (&(objectClass=user)(sAMAccountName={username})).
//
// # Answers and errors
//
// ok=false is the answer for an unknown user, a wrong password, an empty
// password, a login name with leading or trailing white space (which the
// directory's matching would ignore) and an ambiguous user alike (LDAP result 49, invalid credentials,
// on the user's bind). An error is returned only for trouble with the
// directory itself: it cannot be reached, TLS fails (certificate not
// trusted, wrong host name), the service account's bind is refused, a
// search fails (a user base that does not exist, say), an operation times
// out or ctx ends. Error messages never contain a password.
//
// The directory usually matches login names without regard to case (uid
// and sAMAccountName do): "ALICE" logs in as alice, and the caller gets the
// name as typed.
//
// # Connections and TLS
//
// Each Authenticate opens its own connections (one for the service account,
// one for the user's bind) and closes them before it returns; berth caches
// verified credentials, so the directory sees a login at most about once a
// minute per user. ldaps:// speaks TLS from the start; ldap:// with
// Options.StartTLS upgrades the connection before anything else is sent.
// The server's certificate is checked against Options.CAFile (a PEM bundle)
// or the system's roots, and its name against the URL's host. Every step —
// the dial, each TLS handshake, each LDAP operation — is bounded by
// Options.Timeout, and all of them by ctx.
package ldap
