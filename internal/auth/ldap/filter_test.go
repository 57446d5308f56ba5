package ldap

import (
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestExpandFilter(t *testing.T) {
	tests := []struct {
		name, filter, user, dn, want string
	}{
		{"plain", DefaultUserFilter, "alice", "",
			"(&(objectClass=person)(uid=alice))"},
		{"injection stays a value", DefaultUserFilter, "*)(uid=*", "",
			`(&(objectClass=person)(uid=\2a\29\28uid=\2a))`},
		{"wildcard", DefaultUserFilter, "alic*", "",
			`(&(objectClass=person)(uid=alic\2a))`},
		{"backslash and NUL", "(uid={username})", "a\\b\x00c", "",
			`(uid=a\5cb\00c)`},
		{"non-ASCII bytes", "(uid={username})", "zoë", "",
			`(uid=zo\c3\ab)`},
		{"dn with parentheses", DefaultGroupFilter, "eve", "cn=Eve (QA),ou=people,dc=x",
			`(&(objectClass=groupOfNames)(member=cn=Eve \28QA\29,ou=people,dc=x))`},
		{"both placeholders, twice", "(|(member={dn})(memberUid={username})(owner={dn}))", "b*b", "uid=b*b,dc=x",
			`(|(member=uid=b\2ab,dc=x)(memberUid=b\2ab)(owner=uid=b\2ab,dc=x))`},
		{"placeholder text in a value is not expanded again", "(&(uid={username})(member={dn}))", "{dn}", "cn=x",
			`(&(uid={dn})(member=cn=x))`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := expandFilter(tc.filter, tc.user, tc.dn)
			if got != tc.want {
				t.Fatalf("expandFilter(%q, %q, %q) = %q, want %q", tc.filter, tc.user, tc.dn, got, tc.want)
			}
			// Whatever the login name, the result is one well-formed filter.
			if _, err := goldap.CompileFilter(got); err != nil {
				t.Fatalf("expanded filter %q does not parse: %v", got, err)
			}
		})
	}
}

// FuzzExpandFilter: no login name can change the shape of the filter.
func FuzzExpandFilter(f *testing.F) {
	for _, s := range []string{"alice", "*)(uid=*", "a\\b", "\x00", "zoë", "{dn}", ")(", "*"} {
		f.Add(s)
	}
	want, err := goldap.CompileFilter(expandFilter(DefaultUserFilter, "x", ""))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, user string) {
		got, err := goldap.CompileFilter(expandFilter(DefaultUserFilter, user, ""))
		if err != nil {
			t.Fatalf("login name %q: filter does not parse: %v", user, err)
		}
		if len(got.Children) != len(want.Children) || got.Tag != want.Tag {
			t.Fatalf("login name %q changed the filter's shape", user)
		}
		// The equality assertion's value decodes back to the login name.
		value := got.Children[1].Children[1].Data.String()
		if value != user {
			t.Fatalf("login name %q: filter value is %q", user, value)
		}
	})
}

func TestCheckFilter(t *testing.T) {
	tests := []struct {
		name, filter         string
		needUser, needEither bool
		wantErr              string
	}{
		{"default user filter", DefaultUserFilter, true, false, ""},
		{"default group filter", DefaultGroupFilter, false, true, ""},
		{"posix group filter", "(&(objectClass=posixGroup)(memberUid={username}))", false, true, ""},
		{"AD nested groups", "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))", false, true, ""},
		{"user filter without username", "(uid=alice)", true, false, "no {username}"},
		{"user filter with dn", "(&(uid={username})(member={dn}))", true, false, "only the group filter"},
		{"group filter without placeholder", "(objectClass=groupOfNames)", false, true, "neither {dn} nor {username}"},
		{"unbalanced", "(&(uid={username})", true, false, "does not parse"},
		{"no parentheses", "uid={username}", true, false, "does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkFilter("filter", tc.filter, tc.needUser, tc.needEither)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkFilter(%q) = %v, want nil", tc.filter, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("checkFilter(%q) = %v, want an error containing %q", tc.filter, err, tc.wantErr)
			}
		})
	}
}
