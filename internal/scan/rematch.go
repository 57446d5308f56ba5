package scan

import (
	"context"
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// rematchPage is how many stored scans are matched again per transaction.
const rematchPage = 100

// nudgeRematch starts a rematch on this node soon (after an import).
func (s *Service) nudgeRematch() {
	select {
	case s.rematch <- struct{}{}:
	default:
	}
}

// rematchLoop matches stored SBOMs again whenever the database is newer
// than their findings: at once after an import here, else every minute.
func (s *Service) rematchLoop(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, err := s.Rematch(ctx); err != nil && ctx.Err() == nil {
			s.o.Log.Warn("scan: matching stored scans again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.rematch:
		}
	}
}

// Rematch matches the packages of every finished scan older than the
// database again (no layer is read) and returns how many it updated.
func (s *Service) Rematch(ctx context.Context) (int, error) {
	var st meta.VulnDBState
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		st, err = r.VulnDBState()
		return err
	}); err != nil || st.Generation == 0 {
		return 0, err
	}
	n := 0
	afterRepo, afterDigest := "", digest.Digest("")
	for {
		var page []meta.Scan
		if err := s.o.Store.View(ctx, func(r meta.Reader) error {
			var err error
			page, err = r.ScansBehind(st.Generation, afterRepo, afterDigest, rematchPage)
			return err
		}); err != nil {
			return n, err
		}
		for _, sc := range page {
			var rep Report
			if json.Unmarshal(sc.Report, &rep) != nil {
				continue
			}
			if rep.Scanner == ScannerName || rep.Scanner == "" {
				findings, err := s.match(ctx, rep.Packages)
				if err != nil {
					return n, err
				}
				rep.Findings = findings
			} // an external scanner's findings are its own: only marked as seen
			rep.DBGeneration = st.Generation
			out := sc
			s.setFindings(&out, rep)
			if err := s.o.Store.Update(ctx, func(tx meta.Tx) error { return tx.UpdateScanFindings(out) }); err != nil && !isNotFound(err) {
				return n, err
			}
			n++
		}
		if len(page) < rematchPage {
			if n > 0 {
				s.o.Log.Info("scan: stored scans matched against the new vulnerability database", "scans", n, "generation", st.Generation)
			}
			return n, nil
		}
		last := page[len(page)-1]
		afterRepo, afterDigest = last.Repo, last.Digest
	}
}
