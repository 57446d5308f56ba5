package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/opencontainers/go-digest"
)

// WriteProber is a blob store that can check that it takes writes (the
// filesystem driver writes, syncs and removes a file under its uploads
// directory; S3 puts and deletes a tiny object; memory always can). A
// store without it is checked with a Stat.
type WriteProber interface {
	Probe(ctx context.Context) error
}

// emptyDigest is a digest every store can be asked about: Stat of it
// answering "not found" proves the store answers.
var emptyDigest = digest.FromBytes(nil)

// storeCheck is one thing /readyz depends on.
type storeCheck struct {
	name  string
	check func(context.Context) error
}

// checkState is what the checker knows of one store.
type checkState struct {
	failures int    // consecutive failed checks
	ever     bool   // a check has succeeded once
	err      string // the last failure's reason
	inflight bool   // a check is running (or hung past its timeout)
}

// health checks the stores in the background, every health.interval, and
// answers /readyz from the last results: a store is unready after
// health.threshold consecutive failures (or while it has never answered),
// and one success makes it ready again. A check that outlives
// health.timeout counts as failed; while it stays stuck, later rounds do
// not pile more checks onto the store.
type health struct {
	cfg    config.Health
	checks []storeCheck
	log    *slog.Logger

	round   sync.Mutex // held while a round of checks runs
	mu      sync.Mutex // guards what follows
	state   []checkState
	rounds  int
	checked time.Time
}

func newHealth(cfg config.Health, blobs blob.Store, md meta.Store, log *slog.Logger) *health {
	h := &health{cfg: cfg, log: log}
	h.checks = []storeCheck{
		{"metadata", func(ctx context.Context) error {
			return md.View(ctx, func(rd meta.Reader) error {
				_, err := rd.ListRepositories("", 1)
				return err
			})
		}},
		{"storage", blobCheck(blobs)},
	}
	h.state = make([]checkState, len(h.checks))
	return h
}

// blobCheck is a write probe when the store has one, a Stat otherwise.
func blobCheck(s blob.Store) func(context.Context) error {
	if p, ok := s.(WriteProber); ok {
		return p.Probe
	}
	return func(ctx context.Context) error {
		if _, err := s.Stat(ctx, emptyDigest); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return err
		}
		return nil
	}
}

// loop checks now and then every health.interval until ctx ends.
func (h *health) loop(ctx context.Context) {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		h.round.Lock()
		h.runRound(ctx)
		h.round.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runRound checks every store at once, each bounded by health.timeout;
// the caller holds h.round.
func (h *health) runRound(ctx context.Context) {
	var wg sync.WaitGroup
	errs := make([]error, len(h.checks))
	for i := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.runCheck(ctx, i)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: a cancelled check says nothing of the store
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, err := range errs {
		st := &h.state[i]
		wasReady := h.readyLocked(st)
		if err == nil {
			st.failures, st.ever, st.err = 0, true, ""
		} else {
			st.failures++
			st.err = err.Error()
		}
		switch isReady := h.readyLocked(st); {
		case wasReady && !isReady, !isReady && h.rounds == 0:
			h.log.Warn("readiness: store check failing, /readyz answers 503", "store", h.checks[i].name,
				"failures", st.failures, "err", st.err)
		case !wasReady && isReady && h.rounds > 0:
			h.log.Info("readiness: store check passes again", "store", h.checks[i].name)
		case err != nil && isReady:
			h.log.Warn("readiness: store check failed", "store", h.checks[i].name,
				"failures", st.failures, "threshold", h.cfg.Threshold, "err", st.err)
		}
	}
	h.rounds++
	h.checked = time.Now()
}

// runCheck runs check i in a goroutine of its own, so that a store stuck
// in a system call cannot hold the round past health.timeout.
func (h *health) runCheck(ctx context.Context, i int) error {
	h.mu.Lock()
	if h.state[i].inflight {
		h.mu.Unlock()
		return errors.New("the previous check has not returned yet (the store hangs)")
	}
	h.state[i].inflight = true
	h.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		err := h.checks[i].check(cctx)
		h.mu.Lock()
		h.state[i].inflight = false
		h.mu.Unlock()
		done <- err
	}()
	timer := time.NewTimer(h.cfg.Timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s: %w", h.cfg.Timeout, err)
		}
		return err
	case <-timer.C:
		return fmt.Errorf("no answer within %s", h.cfg.Timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *health) rounds0() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rounds == 0
}

func (h *health) readyLocked(st *checkState) bool {
	return st.failures < h.cfg.Threshold && (st.ever || st.failures == 0)
}

// report is /readyz's answer: ready or not, and per store "ok" or why not.
func (h *health) report(ctx context.Context) (bool, map[string]string) {
	if h.rounds0() {
		// No round yet (the loop starts with Serve, or has only just
		// started): check now rather than answer from nothing.
		h.round.Lock()
		if h.rounds0() {
			h.runRound(ctx)
		}
		h.round.Unlock()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	body := map[string]string{}
	ready := h.rounds > 0
	for i, c := range h.checks {
		st := &h.state[i]
		switch {
		case st.failures == 0:
			body[c.name] = "ok"
		case h.readyLocked(st):
			body[c.name] = fmt.Sprintf("ok until %d failed checks in a row; failed %d: %s", h.cfg.Threshold, st.failures, st.err)
		default:
			body[c.name] = st.err
			ready = false
		}
	}
	if !h.checked.IsZero() {
		body["checked"] = h.checked.UTC().Format(time.RFC3339)
	}
	body["status"] = "unready"
	if ready {
		body["status"] = "ready"
	}
	return ready, body
}

// healthz answers 200 while the process can serve HTTP at all.
func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	writeHealth(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers from the last background check of the stores: 200 when
// both are ready, 503 with the reasons otherwise.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ready, body := a.health.report(r.Context())
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeHealth(w, status, body)
}

func writeHealth(w http.ResponseWriter, status int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
