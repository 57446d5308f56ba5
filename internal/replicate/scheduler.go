package replicate

import (
	"context"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// eventPage is how many outbox events are read at a time per policy.
const eventPage = 500

// schedule runs, while this node holds the scheduler lease, the event
// trigger, the cron trigger and the queue's housekeeping.
func (s *Service) schedule(ctx context.Context) error {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	var lastRequeue, lastPurge time.Time
	for {
		var wake <-chan struct{} // nil (never) without Events
		if s.o.Events != nil {
			wake = s.o.Events()
		}
		now := s.o.Now().UTC()
		if err := s.Tick(ctx, now); err != nil && ctx.Err() == nil {
			s.o.Log.Warn("replication scheduler", "err", err)
		}
		s.o.Queued.Notify()
		if now.Sub(lastRequeue) >= s.o.JobLease/2 {
			lastRequeue = now
			var n int
			err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
				var err error
				n, err = tx.RequeueExpiredReplicationJobs(now)
				return err
			})
			if n > 0 {
				s.o.Log.Info("replication: jobs of a lost worker queued again", "count", n)
			}
			if err != nil && ctx.Err() == nil {
				s.o.Log.Warn("replication: requeue", "err", err)
			}
		}
		if now.Sub(lastPurge) >= time.Hour {
			lastPurge = now
			if err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
				_, err := tx.DeleteReplicationRunsBefore(now.Add(-s.o.History))
				return err
			}); err != nil && ctx.Err() == nil {
				s.o.Log.Warn("replication: purge history", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// Tick turns the outbox events and the schedules due at now into runs.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	var policies []meta.ReplicationPolicy
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		policies, err = r.ListReplicationPolicies()
		return err
	})
	if err != nil {
		return err
	}
	for _, p := range policies {
		if !p.Enabled {
			continue
		}
		if p.Schedule != "" {
			if err := s.cron(ctx, p, now); err != nil {
				return err
			}
		}
		if p.OnEvent && p.Direction == meta.ReplicationPush {
			if err := s.events(ctx, p.ID, p.Cursor, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// cron starts a run when the policy's schedule has fired since it last did.
func (s *Service) cron(ctx context.Context, p meta.ReplicationPolicy, now time.Time) error {
	sched, err := ParseSchedule(p.Schedule)
	if err != nil {
		return nil // Validate refused it; a policy stored anyway is skipped
	}
	next := sched.Next(p.LastScheduled.UTC())
	if next.IsZero() || next.After(now) {
		return nil
	}
	return s.o.Store.Update(ctx, func(tx meta.Tx) error {
		cur, err := tx.ReplicationPolicy(p.ID)
		if err != nil || !cur.LastScheduled.Equal(p.LastScheduled) {
			return err // changed meanwhile: the next tick sees it
		}
		if err := tx.SetReplicationScheduled(p.ID, now); err != nil {
			return err
		}
		_, err = s.startRun(tx, cur, meta.TriggerCron, now)
		return err
	})
}

type jobKey struct{ action, repo, ref string }

// events turns the outbox events after the policy's cursor into jobs of
// one run, and moves the cursor past them, in one transaction per page.
func (s *Service) events(ctx context.Context, id int64, cursor int64, now time.Time) error {
	var pending bool
	if err := s.o.Store.View(ctx, func(r meta.Reader) error {
		evs, err := r.EventsAfter(cursor, 1)
		pending = len(evs) > 0
		return err
	}); err != nil || !pending {
		return err
	}
	for {
		full := false
		err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
			p, err := tx.ReplicationPolicy(id)
			if err != nil {
				return err
			}
			f, err := NewFilter(p)
			if err != nil {
				return nil
			}
			evs, err := tx.EventsAfter(p.Cursor, eventPage)
			if err != nil || len(evs) == 0 {
				return err
			}
			full = len(evs) == eventPage
			var jobs []meta.ReplicationJob
			seen := map[jobKey]bool{}
			for _, e := range evs {
				action, ref, err := s.eventJob(tx, p, f, e)
				if err != nil {
					return err
				}
				k := jobKey{action, e.Repo, ref}
				if action == "" || seen[k] {
					continue
				}
				seen[k] = true
				jobs = append(jobs, meta.ReplicationJob{Action: action, Repository: e.Repo, Reference: ref,
					EventAt: e.CreatedAt, CreatedAt: now})
			}
			if len(jobs) > 0 {
				if _, err := tx.AddReplicationRun(meta.ReplicationRun{Policy: p.ID, Trigger: meta.TriggerEvent, StartedAt: now}, jobs); err != nil {
					return err
				}
			}
			return tx.AdvanceReplicationCursor(p.ID, evs[len(evs)-1].ID)
		})
		if err != nil || !full {
			return err
		}
	}
}

// eventJob is the job an outbox event makes for a push policy: action ""
// when none.
func (s *Service) eventJob(r meta.Reader, p meta.ReplicationPolicy, f Filter, e meta.Event) (action, ref string, err error) {
	if !f.MatchRepo(e.Repo) {
		return "", "", nil
	}
	switch e.Kind {
	case "manifest.push":
		if e.Tag != "" {
			if subject, ok := subjectOfTag(e.Tag); ok {
				// A cosign-style signature or attestation: copy its
				// subject again, which brings the new tag along.
				return s.subjectJob(r, f, e.Repo, subject)
			}
			if f.MatchTag(e.Tag) {
				return meta.JobCopy, e.Tag, nil
			}
			return "", "", nil
		}
		// Pushed by digest: a referrer (its subject's copy brings it)
		// or a part of an index (the index's tag push brings it).
		m, err := r.Manifest(e.Repo, e.Digest)
		if err != nil || m.Subject == "" {
			return "", "", ignoreNotFound(err)
		}
		return s.subjectJob(r, f, e.Repo, m.Subject)
	case "tag.delete":
		if p.Deletes && f.MatchTag(e.Tag) {
			return meta.JobDelete, e.Tag, nil
		}
	case "manifest.delete":
		if p.Deletes {
			return meta.JobDelete, e.Digest.String(), nil
		}
	}
	return "", "", nil
}

// subjectJob copies subject (with its referrers) when one of its tags is
// covered by the policy.
func (s *Service) subjectJob(r meta.Reader, f Filter, repo string, subject digest.Digest) (string, string, error) {
	tags, err := r.TagsOf(repo, subject)
	if err != nil {
		return "", "", ignoreNotFound(err)
	}
	if slices.ContainsFunc(tags, f.MatchTag) {
		return meta.JobCopy, subject.String(), nil
	}
	return "", "", nil
}

func ignoreNotFound(err error) error {
	if err != nil && isNotFound(err) {
		return nil
	}
	return err
}
