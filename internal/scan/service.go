package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/secretbox"
)

// Blobs reads stored blobs (the blob store).
type Blobs interface {
	Open(ctx context.Context, d digest.Digest) (blob.Reader, error)
}

// Pusher stores the SBOM referrers (the registry service, which owns the
// write order).
type Pusher interface {
	PutBlob(ctx context.Context, repo string, d digest.Digest, length int64, r io.Reader) (blob.Info, error)
	PutManifest(ctx context.Context, repo string, ref registry.Reference, contentType string, body []byte, tags []string) (registry.PushResult, error)
}

// Recorder takes audit events off the request path (audit.Recorder).
type Recorder interface {
	Record(e meta.AuditEvent)
}

// SBOM formats of the referrer attached to scanned images.
const (
	FormatSPDX      = "spdx"
	FormatCycloneDX = "cyclonedx"
)

// Options configure a Service.
type Options struct {
	Store  meta.Store
	Blobs  Blobs
	Pusher Pusher // nil: no SBOM referrer is attached
	Audit  Recorder
	Log    *slog.Logger
	// Workers scan at once on this node (1); 0 with Run: only the API.
	Workers int
	// Poll is how often idle workers look for queued scans, and the
	// outbox is read for pushes (2s).
	Poll time.Duration
	// OnPush queues a scan of every manifest pushed (projects may also ask
	// for it in their policy).
	OnPush bool
	// SBOMFormat is the format of the SBOM referrer: FormatSPDX,
	// FormatCycloneDX, or "" for none.
	SBOMFormat string
	// Lease is how long a claimed scan stays with its worker without a
	// renewal (2m).
	Lease time.Duration
	// MaxAttempts at a scan before it fails for good (3).
	MaxAttempts int
	// Refresh is how often the pull policies are read again (5s).
	Refresh time.Duration
	// Events, when set, wakes the push reader when outbox events were
	// committed on this node.
	Events func() <-chan struct{}
	Now    func() time.Time
	// Secrets seals the external scanners' credentials (nil: in the clear).
	Secrets *secretbox.Box
	// Credential makes a short-lived pull credential of repo for an
	// external scanner (user, secret, and a function that revokes it);
	// nil: the scanner gets none (a registry without authentication).
	Credential func(ctx context.Context, repo string) (user, secret string, release func() error, err error)
	// RegistryURL is where external scanners reach this registry.
	RegistryURL string
}

// Service runs scans and decides pulls under the projects' policies.
type Service struct {
	o        Options
	queued   chan struct{} // wakes idle local workers
	rematch  chan struct{} // starts a rematch on this node
	policies meta.Snapshot[map[string]meta.ScanPolicy]
	verdicts sync.Map // string → verdict
}

// New returns a Service; Run starts its background work.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o, queued: make(chan struct{}, 1), rematch: make(chan struct{}, 1)}
	s.policies = meta.Snapshot[map[string]meta.ScanPolicy]{TTL: o.Refresh, Now: o.Now, Load: s.loadPolicies}
	return s
}

// wake nudges one idle local worker.
func (s *Service) wake() {
	select {
	case s.queued <- struct{}{}:
	default:
	}
}

// Run runs the workers, the push reader and the rematcher (each on one
// node of a cluster at a time) until ctx ends.
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
	wg.Add(2)
	go func() {
		defer wg.Done()
		jobs.New(s.o.Store, s.o.Log).Every(ctx, "scan-events", max(5*time.Second, 2*s.o.Poll), s.readEvents)
	}()
	go func() {
		defer wg.Done()
		jobs.New(s.o.Store, s.o.Log).Every(ctx, "scan-rematch", 30*time.Second, s.rematchLoop)
	}()
	wg.Wait()
}

// work claims and runs queued scans until ctx ends.
func (s *Service) work(ctx context.Context, holder string) {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	lastRequeue := time.Time{}
	for {
		if now := s.o.Now(); now.Sub(lastRequeue) >= s.o.Lease/2 {
			lastRequeue = now
			if err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
				_, err := tx.RequeueExpiredScans(now)
				return err
			}); err != nil && ctx.Err() == nil {
				s.o.Log.Warn("scan: requeue", "err", err)
			}
		}
		for ctx.Err() == nil {
			ran, err := s.RunOne(ctx, holder)
			if err != nil && ctx.Err() == nil {
				s.o.Log.Warn("scan: cannot claim a scan", "err", err)
			}
			if !ran || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.queued:
		}
	}
}

// Queue queues a scan of d in repo (false: one is already queued or
// running).
func (s *Service) Queue(ctx context.Context, repo string, d digest.Digest, reason string) (bool, error) {
	var ok bool
	err := s.o.Store.Update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Manifest(repo, d); err != nil {
			return err
		}
		var err error
		ok, err = tx.QueueScan(repo, d, reason, s.o.Now())
		return err
	})
	if ok {
		s.wake()
	}
	return ok, err
}

// readEvents queues scans of the manifests pushed since the cursor, for
// projects that scan on push.
func (s *Service) readEvents(ctx context.Context) error {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	onPush := s.o.OnPush
	for {
		// A push wakes the reader only when pushes are scanned somewhere;
		// otherwise it just keeps its cursor up at each poll.
		var wake <-chan struct{}
		if s.o.Events != nil && onPush {
			wake = s.o.Events()
		}
		if err := s.eventsOnce(ctx); err != nil && ctx.Err() == nil {
			s.o.Log.Warn("scan: reading pushes", "err", err)
		}
		if !s.o.OnPush {
			onPush = s.anyScanOnPush(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// anyScanOnPush reports whether a project's policy scans its pushes.
func (s *Service) anyScanOnPush(ctx context.Context) bool {
	policies, err := s.policies.Get(ctx)
	if err != nil {
		return true // when in doubt, read pushes at once
	}
	for _, p := range policies {
		if p.ScanOnPush {
			return true
		}
	}
	return false
}

// eventPage is how many outbox events are read at a time.
const eventPage = 500

func (s *Service) eventsOnce(ctx context.Context) error {
	for {
		var (
			evs    []meta.Event
			cursor int64
			pol    map[string]bool
		)
		err := s.o.Store.View(ctx, func(r meta.Reader) error {
			var err error
			if cursor, err = r.ScanCursor(); err != nil {
				return err
			}
			if evs, err = r.EventsAfter(cursor, eventPage); err != nil {
				return err
			}
			ps, err := r.ScanPolicies()
			pol = map[string]bool{}
			for _, p := range ps {
				pol[p.Project] = p.ScanOnPush
			}
			return err
		})
		if err != nil || len(evs) == 0 {
			return err
		}
		queued := 0
		err = s.o.Store.Update(ctx, func(tx meta.Tx) error {
			for _, e := range evs {
				if e.Kind != eventManifestPush || e.Digest == "" || !(s.o.OnPush || pol[meta.ProjectOf(e.Repo)]) {
					continue
				}
				ok, err := tx.QueueScan(e.Repo, e.Digest, "push", s.o.Now())
				if err != nil && !isNotFound(err) {
					return err
				}
				if ok {
					queued++
				}
			}
			return tx.AdvanceScanCursor(evs[len(evs)-1].ID)
		})
		if err != nil {
			return err
		}
		if queued > 0 {
			s.wake()
		}
		if len(evs) < eventPage {
			return nil
		}
	}
}

// eventManifestPush is the outbox kind of a stored manifest.
const eventManifestPush = "manifest.push"

func isNotFound(err error) bool { return errors.Is(err, meta.ErrNotFound) }
