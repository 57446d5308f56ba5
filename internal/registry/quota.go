package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/errcode"
	"github.com/berth-registry/berth/internal/meta"
)

// Project quotas. The metadata index keeps each project's usage exact in
// the transactions that put and delete manifests (see meta.QuotaReader);
// this file refuses what would take a project over its quota:
//
//   - an upload does not start while the project is at or over its quota;
//   - a blob sent in one request, and an upload's closing PUT (its
//     declared length plus what the upload holds), is refused before its
//     bytes are stored when that size would take the project over, unless
//     the project holds the blob already (the session then ends);
//   - a finished upload is checked again with its real size, and its bytes
//     are discarded when refused;
//   - a manifest push is checked in its own transaction, after the manifest
//     is written, under the project's usage lock: when it made usage grow
//     past the quota, the transaction rolls back. This is the check that
//     always holds (blobs alone never count: only what manifests reference
//     does); the earlier ones only save clients from uploading bytes that
//     the manifest check would refuse. A push that adds nothing (a new tag
//     for stored content) always passes.
//
// A repository whose project has no row (auth.mode none) has no quota.

// projectQuota returns the quota of project, 0 when unlimited or when
// there is no such project.
func projectQuota(r meta.Reader, project string) (int64, error) {
	p, err := r.Project(project)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("quota of project %s: %w", project, err)
	}
	return p.Quota, nil
}

// quotaCheck is a manifest push's quota check: the project's usage before
// the push, read under the lock that keeps concurrent pushes out until the
// transaction ends.
type quotaCheck struct {
	project       string
	quota, before int64
}

// lockQuota starts the quota check of a push into repo (nothing to check
// when the project has no quota).
func lockQuota(tx meta.Tx, repo string) (quotaCheck, error) {
	project := meta.ProjectOf(repo)
	quota, err := projectQuota(tx, project)
	if err != nil || quota <= 0 {
		return quotaCheck{}, err
	}
	before, err := tx.LockProjectUsage(project)
	if err != nil {
		return quotaCheck{}, err
	}
	return quotaCheck{project: project, quota: quota, before: before}, nil
}

// check refuses the push when it made usage grow past the quota, and
// returns the usage after it.
func (q quotaCheck) check(tx meta.Reader) (int64, error) {
	if q.quota <= 0 {
		return 0, nil
	}
	after, err := tx.ProjectUsage(q.project)
	if err != nil {
		return 0, err
	}
	if after > q.before && after > q.quota {
		return after, quotaExceeded(q.project, after, q.before, q.quota)
	}
	return after, nil
}

// warning is the quota.warning event of a push that took usage past
// meta.QuotaWarnPercent of the quota (once per crossing), or false.
func (q quotaCheck) warning(repo string, after int64, at time.Time) (meta.Event, bool) {
	limit := q.quota / 100 * meta.QuotaWarnPercent
	if q.quota <= 0 || q.before >= limit || after < limit {
		return meta.Event{}, false
	}
	return meta.Event{Kind: meta.EventQuotaWarning, Repo: repo, Size: after, CreatedAt: at,
		Detail: fmt.Sprintf("project %s uses %s of its %s quota (%d%%)", q.project, FormatBytes(after), FormatBytes(q.quota), after*100/q.quota)}, true
}

// checkUploadQuota refuses to store a blob of the given size (-1: not
// known yet, as when an upload starts) in repo when the project is over its
// quota or the blob would take it over. A blob the project holds already
// (d set and counted) adds nothing and passes.
func (s *Service) checkUploadQuota(ctx context.Context, repo string, d digest.Digest, size int64) error {
	return s.meta.View(ctx, func(r meta.Reader) error { return uploadQuotaIn(r, repo, d, size) })
}

// uploadQuotaIn is checkUploadQuota reading through r.
func uploadQuotaIn(r meta.Reader, repo string, d digest.Digest, size int64) error {
	project := meta.ProjectOf(repo)
	quota, err := projectQuota(r, project)
	if err != nil || quota <= 0 {
		return err
	}
	used, err := r.ProjectUsage(project)
	if err != nil {
		return err
	}
	if size < 0 {
		if used >= quota {
			return errcode.Denied.Errorf("quota exceeded: project %s uses %s of %s", project, FormatBytes(used), FormatBytes(quota))
		}
		return nil
	}
	if used+size <= quota {
		return nil
	}
	if d != "" {
		counted, err := r.UsageCounts(project, d)
		if err != nil || counted {
			return err
		}
	}
	return quotaExceeded(project, used+size, used, quota)
}

func quotaExceeded(project string, would, used, quota int64) error {
	w, q := FormatBytes(would), FormatBytes(quota)
	if w == q { // rounded to the same figure: show the bytes
		w, q = fmt.Sprintf("%s (%d bytes)", w, would), fmt.Sprintf("%s (%d bytes)", q, quota)
	}
	return errcode.Denied.Errorf("quota exceeded: project %s would use %s of %s (uses %s)", project, w, q, FormatBytes(used))
}

// FormatBytes renders n with a binary unit and at most one decimal,
// rounded down so that it never claims more than n: "512 B", "9.8 GiB",
// "10 MiB".
func FormatBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	i, div := 0, uint64(1024)
	for i < len(units)-1 && u/div >= 1024 {
		i, div = i+1, div*1024
	}
	whole, tenths := u/div, (u%div)*10/div
	s := strconv.FormatUint(whole, 10)
	if tenths > 0 {
		s += "." + strconv.FormatUint(tenths, 10)
	}
	if neg {
		s = "-" + s
	}
	return strings.Join([]string{s, units[i]}, " ")
}
