package metatest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var accessTests = []test{
	{"users: create, read, list, update, delete", func(t *testing.T, s meta.Store) {
		created := time.Unix(1700000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			for _, n := range []string{"carol", "alice", "bob"} {
				if err := tx.CreateUser(meta.User{Name: n, PasswordHash: []byte("hash-" + n), CreatedAt: created}); err != nil {
					return err
				}
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.CreateUser(meta.User{Name: "alice", PasswordHash: []byte("x")}); !errors.Is(err, meta.ErrExists) {
				t.Errorf("second CreateUser(alice) = %v, want ErrExists", err)
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			u, err := r.User("alice")
			if err != nil {
				return err
			}
			if string(u.PasswordHash) != "hash-alice" || u.Admin || u.Disabled || !u.CreatedAt.Equal(created) || !u.PasswordChangedAt.Equal(created) {
				t.Errorf("User(alice) = %+v", u)
			}
			if _, err := r.User("nobody"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("User(nobody) = %v, want ErrNotFound", err)
			}
			all, err := r.ListUsers("", 0)
			if err != nil {
				return err
			}
			if got := userNames(all); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
				t.Errorf("ListUsers = %v", got)
			}
			page, err := r.ListUsers("alice", 1)
			if err != nil {
				return err
			}
			if got := userNames(page); !slices.Equal(got, []string{"bob"}) {
				t.Errorf("ListUsers(after alice, 1) = %v", got)
			}
			return nil
		})
		changed := created.Add(time.Hour)
		update(t, s, func(tx meta.Tx) error {
			return tx.UpdateUser(meta.User{Name: "bob", PasswordHash: []byte("new"), Admin: true, Disabled: true, PasswordChangedAt: changed})
		})
		view(t, s, func(r meta.Reader) error {
			u, err := r.User("bob")
			if err != nil {
				return err
			}
			if string(u.PasswordHash) != "new" || !u.Admin || !u.Disabled || !u.PasswordChangedAt.Equal(changed) || !u.CreatedAt.Equal(created) {
				t.Errorf("after UpdateUser: %+v", u)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.UpdateUser(meta.User{Name: "nobody"}); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("UpdateUser(nobody) = %v, want ErrNotFound", err)
			}
			if err := tx.DeleteUser("nobody"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("DeleteUser(nobody) = %v, want ErrNotFound", err)
			}
			return tx.DeleteUser("carol")
		})
		view(t, s, func(r meta.Reader) error {
			if _, err := r.User("carol"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("User(carol) after delete = %v", err)
			}
			return nil
		})
	}},
	{"projects: library exists, create, update, members, delete", func(t *testing.T, s meta.Store) {
		view(t, s, func(r meta.Reader) error {
			p, err := r.Project("library")
			if err != nil {
				t.Errorf("the library project does not exist from the start: %v", err)
			} else if !p.Public {
				t.Errorf("library is not public")
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.CreateProject(meta.Project{Name: "team"}); err != nil {
				return err
			}
			if err := tx.CreateProject(meta.Project{Name: "team", Public: true}); !errors.Is(err, meta.ErrExists) {
				t.Errorf("second CreateProject(team) = %v, want ErrExists", err)
			}
			if err := tx.CreateUser(meta.User{Name: "dev", PasswordHash: []byte("h")}); err != nil {
				return err
			}
			for _, m := range []meta.Member{
				{Project: "team", Kind: meta.MemberUser, Name: "dev", Role: "guest"},
				{Project: "team", Kind: meta.MemberUser, Name: "dev", Role: "developer"}, // changes the role
				{Project: "team", Kind: meta.MemberGroup, Name: "ops", Role: "maintainer"},
				{Project: "library", Kind: meta.MemberUser, Name: "dev", Role: "guest"},
			} {
				if err := tx.PutMember(m); err != nil {
					return err
				}
			}
			if err := tx.PutMember(meta.Member{Project: "absent", Kind: meta.MemberUser, Name: "dev", Role: "guest"}); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("PutMember in a missing project = %v, want ErrNotFound", err)
			}
			return tx.UpdateProject(meta.Project{Name: "team", Public: true})
		})
		view(t, s, func(r meta.Reader) error {
			p, err := r.Project("team")
			if err != nil {
				return err
			}
			if !p.Public || p.CreatedAt.IsZero() {
				t.Errorf("Project(team) = %+v", p)
			}
			ps, err := r.ListProjects("", 0)
			if err != nil {
				return err
			}
			if len(ps) != 2 || ps[0].Name != "library" || ps[1].Name != "team" {
				t.Errorf("ListProjects = %+v", ps)
			}
			ms, err := r.Members("team")
			if err != nil {
				return err
			}
			want := []meta.Member{
				{Project: "team", Kind: meta.MemberGroup, Name: "ops", Role: "maintainer"},
				{Project: "team", Kind: meta.MemberUser, Name: "dev", Role: "developer"},
			}
			if !slices.Equal(ms, want) {
				t.Errorf("Members(team) = %+v, want %+v", ms, want)
			}
			of, err := r.MembershipsOf(meta.MemberUser, "dev")
			if err != nil {
				return err
			}
			if len(of) != 2 || of[0].Project != "library" || of[1].Project != "team" || of[1].Role != "developer" {
				t.Errorf("MembershipsOf(dev) = %+v", of)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteMember("team", meta.MemberGroup, "ops"); err != nil {
				return err
			}
			if err := tx.DeleteMember("team", meta.MemberGroup, "ops"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("second DeleteMember = %v, want ErrNotFound", err)
			}
			if err := tx.CreateRobot(meta.Robot{Name: "robot$team+ci", Project: "team", SecretHash: []byte("s")}); err != nil {
				return err
			}
			// Deleting the user drops its memberships.
			if err := tx.DeleteUser("dev"); err != nil {
				return err
			}
			if ms, err := tx.MembershipsOf(meta.MemberUser, "dev"); err != nil || len(ms) != 0 {
				t.Errorf("memberships of a deleted user = %+v, %v", ms, err)
			}
			return tx.DeleteProject("team")
		})
		view(t, s, func(r meta.Reader) error {
			if _, err := r.Project("team"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("Project(team) after delete = %v", err)
			}
			if _, err := r.Robot("robot$team+ci"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("a deleted project's robot is still there: %v", err)
			}
			return nil
		})
	}},
	{"robots: create, list per project, update, delete", func(t *testing.T, s meta.Store) {
		expires := time.Unix(1800000000, 0).UTC()
		perms := []meta.RobotPermission{{Repositories: "team/**", Actions: []string{"pull", "push"}}}
		update(t, s, func(tx meta.Tx) error {
			for _, r := range []meta.Robot{
				{Name: "robot$team+ci", Project: "team", Description: "CI", SecretHash: []byte("h1"), Permissions: perms, ExpiresAt: expires},
				{Name: "robot$team+a", Project: "team", SecretHash: []byte("h2")},
				{Name: "robot$mirror", SecretHash: []byte("h3")},
			} {
				if err := tx.CreateRobot(r); err != nil {
					return err
				}
			}
			if err := tx.CreateRobot(meta.Robot{Name: "robot$mirror"}); !errors.Is(err, meta.ErrExists) {
				t.Errorf("second CreateRobot = %v, want ErrExists", err)
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			rb, err := r.Robot("robot$team+ci")
			if err != nil {
				return err
			}
			if rb.Project != "team" || rb.Description != "CI" || string(rb.SecretHash) != "h1" ||
				!rb.ExpiresAt.Equal(expires) || rb.Disabled || rb.CreatedAt.IsZero() ||
				len(rb.Permissions) != 1 || rb.Permissions[0].Repositories != "team/**" || !slices.Equal(rb.Permissions[0].Actions, []string{"pull", "push"}) {
				t.Errorf("Robot = %+v", rb)
			}
			for _, tc := range []struct {
				project string
				want    []string
			}{
				{"team", []string{"robot$team+a", "robot$team+ci"}},
				{"", []string{"robot$mirror"}},
				{"*", []string{"robot$mirror", "robot$team+a", "robot$team+ci"}},
				{"other", nil},
			} {
				rs, err := r.ListRobots(tc.project)
				if err != nil {
					return err
				}
				var names []string
				for _, x := range rs {
					names = append(names, x.Name)
				}
				if !slices.Equal(names, tc.want) {
					t.Errorf("ListRobots(%q) = %v, want %v", tc.project, names, tc.want)
				}
			}
			a, err := r.Robot("robot$team+a")
			if err != nil {
				return err
			}
			if !a.ExpiresAt.IsZero() || a.Disabled {
				t.Errorf("robot without expiry: %+v", a)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.UpdateRobot(meta.Robot{Name: "robot$team+ci", SecretHash: []byte("h9"), Disabled: true}); err != nil {
				return err
			}
			if err := tx.UpdateRobot(meta.Robot{Name: "robot$none"}); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("UpdateRobot(missing) = %v", err)
			}
			return tx.DeleteRobot("robot$mirror")
		})
		view(t, s, func(r meta.Reader) error {
			rb, err := r.Robot("robot$team+ci")
			if err != nil {
				return err
			}
			if !rb.Disabled || string(rb.SecretHash) != "h9" || !rb.ExpiresAt.IsZero() || len(rb.Permissions) != 0 || rb.Project != "team" {
				t.Errorf("after UpdateRobot: %+v", rb)
			}
			if _, err := r.Robot("robot$mirror"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("deleted robot: %v", err)
			}
			return nil
		})
	}},
	{"signing keys: newest first, retire, delete", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			if err := tx.AddSigningKey(meta.SigningKey{ID: "old", PrivateKey: []byte("pem-old"), CreatedAt: t0}); err != nil {
				return err
			}
			if err := tx.AddSigningKey(meta.SigningKey{ID: "new", PrivateKey: []byte("pem-new"), CreatedAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.AddSigningKey(meta.SigningKey{ID: "old", PrivateKey: []byte("x")}); !errors.Is(err, meta.ErrExists) {
				t.Errorf("second AddSigningKey(old) = %v, want ErrExists", err)
			}
			return tx.RetireSigningKey("old", t0.Add(2*time.Hour))
		})
		view(t, s, func(r meta.Reader) error {
			ks, err := r.SigningKeys()
			if err != nil {
				return err
			}
			if len(ks) != 2 || ks[0].ID != "new" || ks[1].ID != "old" || string(ks[0].PrivateKey) != "pem-new" ||
				!ks[0].RetiredAt.IsZero() || !ks[1].RetiredAt.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("SigningKeys = %+v", ks)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.RetireSigningKey("none", t0); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("RetireSigningKey(none) = %v", err)
			}
			if err := tx.DeleteSigningKey("none"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("DeleteSigningKey(none) = %v", err)
			}
			return tx.DeleteSigningKey("old")
		})
		view(t, s, func(r meta.Reader) error {
			ks, err := r.SigningKeys()
			if err != nil {
				return err
			}
			if len(ks) != 1 || ks[0].ID != "new" {
				t.Errorf("after delete: %+v", ks)
			}
			return nil
		})
	}},
}

