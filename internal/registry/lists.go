package registry

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// clamp returns the page size to use: n < 0 (not given) and n above the
// maximum both become the maximum, so an absurd n is never allocated.
func (s *Service) clamp(n int) int {
	if n < 0 || n > s.opts.ListMaxEntries {
		return s.opts.ListMaxEntries
	}
	return n
}

// Page is one page of a listing; More says whether another page follows.
type Page struct {
	Items []string
	More  bool
}

// Tags lists repo's tags after last, n at most (n < 0: not given).
func (s *Service) Tags(ctx context.Context, repo, last string, n int) (Page, error) {
	n = s.clamp(n)
	var p Page
	err := s.meta.View(ctx, func(r meta.Reader) error {
		if _, err := r.Repository(repo); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		items, err := r.ListTags(repo, last, n+1)
		p = page(items, n)
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return Page{}, errcode.NameUnknown.WithDetail(map[string]string{"name": repo})
	}
	return p, err
}

// Catalog lists repository names after last, n at most (n < 0: not given).
func (s *Service) Catalog(ctx context.Context, last string, n int) (Page, error) {
	n = s.clamp(n)
	var p Page
	if n == 0 {
		return p, nil
	}
	err := s.meta.View(ctx, func(r meta.Reader) error {
		items, err := r.ListRepositories(last, n+1)
		p = page(items, n)
		return err
	})
	return p, err
}

func page(items []string, n int) Page {
	if len(items) > n {
		return Page{Items: items[:n], More: true}
	}
	if items == nil {
		items = []string{}
	}
	return Page{Items: items}
}
