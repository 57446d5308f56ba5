package auth

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/meta"
)

// ProjectQuota is a project's storage quota (0 = unlimited) and the bytes
// its manifests hold (see meta.QuotaReader).
type ProjectQuota struct {
	Project string
	Quota   int64
	Used    int64
}

// SetProjectQuota sets a project's storage quota in bytes, 0 for none
// (system admins only).
func (s *Service) SetProjectQuota(ctx context.Context, actor Identity, project string, bytes int64) (ProjectQuota, error) {
	if err := s.requireAdmin(actor); err != nil {
		return ProjectQuota{}, err
	}
	if bytes < 0 {
		return ProjectQuota{}, invalid("quota of project %s: %d is negative (0 means no quota)", project, bytes)
	}
	out := ProjectQuota{Project: project, Quota: bytes}
	err := s.store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.SetProjectQuota(project, bytes); err != nil {
			return err
		}
		var err error
		if out.Used, err = tx.ProjectUsage(project); err != nil {
			return err
		}
		return auditIn(ctx, tx, "project.quota", project, fmt.Sprintf("quota=%d", bytes))
	})
	return out, err
}

// ProjectQuotas returns the quota and usage of every project the caller
// may see, sorted by name.
func (s *Service) ProjectQuotas(ctx context.Context, actor Identity) ([]ProjectQuota, error) {
	ps, err := s.ListProjects(ctx, actor)
	if err != nil {
		return nil, err
	}
	used, err := s.UsageOf(ctx, ps)
	if err != nil {
		return nil, err
	}
	out := make([]ProjectQuota, 0, len(ps))
	for _, p := range ps {
		out = append(out, ProjectQuota{Project: p.Name, Quota: p.Quota, Used: used[p.Name]})
	}
	return out, nil
}

// ProjectQuotaOf returns the quota and usage of a project the caller may
// see (meta.ErrNotFound otherwise).
func (s *Service) ProjectQuotaOf(ctx context.Context, actor Identity, project string) (ProjectQuota, error) {
	p, err := s.GetProject(ctx, actor, project)
	if err != nil {
		return ProjectQuota{}, err
	}
	used, err := s.UsageOf(ctx, []ProjectInfo{p})
	return ProjectQuota{Project: p.Name, Quota: p.Quota, Used: used[p.Name]}, err
}

// UsageOf returns the storage usage of projects, keyed by name. It takes
// ProjectInfo values, which only the methods that check who may see a
// project hand out: usage is shown to whoever may see the project. One
// read however many projects.
func (s *Service) UsageOf(ctx context.Context, projects []ProjectInfo) (map[string]int64, error) {
	out := make(map[string]int64, len(projects))
	if len(projects) == 0 {
		return out, nil
	}
	err := s.store.View(ctx, func(r meta.Reader) error {
		if len(projects) == 1 {
			n, err := r.ProjectUsage(projects[0].Name)
			out[projects[0].Name] = n
			return err
		}
		all, err := r.ListProjectUsage()
		if err != nil {
			return err
		}
		want := make(map[string]bool, len(projects))
		for _, p := range projects {
			want[p.Name] = true
		}
		for _, u := range all {
			if want[u.Project] {
				out[u.Project] = u.Bytes
			}
		}
		return nil
	})
	return out, err
}