var throttleTests = []test{
	{"login throttles: put, replace, read, delete, purge", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			if err := tx.PutLoginThrottle(meta.LoginThrottle{Key: "user:a", Failures: 2, WindowStart: t0}); err != nil {
				return err
			}
			if err := tx.PutLoginThrottle(meta.LoginThrottle{Key: "user:a", Failures: 3, WindowStart: t0, BlockedUntil: t0.Add(time.Minute)}); err != nil {
				return err
			}
			return tx.PutLoginThrottle(meta.LoginThrottle{Key: "addr:192.0.2.1", Failures: 1, WindowStart: t0.Add(time.Hour)})
		})
		view(t, s, func(r meta.Reader) error {
			lt, err := r.LoginThrottle("user:a")
			if err != nil {
				return err
			}
			if lt.Failures != 3 || !lt.WindowStart.Equal(t0) || !lt.BlockedUntil.Equal(t0.Add(time.Minute)) {
				t.Errorf("LoginThrottle = %+v", lt)
			}
			if lt, err := r.LoginThrottle("addr:192.0.2.1"); err != nil || !lt.BlockedUntil.IsZero() {
				t.Errorf("unblocked record = %+v, %v", lt, err)
			}
			if _, err := r.LoginThrottle("user:none"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("missing record: %v", err)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			n, err := tx.DeleteLoginThrottlesBefore(t0.Add(30 * time.Minute))
			if err != nil || n != 1 {
				t.Errorf("purge = %d, %v; want only user:a gone", n, err)
			}
			if err := tx.DeleteLoginThrottle("addr:192.0.2.1"); err != nil {
				return err
			}
			return tx.DeleteLoginThrottle("addr:192.0.2.1") // no error when gone
		})
		view(t, s, func(r meta.Reader) error {
			for _, k := range []string{"user:a", "addr:192.0.2.1"} {
				if _, err := r.LoginThrottle(k); !errors.Is(err, meta.ErrNotFound) {
					t.Errorf("%s still there: %v", k, err)
				}
			}
			return nil
		})
	}},
}

