package registry

import (
	"context"
	"errors"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
)

// PurgeUploads removes upload sessions idle for longer than maxAge, and
// driver uploads older than maxAge that no session owns (left by a crash or
// by an interrupted single-request push). It returns how many it removed.
func (s *Service) PurgeUploads(ctx context.Context, maxAge time.Duration) (int, error) {
	cutoff := s.opts.Now().Add(-maxAge)
	var stale []meta.Upload
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var err error
		stale, err = r.UploadsUpdatedBefore(cutoff)
		return err
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, u := range stale {
		unlock := s.lockUpload(u.ID)
		s.abort(ctx, u.ID)
		unlock()
		removed++
	}
	var orphans []string
	err = s.blobs.WalkUploads(ctx, func(u blob.UploadInfo) error {
		if u.ModTime.Before(cutoff) {
			orphans = append(orphans, u.ID)
		}
		return nil
	})
	if err != nil {
		return removed, err
	}
	for _, id := range orphans {
		var live bool
		err := s.meta.View(ctx, func(r meta.Reader) error {
			up, err := r.Upload(id)
			live = err == nil && up.UpdatedAt.After(cutoff)
			if errors.Is(err, meta.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil || live {
			continue
		}
		unlock := s.lockUpload(id)
		s.abort(ctx, id)
		unlock()
		removed++
	}
	return removed, nil
}
