package registry

import (
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

func immutableError(repo, tag, rule, what string) error {
	return errcode.Denied.Errorf("tag %s of %s is immutable (rule %q of project %s): it cannot be %s; push under a new tag",
		tag, repo, rule, meta.ProjectOf(repo), what)
}

// checkTagMove refuses to point an immutable tag that exists at another
// manifest (setting it the first time, or to the same manifest, is fine).
func (s *Service) checkTagMove(tx meta.Tx, repo, tag string, to digest.Digest) error {
	if s.opts.Tags == nil {
		return nil
	}
	prev, err := tx.Tag(repo, tag)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && prev == to) {
		return nil
	}
	if err != nil {
		return err
	}
	rule, err := s.opts.Tags.ImmutableRule(tx, repo, tag)
	if err != nil || rule == "" {
		return err
	}
	return immutableError(repo, tag, rule, "moved to another manifest")
}

// checkTagGone refuses to delete an immutable tag.
func (s *Service) checkTagGone(tx meta.Tx, repo, tag string) error {
	if s.opts.Tags == nil {
		return nil
	}
	rule, err := s.opts.Tags.ImmutableRule(tx, repo, tag)
	if err != nil || rule == "" {
		return err
	}
	return immutableError(repo, tag, rule, "deleted")
}

// checkTagsOf refuses to delete a manifest that holds an immutable tag.
func (s *Service) checkTagsOf(tx meta.Tx, repo string, d digest.Digest) error {
	if s.opts.Tags == nil {
		return nil
	}
	tags, err := tx.TagsOf(repo, d)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := s.checkTagGone(tx, repo, t); err != nil {
			return err
		}
	}
	return nil
}