var auditTests = []test{
	{"audit: append, filter, page newest first, purge", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		var evs []meta.AuditEvent
		for i := range 6 {
			e := meta.AuditEvent{At: t0.Add(time.Duration(i) * time.Minute), Actor: "alice", ActorKind: "user", Addr: "192.0.2.1", Action: "push", Repo: "team/app", Digest: "sha256:x", Tag: "v1"}
			if i%2 == 1 {
				e.Actor, e.Action, e.Repo = "robot$team+ci", "pull", "team/web"
			}
			evs = append(evs, e)
		}
		update(t, s, func(tx meta.Tx) error { return tx.AppendAudit(evs...) })
		list := func(f meta.AuditFilter) []meta.AuditEvent {
			t.Helper()
			var out []meta.AuditEvent
			view(t, s, func(r meta.Reader) error {
				var err error
				out, err = r.ListAudit(f)
				return err
			})
			return out
		}
		all := list(meta.AuditFilter{})
		if len(all) != 6 || all[0].ID <= all[5].ID || !all[0].At.Equal(t0.Add(5*time.Minute)) || all[5].Tag != "v1" || all[5].Addr != "192.0.2.1" {
			t.Fatalf("all = %+v", all)
		}
		for _, tc := range []struct {
			name string
			f    meta.AuditFilter
			want int
		}{
			{"by actor", meta.AuditFilter{Actor: "alice"}, 3},
			{"by action", meta.AuditFilter{Action: "pull"}, 3},
			{"by repository", meta.AuditFilter{Repo: "team/web", Action: "pull"}, 3},
			{"nothing matches", meta.AuditFilter{Actor: "alice", Action: "pull"}, 0},
			{"since", meta.AuditFilter{Since: t0.Add(4 * time.Minute)}, 2},
			{"until", meta.AuditFilter{Until: t0.Add(2 * time.Minute)}, 2},
			{"a page", meta.AuditFilter{Limit: 2}, 2},
			{"the next page", meta.AuditFilter{BeforeID: all[1].ID, Limit: 10}, 4},
		} {
			if got := list(tc.f); len(got) != tc.want {
				t.Errorf("%s: %d events, want %d", tc.name, len(got), tc.want)
			}
		}
		update(t, s, func(tx meta.Tx) error {
			n, err := tx.DeleteAuditBefore(t0.Add(3 * time.Minute))
			if err != nil || n != 3 {
				t.Errorf("purge = %d, %v", n, err)
			}
			return err
		})
		if got := list(meta.AuditFilter{}); len(got) != 3 {
			t.Fatalf("after purge: %d", len(got))
		}
	}},
}

