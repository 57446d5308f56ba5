package replicate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/secretbox"
	"github.com/berth-registry/berth/internal/transfer"
)

// Options configure a Service; zero fields take the defaults.
type Options struct {
	Store   meta.Store
	Secrets *secretbox.Box // seals the remote passwords; nil: kept in the clear
	Log     *slog.Logger
	Local   Local
	// Workers is how many jobs this node runs at once (2).
	Workers int
	// Poll is how often idle workers look for due jobs and the scheduler
	// reads the outbox and the schedules (1s).
	Poll time.Duration
	// JobLease is how long a claimed job stays with its worker without a
	// renewal (30s); a job whose node died runs again after it.
	JobLease time.Duration
	// RetryMin doubles after each failed attempt up to RetryMax (2s, 5m);
	// a job fails for good after MaxAttempts attempts (10).
	RetryMin, RetryMax time.Duration
	MaxAttempts        int
	// History is how long finished runs are kept (30 days).
	History time.Duration
	// UserAgent is sent to remote registries.
	UserAgent string
	Now       func() time.Time
	// Events, when set, returns a channel closed when outbox events were
	// committed on this node: the scheduler reads them at once instead of
	// at its next poll.
	Events func() <-chan struct{}
	// Queued wakes idle workers when runs were started; share one between
	// the Services of a process (the API's starts runs the workers of
	// another run). Nil: the Service's own.
	Queued *meta.Signal
}

func (o *Options) defaults() {
	if o.Queued == nil {
		o.Queued = new(meta.Signal)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.JobLease <= 0 {
		o.JobLease = 30 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 2 * time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(5*time.Minute, o.RetryMin)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.History <= 0 {
		o.History = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service manages the policies and runs the queue.
type Service struct {
	o        Options
	mu       sync.Mutex
	limiters map[int64]*policyLimiter
	conns    map[int64]*policyConns // see sides
}

type policyLimiter struct {
	rate int64
	l    *transfer.Limiter
}

// New returns a Service; Run starts its workers and scheduler.
func New(o Options) *Service {
	o.defaults()
	return &Service{o: o, limiters: map[int64]*policyLimiter{}, conns: map[int64]*policyConns{}}
}

// Backoff is the wait before attempt n+1 after n failed attempts: min,
// doubling, capped at max.
func Backoff(n int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// Validate checks a policy's settings.
func Validate(p meta.ReplicationPolicy) error {
	if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") {
		return fmt.Errorf("%w: name %q: want a non-empty name without spaces or slashes", ErrInvalid, p.Name)
	}
	switch p.Direction {
	case meta.ReplicationPush, meta.ReplicationPull:
	default:
		return fmt.Errorf("%w: direction %q: want push or pull", ErrInvalid, p.Direction)
	}
	if _, _, err := remoteHost(p.RemoteURL); err != nil {
		return err
	}
	if _, err := NewFilter(p); err != nil {
		return err
	}
	if p.Schedule != "" {
		if _, err := ParseSchedule(p.Schedule); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if p.OnEvent && p.Direction != meta.ReplicationPush {
		return fmt.Errorf("%w: the event trigger is for push policies (this registry's pushes and deletes)", ErrInvalid)
	}
	if p.Deletes && !p.OnEvent {
		return fmt.Errorf("%w: delete propagation needs the event trigger", ErrInvalid)
	}
	if p.Prefix != "" && (strings.HasPrefix(p.Prefix, "/") || strings.HasSuffix(p.Prefix, "/") || strings.Contains(p.Prefix, "//")) {
		return fmt.Errorf("%w: prefix %q: want a path such as mirror or team/copies", ErrInvalid, p.Prefix)
	}
	if p.Bandwidth < 0 || p.Concurrency < 0 || p.Concurrency > 64 {
		return fmt.Errorf("%w: bandwidth must be >= 0 and concurrency 0 to 64", ErrInvalid)
	}
	return nil
}

// remoteHost returns the registry host of a remote URL (https://host:port,
// http://host:port or host:port) and whether it is plain HTTP.
func remoteHost(raw string) (host string, plain bool, err error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, fmt.Errorf("%w: remote URL %q: want https://host[:port] or http://host[:port]", ErrInvalid, raw)
	}
	return u.Host, u.Scheme == "http", nil
}

// Patch changes some settings of a policy; nil fields stay.
type Patch struct {
	Name, Direction, RemoteURL, Username, Password *string
	Repositories, Tags, Label, Prefix, Schedule    *string
	Enabled, Insecure, OnEvent, Deletes            *bool
	Bandwidth                                      *int64
	Concurrency                                    *int
}

func (p Patch) apply(pol *meta.ReplicationPolicy) {
	for _, f := range []struct {
		from *string
		to   *string
	}{{p.Name, &pol.Name}, {p.Direction, &pol.Direction}, {p.RemoteURL, &pol.RemoteURL}, {p.Username, &pol.Username},
		{p.Repositories, &pol.Repositories}, {p.Tags, &pol.Tags}, {p.Label, &pol.Label}, {p.Prefix, &pol.Prefix},
		{p.Schedule, &pol.Schedule}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	for _, f := range []struct {
		from *bool
		to   *bool
	}{{p.Enabled, &pol.Enabled}, {p.Insecure, &pol.Insecure}, {p.OnEvent, &pol.OnEvent}, {p.Deletes, &pol.Deletes}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if p.Bandwidth != nil {
		pol.Bandwidth = *p.Bandwidth
	}
	if p.Concurrency != nil {
		pol.Concurrency = *p.Concurrency
	}
}

func (s *Service) seal(password string) ([]byte, error) {
	if password == "" || s.o.Secrets == nil {
		return []byte(password), nil
	}
	return s.o.Secrets.Seal([]byte(password))
}

// AddPolicy validates and stores a policy (password in the clear; it is
// sealed here).
func (s *Service) AddPolicy(ctx context.Context, p meta.ReplicationPolicy, password string) (meta.ReplicationPolicy, error) {
	if err := Validate(p); err != nil {
		return meta.ReplicationPolicy{}, err
	}
	var err error
	if p.Password, err = s.seal(password); err != nil {
		return meta.ReplicationPolicy{}, err
	}
	p.CreatedAt = s.o.Now().UTC()
	err = s.o.Store.Update(ctx, func(tx meta.Tx) error {
		id, err := tx.AddReplicationPolicy(p)
		if err != nil {
			return err
		}
		p, err = tx.ReplicationPolicy(id)
		return err
	})
	return p, err
}

// UpdatePolicy applies a patch to a policy.
func (s *Service) UpdatePolicy(ctx context.Context, id int64, patch Patch) (meta.ReplicationPolicy, error) {
	var sealed []byte
	if patch.Password != nil {
		var err error
		if sealed, err = s.seal(*patch.Password); err != nil {
			return meta.ReplicationPolicy{}, err
		}
	}
	var p meta.ReplicationPolicy
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		var err error
		if p, err = tx.ReplicationPolicy(id); err != nil {
			return err
		}
		patch.apply(&p)
		if sealed != nil {
			p.Password = sealed
		}
		if err := Validate(p); err != nil {
			return err
		}
		if err := tx.UpdateReplicationPolicy(p); err != nil {
			return err
		}
		p, err = tx.ReplicationPolicy(id)
		return err
	})
	return p, err
}

// DeletePolicy removes a policy with its history.
func (s *Service) DeletePolicy(ctx context.Context, id int64) error {
	return s.o.Store.Update(ctx, func(tx meta.Tx) error { return tx.DeleteReplicationPolicy(id) })
}

// Policy returns one policy.
func (s *Service) Policy(ctx context.Context, id int64) (meta.ReplicationPolicy, error) {
	var p meta.ReplicationPolicy
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		p, err = r.ReplicationPolicy(id)
		return err
	})
	return p, err
}

// Policies returns every policy.
func (s *Service) Policies(ctx context.Context) ([]meta.ReplicationPolicy, error) {
	var ps []meta.ReplicationPolicy
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		ps, err = r.ListReplicationPolicies()
		return err
	})
	return ps, err
}

