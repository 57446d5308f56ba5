package auth

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/secretbox"
)

// fixture is a store with users, projects, members and robots:
//
//	library  public (from the start)   pub  public, no members
//	team     private: dev developer, maint maintainer, guest guest,
//	         lguest limited-guest, group ops maintainer
//	users    admin (system admin), dev, maint, guest, lguest, outsider, off (disabled)
//	robots   robot$team+ci   push,pull on team/**
//	         robot$team+ro   pull on team/app
//	         robot$team+wide pull on ** (but a project robot)
//	         robot$mirror    system: pull on **
//	         robot$team+old  expired; robot$team+off disabled
type fixture struct {
	store meta.Store
	svc   *Service
}

const testPassword = "correct horse"

func newFixture(t *testing.T, autoCreate bool) *fixture {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.Update(t.Context(), func(tx meta.Tx) error {
		for _, u := range []meta.User{
			{Name: "admin", Admin: true}, {Name: "dev"}, {Name: "maint"}, {Name: "guest"},
			{Name: "lguest"}, {Name: "outsider"}, {Name: "off", Disabled: true}, {Name: "carl"},
		} {
			u.PasswordHash, u.CreatedAt, u.PasswordChangedAt = hash, now, now
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		for _, p := range []meta.Project{{Name: "team"}, {Name: "pub", Public: true}} {
			if err := tx.CreateProject(p); err != nil {
				return err
			}
		}
		for _, m := range []meta.Member{
			{Project: "team", Kind: meta.MemberUser, Name: "dev", Role: RoleDeveloper},
			{Project: "team", Kind: meta.MemberUser, Name: "maint", Role: RoleMaintainer},
			{Project: "team", Kind: meta.MemberUser, Name: "guest", Role: RoleGuest},
			{Project: "team", Kind: meta.MemberUser, Name: "lguest", Role: RoleLimitedGuest},
			{Project: "team", Kind: meta.MemberGroup, Name: "ops", Role: RoleMaintainer},
			{Project: "team", Kind: meta.MemberUser, Name: "carl", Role: RoleGuest},
		} {
			if err := tx.PutMember(m); err != nil {
				return err
			}
		}
		perm := func(p string, a ...string) []meta.RobotPermission {
			return []meta.RobotPermission{{Repositories: p, Actions: a}}
		}
		for _, rb := range []meta.Robot{
			{Name: "robot$team+ci", Project: "team", Permissions: perm("team/**", "push", "pull")},
			{Name: "robot$team+ro", Project: "team", Permissions: perm("team/app", "pull")},
			{Name: "robot$team+wide", Project: "team", Permissions: perm("**", "pull")},
			{Name: "robot$mirror", Permissions: perm("**", "pull")},
			{Name: "robot$team+old", Project: "team", Permissions: perm("team/**", "pull"), ExpiresAt: now.Add(-time.Hour)},
			{Name: "robot$team+off", Project: "team", Permissions: perm("team/**", "pull"), Disabled: true},
		} {
			rb.SecretHash = hash
			if err := tx.CreateRobot(rb); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(t.Context(), s, Options{
		Issuer: "berth", Service: "berth-test", TokenTTL: 5 * time.Minute, RefreshTTL: time.Hour,
		CredentialCacheTTL: time.Minute, AutoCreateProjects: autoCreate,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, svc: svc}
}

func user(name string) Identity  { return Identity{Kind: KindUser, Name: name} }
func robot(name string) Identity { return Identity{Kind: KindRobot, Name: name} }

func TestGrantMatrix(t *testing.T) {
	f := newFixture(t, false)
	all := []string{ActionPull, ActionPush, ActionDelete}
	tests := []struct {
		name   string
		id     Identity
		repo   string
		want   []string
		list   bool
		create bool
	}{
		{"system admin, private project", Identity{Kind: KindUser, Name: "admin", Admin: true}, "team/app", all, true, false},
		{"system admin, missing project", Identity{Kind: KindUser, Name: "admin", Admin: true}, "newproj/app", all, true, true},
		{"developer", user("dev"), "team/app", []string{ActionPull, ActionPush}, true, false},
		{"maintainer", user("maint"), "team/app/deep", all, true, false},
		{"guest", user("guest"), "team/app", []string{ActionPull}, true, false},
		{"limited guest pulls but does not list", user("lguest"), "team/app", []string{ActionPull}, false, false},
		{"group member gets the group's role", Identity{Kind: KindUser, Name: "x", Groups: []string{"ops"}}, "team/app", all, true, false},
		{"the best of own and group roles", Identity{Kind: KindUser, Name: "carl", Groups: []string{"ops"}}, "team/app", all, true, false},
		{"outsider, private project", user("outsider"), "team/app", nil, false, false},
		{"outsider, public library", user("outsider"), "library/alpine", []string{ActionPull}, true, false},
		{"developer of team, other public project", user("dev"), "pub/x", []string{ActionPull}, true, false},
		{"user, missing project, no auto-create", user("dev"), "newproj/app", nil, false, false},
		{"anonymous, private", Anonymous, "team/app", nil, false, false},
		{"anonymous, public", Anonymous, "pub/x", []string{ActionPull}, true, false},
		{"anonymous, single-component name is its own project", Anonymous, "alpine", nil, false, false},
		{"project robot inside its patterns", robot("robot$team+ci"), "team/app", []string{ActionPush, ActionPull}, true, false},
		{"project robot outside its project", robot("robot$team+wide"), "pub2/x", nil, false, false},
		{"project robot, pattern does not match", robot("robot$team+ro"), "team/other", nil, false, false},
		{"project robot, exact pattern", robot("robot$team+ro"), "team/app", []string{ActionPull}, true, false},
		{"project robot, public project: what anyone may do", robot("robot$team+ro"), "library/x", []string{ActionPull}, true, false},
		{"system robot", robot("robot$mirror"), "team/app", []string{ActionPull}, true, false},
		{"expired robot", robot("robot$team+old"), "team/app", nil, false, false},
		{"disabled robot", robot("robot$team+off"), "team/app", nil, false, false},
		{"unknown robot", robot("robot$ghost"), "team/app", nil, false, false},
		{"robot never creates projects", robot("robot$mirror"), "newproj/x", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := f.svc.Authz.Grant(t.Context(), tt.id, tt.repo)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(g.Actions, tt.want) || g.List != tt.list || g.CanCreate != tt.create {
				t.Fatalf("Grant(%+v, %s) = %+v, want actions %v list %v create %v", tt.id, tt.repo, g, tt.want, tt.list, tt.create)
			}
		})
	}
	t.Run("auto-create lets any user push into a missing project", func(t *testing.T) {
		f := newFixture(t, true)
		g, err := f.svc.Authz.Grant(t.Context(), user("dev"), "newproj/app")
		if err != nil || !g.CanCreate || !slices.Equal(g.Actions, []string{ActionPush}) {
			t.Fatalf("Grant = %+v, %v", g, err)
		}
		if g, _ := f.svc.Authz.Grant(t.Context(), Anonymous, "newproj/app"); g.CanCreate || len(g.Actions) != 0 {
			t.Fatalf("anonymous may create: %+v", g)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func repoNeed(repo string, actions ...string) Need {
	return Need{Scope: Scope{Type: ScopeRepository, Name: repo, Actions: actions}}
}

func basic(name string) Credentials {
	return Credentials{Basic: true, Username: name, Password: testPassword}
}

func TestCheck(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	devToken, err := f.svc.Tokens.Issue(user("dev"), []Scope{{Type: ScopeRepository, Name: "team/app", Actions: []string{"pull"}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cr        Credentials
		need      Need
		challenge bool
		denied    bool
		disabled  bool
	}{
		{"base: anonymous is challenged", Credentials{}, Need{}, true, false, false},
		{"base: valid Basic", basic("dev"), Need{}, false, false, false},
		{"base: wrong password", Credentials{Basic: true, Username: "dev", Password: "nope"}, Need{}, true, false, false},
		{"base: unknown user answers like a wrong password", Credentials{Basic: true, Username: "nobody", Password: "nope"}, Need{}, true, false, false},
		{"base: disabled user", basic("off"), Need{}, false, false, true},
		{"base: garbage token", Credentials{Bearer: "not.a.token"}, Need{}, true, false, false},
		{"pull covered by the token", Credentials{Bearer: devToken}, repoNeed("team/app", "pull"), false, false, false},
		{"push not in the token but allowed live", Credentials{Bearer: devToken}, repoNeed("team/app", "push"), false, false, false},
		{"delete not allowed at all", Credentials{Bearer: devToken}, repoNeed("team/app", "delete"), false, true, false},
		{"anonymous pull of a private project", Credentials{}, repoNeed("team/app", "pull"), true, false, false},
		{"anonymous pull of a public project", Credentials{}, repoNeed("library/x", "pull"), false, false, false},
		{"anonymous push to a public project", Credentials{}, repoNeed("library/x", "push"), true, false, false},
		{"outsider pull of a private project", basic("outsider"), repoNeed("team/app", "pull"), false, true, false},
		{"limited guest may not list tags", basic("lguest"), Need{Scope: Scope{Type: ScopeRepository, Name: "team/app", Actions: []string{"pull"}}, List: true}, false, true, false},
		{"robot with its secret", basic("robot$team+ci"), repoNeed("team/app", "push"), false, false, false},
		{"expired robot with the right secret", basic("robot$team+old"), repoNeed("team/app", "pull"), false, false, true},
		{"catalog needs a login", Credentials{}, Need{Scope: Scope{Type: ScopeRegistry, Name: CatalogName, Actions: []string{"*"}}}, true, false, false},
		{"catalog with a login", basic("guest"), Need{Scope: Scope{Type: ScopeRegistry, Name: CatalogName, Actions: []string{"*"}}}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Check(ctx, tt.cr, tt.need)
			var ch *ChallengeError
			switch {
			case tt.challenge:
				if !errors.As(err, &ch) {
					t.Fatalf("Check = %v, want a challenge", err)
				}
				if tt.need.Scope.Type != "" && (ch.Scope == nil || ch.Scope.String() != tt.need.Scope.String()) {
					t.Fatalf("challenge scope = %v, want %s", ch.Scope, tt.need.Scope)
				}
			case tt.denied:
				if !errors.Is(err, ErrDenied) {
					t.Fatalf("Check = %v, want ErrDenied", err)
				}
			case tt.disabled:
				if !errors.Is(err, ErrAccountDisabled) {
					t.Fatalf("Check = %v, want ErrAccountDisabled", err)
				}
			default:
				if err != nil {
					t.Fatalf("Check = %v, want allowed", err)
				}
			}
		})
	}
	t.Run("a push by the admin into a missing project creates it, private, admin as project admin", func(t *testing.T) {
		if _, err := f.svc.Check(ctx, basic("admin"), repoNeed("fresh/app", "push")); err != nil {
			t.Fatal(err)
		}
		err := f.store.View(ctx, func(r meta.Reader) error {
			p, err := r.Project("fresh")
			if err != nil || p.Public {
				t.Errorf("project = %+v, %v", p, err)
			}
			ms, err := r.Members("fresh")
			if err != nil || len(ms) != 1 || ms[0].Name != "admin" || ms[0].Role != RoleAdmin {
				t.Errorf("members = %+v, %v", ms, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an anonymous token without the scope: insufficient_scope", func(t *testing.T) {
		anon, err := f.svc.Tokens.Issue(Anonymous, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Check(ctx, Credentials{Bearer: anon}, repoNeed("team/app", "push"))
		var ch *ChallengeError
		if !errors.As(err, &ch) || !ch.Insufficient {
			t.Fatalf("Check = %#v, want a challenge marked insufficient", err)
		}
		if _, err := f.svc.Check(ctx, Credentials{}, repoNeed("team/app", "push")); !errors.As(err, &ch) || ch.Insufficient {
			t.Fatalf("without a token: %#v, want a plain challenge", err)
		}
	})
	t.Run("a push by a user into a missing project is denied, saying so", func(t *testing.T) {
		_, err := f.svc.Check(ctx, basic("dev"), repoNeed("nope/app", "push"))
		var np *NoProjectError
		if !errors.Is(err, ErrDenied) || !errors.As(err, &np) || !strings.Contains(err.Error(), "project nope does not exist") {
			t.Fatalf("Check = %v, want a NoProjectError", err)
		}
	})
}

func TestIssueToken(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	scope := func(s string) Scope {
		sc, ok := ParseScope(s)
		if !ok {
			t.Fatalf("ParseScope(%q) failed", s)
		}
		return sc
	}
	t.Run("grants the intersection of asked and allowed", func(t *testing.T) {
		resp, err := f.svc.IssueToken(ctx, TokenRequest{Credentials: basic("dev"), Scopes: []Scope{
			scope("repository:team/app:pull,push,delete"), scope("repository:other/x:pull"), scope("registry:catalog:*"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Tokens.Verify(ctx, resp.Token)
		if err != nil {
			t.Fatal(err)
		}
		want := []Scope{{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}}, {Type: "registry", Name: "catalog", Actions: []string{"*"}}}
		if len(c.Access) != 2 || c.Access[0].String() != want[0].String() || c.Access[1].String() != want[1].String() {
			t.Fatalf("access = %+v, want %+v", c.Access, want)
		}
		if c.Subject != "dev" || c.Kind != KindUser || resp.AccessToken != resp.Token || resp.ExpiresIn != 300 || resp.RefreshToken != "" {
			t.Fatalf("token = %+v, response %+v", c, resp)
		}
	})
	t.Run("anonymous gets public pulls only", func(t *testing.T) {
		resp, err := f.svc.IssueToken(ctx, TokenRequest{Scopes: []Scope{scope("repository:library/x:pull,push"), scope("repository:team/app:pull")}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Tokens.Verify(ctx, resp.Token)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Access) != 1 || c.Access[0].String() != "repository:library/x:pull" || !c.Identity().IsAnonymous() {
			t.Fatalf("anonymous token = %+v", c)
		}
	})
	t.Run("bad credentials get no token", func(t *testing.T) {
		_, err := f.svc.IssueToken(ctx, TokenRequest{Credentials: Credentials{Basic: true, Username: "dev", Password: "x"}})
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("IssueToken = %v, want ErrBadCredentials", err)
		}
	})
	t.Run("refresh tokens: issued offline, refresh, revoked by a password change", func(t *testing.T) {
		resp, err := f.svc.IssueToken(ctx, TokenRequest{Credentials: basic("maint"), Offline: true})
		if err != nil || resp.RefreshToken == "" {
			t.Fatalf("offline login: %+v, %v", resp, err)
		}
		if _, err := f.svc.Tokens.Verify(ctx, resp.RefreshToken); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a refresh token passes as an access token: %v", err)
		}
		if _, err := f.svc.IssueToken(ctx, TokenRequest{RefreshToken: resp.Token}); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("an access token passes as a refresh token: %v", err)
		}
		again, err := f.svc.IssueToken(ctx, TokenRequest{RefreshToken: resp.RefreshToken, Scopes: []Scope{scope("repository:team/app:delete")}})
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Tokens.Verify(ctx, again.Token)
		if err != nil || c.Subject != "maint" || len(c.Access) != 1 || c.Access[0].String() != "repository:team/app:delete" {
			t.Fatalf("refreshed token = %+v, %v", c, err)
		}
		err = f.store.Update(ctx, func(tx meta.Tx) error {
			u, err := tx.User("maint")
			if err != nil {
				return err
			}
			u.PasswordChangedAt = u.PasswordChangedAt.Add(time.Second)
			return tx.UpdateUser(u)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.IssueToken(ctx, TokenRequest{RefreshToken: resp.RefreshToken}); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refresh after a password change = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("a disabled user's refresh token stops working", func(t *testing.T) {
		resp, err := f.svc.IssueToken(ctx, TokenRequest{Credentials: basic("guest"), Offline: true})
		if err != nil {
			t.Fatal(err)
		}
		err = f.store.Update(ctx, func(tx meta.Tx) error {
			u, err := tx.User("guest")
			if err != nil {
				return err
			}
			u.Disabled = true
			return tx.UpdateUser(u)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.IssueToken(ctx, TokenRequest{RefreshToken: resp.RefreshToken}); !errors.Is(err, ErrAccountDisabled) {
			t.Fatalf("refresh of a disabled user = %v", err)
		}
	})
}

func TestTokenKeys(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	tok := f.svc.Tokens
	old, err := tok.Issue(user("dev"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("another node sharing the store verifies the token", func(t *testing.T) {
		other, err := NewTokens(ctx, f.store, "berth", "berth-test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Verify(ctx, old); err != nil {
			t.Fatalf("second node: %v", err)
		}
	})
	t.Run("wrong audience or issuer", func(t *testing.T) {
		for _, o := range []struct{ iss, aud string }{{"berth", "elsewhere"}, {"someone", "berth-test"}} {
			other, err := NewTokens(ctx, f.store, o.iss, o.aud, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Verify(ctx, old); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("iss %s aud %s: Verify = %v", o.iss, o.aud, err)
			}
		}
	})
	t.Run("expired", func(t *testing.T) {
		stale, err := tok.Issue(user("dev"), nil, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tok.Verify(ctx, stale); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("expired token: %v", err)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		b := []byte(old)
		b[len(b)/2] ^= 1
		if _, err := tok.Verify(ctx, string(b)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("tampered token: %v", err)
		}
	})
	t.Run("rotation keeps old tokens valid until the old key is pruned", func(t *testing.T) {
		other, err := NewTokens(ctx, f.store, "berth", "berth-test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.Rotate(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		fresh, err := tok.Issue(user("dev"), nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		other.lastReload = time.Time{} // let it notice the new key now
		for _, tk := range []string{old, fresh} {
			if _, err := other.Verify(ctx, tk); err != nil {
				t.Fatalf("after rotation: %v", err)
			}
		}
		n, err := tok.Prune(ctx, time.Now().Add(time.Second))
		if err != nil || n != 1 {
			t.Fatalf("Prune = %d, %v; want the old key deleted", n, err)
		}
		if _, err := tok.Verify(ctx, old); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("token of a pruned key: %v", err)
		}
		if _, err := tok.Verify(ctx, fresh); err != nil {
			t.Fatalf("token of the new key: %v", err)
		}
	})
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"repository:team/app:pull,push", "repository:team/app:pull,push", true},
		{"repository:team/app:pull,pull", "repository:team/app:pull", true},
		{"repository(plugin):team/app:pull", "repository:team/app:pull", true},
		{"registry:catalog:*", "registry:catalog:*", true},
		{"repository:host:5000/app:pull", "repository:host:5000/app:pull", true},
		{"repository:team/app", "", false},
		{"repository::pull", "", false},
		{"repository:team/app:", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sc, ok := ParseScope(tt.in)
			if ok != tt.ok || (ok && sc.String() != tt.want) {
				t.Fatalf("ParseScope(%q) = %v, %v; want %q, %v", tt.in, sc, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	created, generated, err := Bootstrap(ctx, s, "")
	if err != nil || !created || len(generated) != 24 {
		t.Fatalf("first Bootstrap = %v, %q, %v", created, generated, err)
	}
	again, pw, err := Bootstrap(ctx, s, "other")
	if err != nil || again || pw != "" {
		t.Fatalf("second Bootstrap = %v, %q, %v; want nothing done", again, pw, err)
	}
	a := NewAuthenticator(s, 0)
	id, err := a.Password(ctx, AdminUser, generated)
	if err != nil || !id.Admin || id.Name != AdminUser {
		t.Fatalf("login with the generated password = %+v, %v", id, err)
	}
	if _, err := a.Password(ctx, AdminUser, "other"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the second password works: %v", err)
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	a := NewAuthenticator(f.store, time.Minute)
	a.SetThrottle(Throttle{Failures: 3, AddressFactor: 2, Window: time.Minute, Lockout: 30 * time.Second})
	clock := time.Unix(1800000000, 0)
	a.now = func() time.Time { return clock }
	var th *ThrottledError
	try := func(user, pw, addr string) error {
		_, err := a.PasswordFrom(ctx, user, pw, addr)
		return err
	}
	steps := []struct {
		name          string
		user, pw, ip  string
		advance       time.Duration
		wantThrottled bool
		wantErr       error
	}{
		{"first failure", "dev", "bad", "192.0.2.1", 0, false, ErrBadCredentials},
		{"second failure", "dev", "bad", "192.0.2.1", 0, false, ErrBadCredentials},
		{"third failure blocks the user", "dev", "bad", "192.0.2.2", 0, false, ErrBadCredentials},
		{"even the right password is refused now", "dev", testPassword, "192.0.2.9", 0, true, nil},
		{"another user from the same address is fine", "maint", testPassword, "192.0.2.1", 0, false, nil},
		{"after the lockout the right password works", "dev", testPassword, "192.0.2.9", 31 * time.Second, false, nil},
		{"failures of unknown names count per address too", "ghost1", "x", "198.51.100.1", 0, false, ErrBadCredentials},
		{"…", "ghost2", "x", "198.51.100.1", 0, false, ErrBadCredentials},
		{"……", "ghost3", "x", "198.51.100.1", 0, false, ErrBadCredentials},
		{"………", "ghost4", "x", "198.51.100.1", 0, false, ErrBadCredentials},
		{"………", "ghost5", "x", "198.51.100.1", 0, false, ErrBadCredentials},
		{"the sixth from one address blocks the address", "ghost6", "x", "198.51.100.1", 0, false, ErrBadCredentials},
		{"a valid user from that address is refused", "guest", testPassword, "198.51.100.1", 0, true, nil},
		{"failures outside the window start a new count", "maint", "bad", "203.0.113.1", 0, false, ErrBadCredentials},
		{"…", "maint", "bad", "203.0.113.1", 0, false, ErrBadCredentials},
		{"a minute later", "maint", "bad", "203.0.113.1", 2 * time.Minute, false, ErrBadCredentials},
		{"not blocked: the window restarted", "maint", testPassword, "203.0.113.1", 0, false, nil},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		err := try(s.user, s.pw, s.ip)
		if s.wantThrottled {
			if !errors.As(err, &th) || !errors.Is(err, ErrThrottled) || th.RetryAfter <= 0 {
				t.Fatalf("%s: err = %v, want throttled", s.name, err)
			}
			continue
		}
		if !errors.Is(err, s.wantErr) && !(s.wantErr == nil && err == nil) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
	}
	if n, err := a.PurgeThrottles(ctx, clock.Add(time.Hour)); err != nil || n == 0 {
		t.Fatalf("PurgeThrottles = %d, %v", n, err)
	}
}

func TestRotateAndPruneSigningKeys(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	admin := Identity{Kind: KindUser, Name: "admin", Admin: true}
	if err := f.svc.RotateSigningKey(ctx, user("dev")); !errors.Is(err, ErrDenied) {
		t.Fatalf("a user rotated the key: %v", err)
	}
	old, _ := f.svc.Tokens.Issue(user("dev"), nil, time.Now())
	if err := f.svc.RotateSigningKey(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.PruneSigningKeys(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("prune right after the rotation = %d, %v; the old key must stay while refresh tokens may live", n, err)
	}
	if _, err := f.svc.Tokens.Verify(ctx, old); err != nil {
		t.Fatalf("a token of the retired key: %v", err)
	}
	if n, err := f.svc.PruneSigningKeys(ctx, time.Now().Add(time.Hour+2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("prune after the refresh lifetime = %d, %v", n, err)
	}
}

func TestSealedSigningKeys(t *testing.T) {
	f := newFixture(t, false) // its key was stored in the clear
	ctx := t.Context()
	before, _ := f.svc.Tokens.Issue(user("dev"), nil, time.Now())
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	box, _ := secretbox.New(key)
	sealed, err := NewSealedTokens(ctx, f.store, "berth", "berth-test", time.Minute, box)
	if err != nil {
		t.Fatal(err)
	}
	err = f.store.View(ctx, func(r meta.Reader) error {
		ks, err := r.SigningKeys()
		if err != nil {
			return err
		}
		for _, k := range ks {
			if !secretbox.Sealed(k.PrivateKey) || strings.Contains(string(k.PrivateKey), "PRIVATE KEY") {
				t.Errorf("key %s is still in the clear", k.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sealed.Verify(ctx, before); err != nil {
		t.Fatalf("a token from before the sealing: %v", err)
	}
	if err := sealed.Rotate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTokens(ctx, f.store, "berth", "berth-test", time.Minute); !errors.Is(err, secretbox.ErrNoKey) {
		t.Fatalf("without the key: %v, want ErrNoKey", err)
	}
	other, _ := secretbox.New(make([]byte, 32))
	if _, err := NewSealedTokens(ctx, f.store, "berth", "berth-test", time.Minute, other); err == nil {
		t.Fatal("a different key opened the signing keys")
	}
}
