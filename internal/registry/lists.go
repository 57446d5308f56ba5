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

// Catalog lists repository names after last, n at most (n < 0: not given),
// keeping only those keep accepts (nil keeps all: no access control).
func (s *Service) Catalog(ctx context.Context, last string, n int, keep func(repo string) (bool, error)) (Page, error) {
	n = s.clamp(n)
	var p Page
	if n == 0 {
		return p, nil
	}
	if keep == nil {
		err := s.meta.View(ctx, func(r meta.Reader) error {
			items, err := r.ListRepositories(last, n+1)
			p = page(items, n)
			return err
		})
		return p, err
	}
	// Filtered: read batches until n+1 names pass (one more tells whether
	// there is a next page) or the repositories run out.
	var kept []string
	batch := max(n+1, 100)
	for len(kept) <= n {
		var items []string
		if err := s.meta.View(ctx, func(r meta.Reader) error {
			var err error
			items, err = r.ListRepositories(last, batch)
			return err
		}); err != nil {
			return Page{}, err
		}
		for _, name := range items {
			ok, err := keep(name)
			if err != nil {
				return Page{}, err
			}
			if ok {
				kept = append(kept, name)
			}
		}
		if len(items) < batch {
			break
		}
		last = items[len(items)-1]
	}
	return page(kept, n), nil
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
