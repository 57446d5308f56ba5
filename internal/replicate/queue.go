package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
)

// schedulerLease is held by the node that turns outbox events and
// schedules into runs.
const schedulerLease = "replication-scheduler"

// Run runs the workers and (on one node of a cluster at a time) the
// scheduler until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	holder := jobs.HolderName()
	for i := range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx, fmt.Sprintf("%s/%d", holder, i))
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		lease := max(5*time.Second, 2*s.o.Poll)
		jobs.New(s.o.Store, s.o.Log).Every(ctx, schedulerLease, lease, s.schedule)
	}()
	wg.Wait()
}

// work claims and runs due jobs until ctx ends.
func (s *Service) work(ctx context.Context, holder string) {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	for {
		queued := s.o.Queued.C()
		for ctx.Err() == nil {
			ran, err := s.RunOne(ctx, holder)
			if err != nil && ctx.Err() == nil {
				s.o.Log.Warn("replication: cannot claim a job", "err", err)
			}
			if !ran || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-queued:
		}
	}
}

// RunOne claims one due job for holder and runs it; false when none was
// due.
func (s *Service) RunOne(ctx context.Context, holder string) (bool, error) {
	now := s.o.Now()
	var due int
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		due, err = r.ReplicationJobsDue(now)
		return err
	})
	if err != nil || due == 0 {
		return false, err
	}
	var (
		job meta.ReplicationJob
		p   meta.ReplicationPolicy
		ok  bool
	)
	err = s.o.Store.Update(ctx, func(tx meta.Tx) error {
		var err error
		if job, ok, err = tx.ClaimReplicationJob(holder, now, s.o.JobLease); err != nil || !ok {
			return err
		}
		p, err = tx.ReplicationPolicy(job.Policy)
		return err
	})
	if err != nil || !ok {
		return false, err
	}
	s.runClaimed(ctx, holder, job, p)
	return true, nil
}

// runClaimed runs a claimed job while renewing its lease, and records the
// outcome: success, a retry after a backoff, or failure for good.
func (s *Service) runClaimed(ctx context.Context, holder string, job meta.ReplicationJob, p meta.ReplicationPolicy) {
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		beat := time.NewTicker(s.o.JobLease / 3)
		defer beat.Stop()
		for {
			select {
			case <-done:
				return
			case <-beat.C:
				err := s.o.Store.Update(jobCtx, func(tx meta.Tx) error {
					return tx.RenewReplicationJob(job.ID, holder, s.o.Now().Add(s.o.JobLease))
				})
				if err != nil {
					s.o.Log.Warn("replication: job lost its lease; stopping it", "job", job.ID, "err", err)
					cancel()
					return
				}
			}
		}
	}()
	start := time.Now()
	out, err := s.execute(jobCtx, p, job)
	close(done)
	if ctx.Err() != nil {
		return // shutting down: the lease ends and the job runs again
	}
	now := s.o.Now().UTC()
	job.Images, job.Bytes, job.Result, job.Error = out.images, out.bytes, out.result, ""
	switch {
	case err == nil:
		job.State, job.FinishedAt = meta.JobSucceeded, now
		s.o.Log.Info("replication job done", "policy", p.Name, "job", job.ID, "action", job.Action,
			"repository", job.Repository, "reference", job.Reference, "bytes", out.bytes, "took", time.Since(start))
	case permanent(err) || job.Attempts >= s.o.MaxAttempts:
		job.State, job.FinishedAt, job.Error = meta.JobFailed, now, err.Error()
		s.o.Log.Warn("replication job failed", "policy", p.Name, "job", job.ID, "attempts", job.Attempts, "err", err)
	default:
		job.State, job.Error = meta.JobQueued, err.Error()
		job.NextAttemptAt = now.Add(Backoff(job.Attempts, s.o.RetryMin, s.o.RetryMax))
		s.o.Log.Info("replication job will be retried", "policy", p.Name, "job", job.ID, "attempts", job.Attempts,
			"at", job.NextAttemptAt, "err", err)
	}
	err = s.o.Store.Update(context.WithoutCancel(ctx), func(tx meta.Tx) error {
		if job.Action == meta.JobExpand && job.State == meta.JobSucceeded && len(out.queue) > 0 {
			if err := tx.AddReplicationJobs(job.Run, out.queue); err != nil {
				return err
			}
		}
		return tx.FinishReplicationJob(job, holder)
	})
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		s.o.Log.Warn("replication: cannot record a job's outcome", "job", job.ID, "err", err)
	}
}

// permanentError marks an error that another attempt would not cure.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, ErrInvalid)
}