var repoDeleteTests = []test{
	{"delete a repository with its manifests, tags and links", func(t *testing.T, s meta.Store) {
		blob := digest.FromString("layer")
		m := meta.Manifest{Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2, Content: []byte("{}")}
		update(t, s, func(tx meta.Tx) error {
			for _, repo := range []string{"team/app", "team/keep"} {
				if err := tx.LinkBlob(repo, blob, 5); err != nil {
					return err
				}
				if err := tx.PutManifest(repo, m, meta.Refs{Blobs: []digest.Digest{blob}}); err != nil {
					return err
				}
				if _, err := tx.PutTag(repo, "v1", m.Digest); err != nil {
					return err
				}
			}
			return tx.DeleteRepository("team/app")
		})
		view(t, s, func(r meta.Reader) error {
			if _, err := r.Repository("team/app"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("repository: %v", err)
			}
			if _, err := r.Manifest("team/app", m.Digest); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("manifest: %v", err)
			}
			if _, err := r.Tag("team/app", "v1"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("tag: %v", err)
			}
			if _, err := r.BlobLink("team/app", blob); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("blob link: %v", err)
			}
			if d, err := r.Tag("team/keep", "v1"); err != nil || d != m.Digest {
				t.Errorf("the other repository lost its tag: %v", err)
			}
			if repos, err := r.ListRepositories("", 0); err != nil || !slices.Equal(repos, []string{"team/keep"}) {
				t.Errorf("repositories = %v, %v", repos, err)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteRepository("team/app"); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("second delete = %v", err)
			}
			return nil
		})
	}},
	{"activity: the last push from the audit log, pulls from the pull statistics", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		m1, m2 := manifest("one"), manifest("two")
		putManifests(t, s, "r", m1, m2)
		putManifests(t, s, "other", m1)
		d1, d2 := m1.Digest.String(), m2.Digest.String()
		update(t, s, func(tx meta.Tx) error {
			if err := tx.AppendAudit(
				meta.AuditEvent{At: t0, Actor: "alice", Action: "push", Repo: "r", Digest: d1},
				meta.AuditEvent{At: t0.Add(time.Minute), Actor: "bob", Action: "push", Repo: "r", Digest: d1},
				meta.AuditEvent{At: t0.Add(2 * time.Minute), Action: "pull", Repo: "r", Digest: d1}, // not counted from here
			); err != nil {
				return err
			}
			return tx.RecordPulls([]meta.PullCount{
				{Repo: "r", Digest: m1.Digest, Tag: "v1", Pulls: 1, Last: t0.Add(2 * time.Minute)},
				{Repo: "r", Digest: m1.Digest, Pulls: 1, Last: t0.Add(3 * time.Minute)},
				{Repo: "other", Digest: m1.Digest, Pulls: 1, Last: t0.Add(4 * time.Minute)},
				{Repo: "r", Digest: m2.Digest, Pulls: 1, Last: t0},
			})
		})
		view(t, s, func(r meta.Reader) error {
			a, err := r.Activity("r")
			if err != nil {
				return err
			}
			a1, a2 := a[d1], a[d2]
			if a1.Pulls != 2 || !a1.LastPull.Equal(t0.Add(3*time.Minute)) || a1.Pusher != "bob" || !a1.PushedAt.Equal(t0.Add(time.Minute)) {
				t.Errorf("d1 = %+v", a1)
			}
			if a2.Pulls != 1 || a2.Pusher != "" || len(a) != 2 {
				t.Errorf("activity = %+v", a)
			}
			return nil
		})
	}},
}

