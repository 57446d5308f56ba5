package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth/pattern"
	"github.com/berth-registry/berth/internal/meta"
)

// ListRetentionRules lists a project's retention rules (to who may see
// the project).
func (s *Service) ListRetentionRules(ctx context.Context, actor Identity, project string) ([]meta.RetentionRule, error) {
	if _, err := s.GetProject(ctx, actor, project); err != nil {
		return nil, err
	}
	var out []meta.RetentionRule
	err := s.store.View(ctx, func(r meta.Reader) error {
		var err error
		out, err = r.RetentionRules(project)
		return err
	})
	return out, err
}

// AddRetentionRule adds a retention rule to r.Project (project admins).
// Tags defaults to ** (every tag).
func (s *Service) AddRetentionRule(ctx context.Context, actor Identity, r meta.RetentionRule) (meta.RetentionRule, error) {
	if r.Tags == "" {
		r.Tags = "**"
	}
	if err := checkRetentionRule(r); err != nil {
		return meta.RetentionRule{}, err
	}
	r.ID, r.CreatedAt = 0, time.Now()
	err := s.asProjectAdmin(ctx, actor, r.Project, func(tx meta.Tx) error {
		var err error
		if r.ID, err = tx.AddRetentionRule(r); err != nil {
			return err
		}
		return auditIn(ctx, tx, "retention-rule.add", r.Project, fmt.Sprintf("rule %d: %s %s %s", r.ID, r.Repositories, r.Tags, describeRetention(r)))
	})
	if err != nil {
		return meta.RetentionRule{}, err
	}
	return r, nil
}

// DeleteRetentionRule removes a retention rule (project admins).
func (s *Service) DeleteRetentionRule(ctx context.Context, actor Identity, project string, id int64) error {
	return s.asProjectAdmin(ctx, actor, project, func(tx meta.Tx) error {
		if err := tx.DeleteRetentionRule(project, id); err != nil {
			return err
		}
		return auditIn(ctx, tx, "retention-rule.delete", project, fmt.Sprintf("rule %d", id))
	})
}

// RequireProjectAdmin refuses anyone but an admin of project (system
// admins are); meta.ErrNotFound when the project does not exist or the
// caller may not see it.
func (s *Service) RequireProjectAdmin(ctx context.Context, actor Identity, project string) error {
	p, err := s.GetProject(ctx, actor, project)
	if err != nil {
		return err
	}
	if p.Role != RoleAdmin {
		return ErrDenied
	}
	return nil
}

func checkRetentionRule(r meta.RetentionRule) error {
	if _, err := pattern.Compile(r.Repositories); err != nil {
		return invalid("repositories pattern %q: %v", r.Repositories, err)
	}
	if _, err := pattern.Compile(r.Tags); err != nil {
		return invalid("tags pattern %q: %v", r.Tags, err)
	}
	if r.Repositories != "**" && r.Repositories != r.Project && !strings.HasPrefix(r.Repositories, r.Project+"/") {
		return invalid("a rule of project %s covers its repositories: start the pattern with %s/ (or use **)", r.Project, r.Project)
	}
	switch r.Kind {
	case meta.RetainLast:
		if r.Count < 1 || r.Age != 0 {
			return invalid("keep-last needs a count of at least 1 (and no age)")
		}
	case meta.RetainPulledWithin, meta.RemoveUntaggedAfter:
		if r.Age <= 0 || r.Count != 0 {
			return invalid("%s needs a positive age (and no count)", r.Kind)
		}
	case meta.RetainTags:
		if r.Age != 0 || r.Count != 0 {
			return invalid("keep-tags takes no count or age")
		}
	default:
		return invalid("rule kind %q: want %s, %s, %s or %s", r.Kind, meta.RetainLast, meta.RetainPulledWithin, meta.RetainTags, meta.RemoveUntaggedAfter)
	}
	return nil
}

func describeRetention(r meta.RetentionRule) string {
	switch r.Kind {
	case meta.RetainLast:
		return fmt.Sprintf("%s %d", r.Kind, r.Count)
	case meta.RetainPulledWithin, meta.RemoveUntaggedAfter:
		return fmt.Sprintf("%s %s", r.Kind, r.Age)
	}
	return r.Kind
}
