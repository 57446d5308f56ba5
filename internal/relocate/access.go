package relocate

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/meta"
)

// access is every account, project and key of a registry.
type access struct {
	users    []meta.User
	projects []meta.Project
	members  []meta.Member
	robots   []meta.Robot
	keys     []meta.SigningKey
	rules    []meta.ImmutableRule
	keep     []meta.RetentionRule
}

// copyAccess copies users, projects with their members and their rules
// (immutable tags, retention), robots and token signing keys. What the
// destination has already under the same name is overwritten by the
// source's (its first start may have made an admin of its own); what only
// the destination has stays.
func copyAccess(ctx context.Context, from, to meta.Store, rep *Report) error {
	var a access
	if err := from.View(ctx, func(r meta.Reader) error {
		var err error
		if a.users, err = r.ListUsers("", 0); err != nil {
			return err
		}
		if a.projects, err = r.ListProjects("", 0); err != nil {
			return err
		}
		for _, p := range a.projects {
			ms, err := r.Members(p.Name)
			if err != nil {
				return err
			}
			a.members = append(a.members, ms...)
			rs, err := r.ImmutableRules(p.Name)
			if err != nil {
				return err
			}
			a.rules = append(a.rules, rs...)
			ks, err := r.RetentionRules(p.Name)
			if err != nil {
				return err
			}
			a.keep = append(a.keep, ks...)
		}
		if a.robots, err = r.ListRobots("*"); err != nil {
			return err
		}
		a.keys, err = r.SigningKeys()
		return err
	}); err != nil {
		return fmt.Errorf("read accounts: %w", err)
	}
	err := to.Update(ctx, func(tx meta.Tx) error {
		for _, u := range a.users {
			if err := createOr(tx.CreateUser(u), func() error { return tx.UpdateUser(u) }); err != nil {
				return fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
		for _, p := range a.projects {
			update := func() error {
				if err := tx.UpdateProject(p); err != nil {
					return err
				}
				return tx.SetProjectQuota(p.Name, p.Quota)
			}
			if err := createOr(tx.CreateProject(p), update); err != nil {
				return fmt.Errorf("project %s: %w", p.Name, err)
			}
		}
		for _, m := range a.members {
			if err := tx.PutMember(m); err != nil {
				return fmt.Errorf("member %s of %s: %w", m.Name, m.Project, err)
			}
		}
		for _, rb := range a.robots {
			if err := createOr(tx.CreateRobot(rb), func() error { return tx.UpdateRobot(rb) }); err != nil {
				return fmt.Errorf("robot %s: %w", rb.Name, err)
			}
		}
		for _, rule := range a.rules {
			if err := putRule(tx, rule); err != nil {
				return fmt.Errorf("immutable rule of %s: %w", rule.Project, err)
			}
		}
		for _, rule := range a.keep {
			if err := putRetentionRule(tx, rule); err != nil {
				return fmt.Errorf("retention rule of %s: %w", rule.Project, err)
			}
		}
		for _, k := range a.keys {
			if err := tx.AddSigningKey(k); err != nil && !errors.Is(err, meta.ErrExists) {
				return fmt.Errorf("signing key %s: %w", k.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Users, rep.Projects, rep.Robots = len(a.users), len(a.projects), len(a.robots)
	return nil
}

// createOr runs update when create failed because the row exists.
func createOr(createErr error, update func() error) error {
	if errors.Is(createErr, meta.ErrExists) {
		return update()
	}
	return createErr
}

// putRule adds an immutable rule unless the destination has the same one
// (a rerun must not duplicate it).
func putRule(tx meta.Tx, rule meta.ImmutableRule) error {
	have, err := tx.ImmutableRules(rule.Project)
	if err != nil {
		return err
	}
	for _, h := range have {
		if h.Repositories == rule.Repositories && h.Tags == rule.Tags {
			return nil
		}
	}
	_, err = tx.AddImmutableRule(rule)
	return err
}

// putRetentionRule adds a retention rule unless the destination has the
// same one (a rerun must not duplicate it).
func putRetentionRule(tx meta.Tx, rule meta.RetentionRule) error {
	have, err := tx.RetentionRules(rule.Project)
	if err != nil {
		return err
	}
	for _, h := range have {
		if h.Repositories == rule.Repositories && h.Tags == rule.Tags && h.Kind == rule.Kind && h.Count == rule.Count && h.Age == rule.Age {
			return nil
		}
	}
	_, err = tx.AddRetentionRule(rule)
	return err
}