// ErrDisabled: a manual run of a disabled policy.
var ErrDisabled = errors.New("the replication policy is disabled")

// Trigger starts a run of the whole policy (manual or scheduled): one
// expand job that queues the copies.
func (s *Service) Trigger(ctx context.Context, id int64, trigger string) (meta.ReplicationRun, error) {
	var run meta.ReplicationRun
	now := s.o.Now().UTC()
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		p, err := tx.ReplicationPolicy(id)
		if err != nil {
			return err
		}
		if !p.Enabled {
			return fmt.Errorf("%w: %w", ErrInvalid, ErrDisabled)
		}
		runID, err := s.startRun(tx, p, trigger, now)
		if err != nil {
			return err
		}
		run, err = tx.ReplicationRun(runID)
		return err
	})
	if err == nil {
		s.o.Queued.Notify()
	}
	return run, err
}

func (s *Service) startRun(tx meta.Tx, p meta.ReplicationPolicy, trigger string, now time.Time) (int64, error) {
	return tx.AddReplicationRun(meta.ReplicationRun{Policy: p.ID, Trigger: trigger, StartedAt: now},
		[]meta.ReplicationJob{{Action: meta.JobExpand, CreatedAt: now}})
}

// Runs returns up to n runs (of one policy, or all with policy 0), newest
// first, before the run ID before (0: from the newest).
func (s *Service) Runs(ctx context.Context, policy, before int64, n int) ([]meta.ReplicationRun, error) {
	var rs []meta.ReplicationRun
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		if policy != 0 {
			if _, err := r.ReplicationPolicy(policy); err != nil {
				return err
			}
		}
		var err error
		rs, err = r.ReplicationRuns(policy, before, n)
		return err
	})
	return rs, err
}

// GetRun returns a run with its jobs.
func (s *Service) GetRun(ctx context.Context, id int64) (meta.ReplicationRun, []meta.ReplicationJob, error) {
	var (
		run  meta.ReplicationRun
		jobs []meta.ReplicationJob
	)
	err := s.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		if run, err = r.ReplicationRun(id); err != nil {
			return err
		}
		jobs, err = r.ReplicationJobs(id)
		return err
	})
	return run, jobs, err
}

// limiter returns the policy's shared bandwidth limiter (nil: none).
func (s *Service) limiter(p meta.ReplicationPolicy) *transfer.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl, ok := s.limiters[p.ID]
	if !ok || pl.rate != p.Bandwidth {
		pl = &policyLimiter{rate: p.Bandwidth, l: transfer.NewLimiter(p.Bandwidth)}
		s.limiters[p.ID] = pl
	}
	return pl.l
}
