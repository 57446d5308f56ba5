package registry

import (
	"context"
	"errors"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/meta"
)

// endsBatch is how many records of ended sessions one purge transaction
// deletes at most.
var endsBatch = 1000

// PurgeUploads removes upload sessions idle for longer than maxAge, and
// driver uploads older than maxAge that no session owns (left by a crash or
// by an interrupted single-request push), and the records of ended sessions
// once no id they refuse can be accepted. It returns how many sessions and
// driver uploads it removed.
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
	// Records of ended sessions outlive every id they could refuse: an id
	// is accepted until uploadMaxAge after its start by the clock of the
	// node that checks it, which may be idClockSkew behind this one.
	// In batches, so that pushes are not held up behind one long write.
	keep := max(maxAge, s.uploadMaxAge()) + idClockSkew
	below := idsBefore(s.opts.Now().Add(-keep))
	for n := endsBatch; n == endsBatch; {
		err = s.meta.Update(ctx, func(tx meta.Tx) (err error) {
			n, err = tx.DeleteUploadEndsBefore(below, endsBatch)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	removed := 0
	for _, u := range stale {
		unlock := s.lockUpload(u.ID)
		s.discard(ctx, u.ID, false)
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
		s.discard(ctx, id, false)
		unlock()
		removed++
	}
	return removed, nil
}