var policyTests = []test{
	{"immutable rules: add, list per project in order, delete, go with the project", func(t *testing.T, s meta.Store) {
		var ids []int64
		update(t, s, func(tx meta.Tx) error {
			for _, p := range []string{"prod", "dev"} {
				if err := tx.CreateProject(meta.Project{Name: p}); err != nil {
					return err
				}
			}
			for _, r := range []meta.ImmutableRule{
				{Project: "prod", Repositories: "prod/**", Tags: "v*"},
				{Project: "prod", Repositories: "prod/app", Tags: "release-?"},
				{Project: "dev", Repositories: "**", Tags: "stable"},
			} {
				id, err := tx.AddImmutableRule(r)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if ids[0] == ids[1] || ids[1] == ids[2] {
			t.Fatalf("ids = %v", ids)
		}
		view(t, s, func(r meta.Reader) error {
			rs, err := r.ImmutableRules("prod")
			if err != nil {
				return err
			}
			if len(rs) != 2 || rs[0].ID != ids[0] || rs[0].Tags != "v*" || rs[1].Repositories != "prod/app" || rs[0].CreatedAt.IsZero() {
				t.Errorf("rules of prod = %+v", rs)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteImmutableRule("dev", ids[0]); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("deleting another project's rule = %v, want ErrNotFound", err)
			}
			if err := tx.DeleteImmutableRule("prod", ids[0]); err != nil {
				return err
			}
			return tx.DeleteProject("dev")
		})
		view(t, s, func(r meta.Reader) error {
			if rs, err := r.ImmutableRules("prod"); err != nil || len(rs) != 1 || rs[0].ID != ids[1] {
				t.Errorf("after delete: %+v, %v", rs, err)
			}
			if rs, err := r.ImmutableRules("dev"); err != nil || len(rs) != 0 {
				t.Errorf("rules of a deleted project: %+v, %v", rs, err)
			}
			return nil
		})
	}},
}

var quarantineTests = []test{
	{"quarantine: put, replace, list, lift", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		update(t, s, func(tx meta.Tx) error {
			for _, q := range []meta.QuarantinedBlob{
				{Digest: "sha256:bb", Reason: "first", At: t0},
				{Digest: "sha256:aa", Reason: "hash mismatch", At: t0},
				{Digest: "sha256:bb", Reason: "again", At: t0.Add(time.Hour)},
			} {
				if err := tx.PutQuarantine(q); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, s, func(r meta.Reader) error {
			qs, err := r.ListQuarantine()
			if err != nil {
				return err
			}
			if len(qs) != 2 || qs[0].Digest != "sha256:aa" || qs[1].Reason != "again" || !qs[1].At.Equal(t0.Add(time.Hour)) {
				t.Errorf("quarantine = %+v", qs)
			}
			return nil
		})
		update(t, s, func(tx meta.Tx) error {
			if err := tx.DeleteQuarantine("sha256:aa"); err != nil {
				return err
			}
			return tx.DeleteQuarantine("sha256:none")
		})
		view(t, s, func(r meta.Reader) error {
			if qs, err := r.ListQuarantine(); err != nil || len(qs) != 1 || qs[0].Digest != "sha256:bb" {
				t.Errorf("after lift: %+v, %v", qs, err)
			}
			return nil
		})
	}},
}

var gcTests = []test{
	{"gc readers: untagged manifests, parents, unreferenced links; digest locks", func(t *testing.T, s meta.Store) {
		t0 := time.Unix(1700000000, 0).UTC()
		layer, shared := digest.FromString("layer"), digest.FromString("shared")
		mk := func(name string, at time.Time) meta.Manifest {
			return meta.Manifest{Digest: digest.FromString(name), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2, Content: []byte("{}"), CreatedAt: at}
		}
		tagged, untagged, child, index := mk("tagged", t0), mk("untagged", t0), mk("child", t0), mk("index", t0)
		young := mk("young", t0.Add(2*time.Hour))
		update(t, s, func(tx meta.Tx) error {
			if err := tx.LockDigests(layer, shared, layer); err != nil {
				return err
			}
			for _, l := range []struct {
				repo string
				d    digest.Digest
			}{{"a/app", layer}, {"a/app", shared}, {"b/app", shared}} {
				if err := tx.LinkBlob(l.repo, l.d, 5); err != nil {
					return err
				}
			}
			for _, m := range []struct {
				m    meta.Manifest
				refs meta.Refs
			}{
				{tagged, meta.Refs{Blobs: []digest.Digest{shared}}},
				{untagged, meta.Refs{Blobs: []digest.Digest{layer}}},
				{child, meta.Refs{}},
				{index, meta.Refs{Manifests: []digest.Digest{child.Digest}}},
				{young, meta.Refs{}},
			} {
				if err := tx.PutManifest("a/app", m.m, m.refs); err != nil {
					return err
				}
			}
			_, err := tx.PutTag("a/app", "v1", tagged.Digest)
			return err
		})
		view(t, s, func(r meta.Reader) error {
			cutoff := t0.Add(time.Hour)
			got, err := r.UntaggedManifests(cutoff, "", "", 0)
			if err != nil {
				return err
			}
			want := []digest.Digest{child.Digest, index.Digest, untagged.Digest}
			slices.Sort(want)
			var ds []digest.Digest
			for _, m := range got {
				ds = append(ds, m.Digest)
				if m.Repo != "a/app" || !m.CreatedAt.Equal(t0) {
					t.Errorf("ref = %+v", m)
				}
			}
			if !slices.Equal(ds, want) {
				t.Errorf("untagged = %v, want %v (not the tagged one, not the young one)", ds, want)
			}
			page, err := r.UntaggedManifests(cutoff, "a/app", want[0], 1)
			if err != nil || len(page) != 1 || page[0].Digest != want[1] {
				t.Errorf("next page = %+v, %v", page, err)
			}
			if n, err := r.ManifestParents("a/app", child.Digest); err != nil || n != 1 {
				t.Errorf("parents of the child = %d, %v", n, err)
			}
			if n, err := r.ManifestParents("b/app", child.Digest); err != nil || n != 0 {
				t.Errorf("parents in another repository = %d, %v", n, err)
			}
			links, err := r.UnreferencedLinks(t0.Add(24*time.Hour*365*100), "", "", 0)
			if err != nil {
				return err
			}
			if len(links) != 1 || links[0].Repo != "b/app" || links[0].Digest != shared {
				t.Errorf("unreferenced links = %+v, want only b/app's link to the shared blob", links)
			}
			if ok, err := r.LinkReferenced("a/app", layer); err != nil || !ok {
				t.Errorf("a/app layer referenced = %v, %v", ok, err)
			}
			if ok, err := r.LinkReferenced("b/app", shared); err != nil || ok {
				t.Errorf("b/app shared referenced = %v, %v", ok, err)
			}
			linked, err := r.LinkedDigests([]digest.Digest{layer, shared, digest.FromString("nowhere")})
			if err != nil || len(linked) != 2 || !linked[layer] || !linked[shared] {
				t.Errorf("LinkedDigests = %v, %v", linked, err)
			}
			return nil
		})
	}},
	{"gc readers: manifests a client was shown", func(t *testing.T, s meta.Store) {
		m, other := manifest("shown"), manifest("other")
		putManifests(t, s, "a/app", m, other)
		at := time.Unix(1700000000, 0).UTC()
		seen := func(d digest.Digest) time.Time {
			t.Helper()
			var got time.Time
			view(t, s, func(r meta.Reader) (err error) { got, err = r.ManifestSeen("a/app", d); return err })
			return got
		}
		if got := seen(m.Digest); !got.IsZero() {
			t.Fatalf("never shown: ManifestSeen = %v", got)
		}
		update(t, s, func(tx meta.Tx) error {
			wantNotFound(t, "TouchManifest of a manifest not in the repository", tx.TouchManifest("b/app", m.Digest, at))
			if err := tx.TouchManifest("a/app", m.Digest, at.Add(-time.Hour)); err != nil {
				return err
			}
			return tx.TouchManifest("a/app", m.Digest, at) // again: moves
		})
		if got := seen(m.Digest); !got.Equal(at) {
			t.Fatalf("ManifestSeen = %v, want %v", got, at)
		}
		if got := seen(other.Digest); !got.IsZero() {
			t.Fatalf("another manifest: ManifestSeen = %v", got)
		}
		update(t, s, func(tx meta.Tx) error { return tx.DeleteManifest("a/app", m.Digest) })
		putManifests(t, s, "a/app", m) // pushed again: never shown yet
		if got := seen(m.Digest); !got.IsZero() {
			t.Fatalf("after delete and re-push: ManifestSeen = %v", got)
		}
	}},
	{"gc readers: referrers-schema tags whose subject is gone", func(t *testing.T, s meta.Store) {
		subject, gone := manifest("subject"), manifest("gone")
		sig1, sig2, sig3, other := manifest("sig1"), manifest("sig2"), manifest("sig3"), manifest("other")
		schema := func(d digest.Digest, suffix string) string { return "sha256-" + d.Encoded() + suffix }
		putManifests(t, s, "a/app", subject, sig1, sig2, sig3, other)
		putManifests(t, s, "b/app", sig1)
		tags := []struct {
			repo, tag string
			d         digest.Digest
		}{
			{"a/app", schema(subject.Digest, ".sig"), sig1.Digest}, // subject present: kept
			{"a/app", schema(gone.Digest, ".sig"), sig2.Digest},    // orphaned
			{"a/app", schema(gone.Digest, ""), sig3.Digest},        // orphaned (the OCI fallback tag)
			{"a/app", "sha256-short.sig", other.Digest},            // not the schema
			{"a/app", "v1", other.Digest},
			{"b/app", schema(subject.Digest, ".sig"), sig1.Digest}, // the subject is in another repository only
		}
		update(t, s, func(tx meta.Tx) error {
			for _, tg := range tags {
				if _, err := tx.PutTag(tg.repo, tg.tag, tg.d); err != nil {
					return err
				}
			}
			return nil
		})
		want := []meta.TagRef{
			{Repo: "a/app", Tag: schema(gone.Digest, ""), Digest: sig3.Digest},
			{Repo: "a/app", Tag: schema(gone.Digest, ".sig"), Digest: sig2.Digest},
			{Repo: "b/app", Tag: schema(subject.Digest, ".sig"), Digest: sig1.Digest},
		}
		view(t, s, func(r meta.Reader) error {
			if got, err := r.OrphanReferrerTags(time.Now().Add(-time.Hour), "", "", 0); err != nil || len(got) != 0 {
				t.Errorf("tags set after the cutoff = %+v, %v; want none", got, err)
			}
			got, err := r.OrphanReferrerTags(time.Now().Add(time.Hour), "", "", 0)
			if err != nil {
				return err
			}
			for i := range got {
				if !near(got[i].UpdatedAt) {
					t.Errorf("%s updated at %v", got[i].Tag, got[i].UpdatedAt)
				}
				got[i].UpdatedAt = time.Time{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("orphaned referrer tags =\n%+v\nwant\n%+v", got, want)
			}
			page, err := r.OrphanReferrerTags(time.Now().Add(time.Hour), want[0].Repo, want[0].Tag, 1)
			if err != nil || len(page) != 1 || page[0].Tag != want[1].Tag {
				t.Errorf("next page = %+v, %v", page, err)
			}
			return nil
		})
	}},
}

func userNames(us []meta.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}
