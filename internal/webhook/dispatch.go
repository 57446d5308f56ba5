package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/secretbox"
)

// Options configure a Dispatcher; zero fields take the defaults.
type Options struct {
	Store   meta.Store
	Secrets *secretbox.Box // opens the endpoints' sealed secrets; nil: none sealed
	Log     *slog.Logger
	Client  *http.Client // default: a client with Timeout
	Timeout time.Duration
	Origin  Origin
	// Poll is how often an idle dispatcher reads the outbox (500ms), and
	// the endpoint list is re-read (twice that).
	Poll time.Duration
	// Lease is how often a node tries to take an endpoint's lease (5s);
	// the lease lasts two of them and is renewed while delivering.
	Lease time.Duration
	// MinBackoff doubles after each failure up to MaxBackoff (1s, 5m).
	MinBackoff, MaxBackoff time.Duration
	// Batch bounds the events of one registry envelope (50).
	Batch int
	// Events, when set, returns a channel closed when outbox events were
	// committed on this node: an idle dispatcher delivers them at once
	// instead of at its next poll.
	Events func() <-chan struct{}
}

// pageSize is how many outbox events a dispatcher reads at a time.
const pageSize = 200

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Minute, o.MinBackoff)
	}
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Origin.InstanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Origin.InstanceID = hex.EncodeToString(b[:])
	}
}

// Backoff is the wait after a failure that followed a wait of prev (0:
// the first failure): min, doubling, capped at max.
func Backoff(prev, minWait, maxWait time.Duration) time.Duration {
	if prev < minWait {
		return minWait
	}
	return min(prev*2, maxWait)
}

// Dispatcher delivers the outbox to every enabled endpoint.
type Dispatcher struct {
	o     Options
	sched *jobs.Scheduler
}

// New returns a Dispatcher; Run starts it.
func New(o Options) *Dispatcher {
	o.defaults()
	return &Dispatcher{o: o, sched: jobs.New(o.Store, o.Log)}
}

// LeaseName is the lease under which one node delivers to endpoint id.
func LeaseName(id int64) string { return fmt.Sprintf("webhook-%d", id) }

// Run runs a dispatcher for each enabled endpoint until ctx ends, starting
// and stopping them as endpoints are added, enabled, disabled or removed.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	running := map[int64]context.CancelFunc{}
	defer func() {
		for _, stop := range running {
			stop()
		}
		wg.Wait()
	}()
	tick := time.NewTicker(2 * d.o.Poll)
	defer tick.Stop()
	for {
		var hooks []meta.Webhook
		err := d.o.Store.View(ctx, func(r meta.Reader) error {
			var err error
			hooks, err = r.AllWebhooks()
			return err
		})
		if err != nil && ctx.Err() == nil {
			d.o.Log.Warn("webhooks: cannot list the endpoints", "err", err)
		}
		if err == nil {
			want := map[int64]bool{}
			for _, w := range hooks {
				if w.Enabled {
					want[w.ID] = true
				}
			}
			for id, stop := range running {
				if !want[id] {
					stop()
					delete(running, id)
				}
			}
			for id := range want {
				if _, ok := running[id]; ok {
					continue
				}
				wctx, stop := context.WithCancel(ctx)
				running[id] = stop
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.endpoint(wctx, id)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// endpoint delivers to one endpoint whenever this node holds its lease,
// and gives the lease up when it stops.
func (d *Dispatcher) endpoint(ctx context.Context, id int64) {
	name := LeaseName(id)
	d.sched.Every(ctx, name, d.o.Lease, func(ctx context.Context) error { return d.deliverLoop(ctx, id) })
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = d.o.Store.Update(rctx, func(tx meta.Tx) error { return tx.ReleaseLease(name, d.sched.Holder()) })
}

// pending is the next request of an endpoint: the events that pass its
// filter and the outbox id the cursor moves to once they are delivered.
type pending struct {
	events []meta.Event
	upTo   int64
}

// next picks the events of evs (in ID order) that w wants, at most n,
// and how far the cursor may move once they are delivered: past the last
// of them when the batch is full, else past every event read.
func next(w meta.Webhook, evs []meta.Event, n int) pending {
	var p pending
	for _, e := range evs {
		p.upTo = e.ID
		if !w.Wants(e) {
			continue
		}
		p.events = append(p.events, e)
		if len(p.events) == n {
			break
		}
	}
	return p
}

// errStop ends a dispatcher: the endpoint was disabled or removed.
var errStop = errors.New("endpoint disabled or removed")

// deliverLoop delivers to endpoint id until ctx ends or the endpoint is
// disabled or removed.
func (d *Dispatcher) deliverLoop(ctx context.Context, id int64) error {
	var (
		wait      time.Duration // the last backoff
		attempt   int
		lastFirst int64 // first event id of the last failed attempt
	)
	for ctx.Err() == nil {
		var wake <-chan struct{} // nil (never) without Events
		if d.o.Events != nil {
			wake = d.o.Events()
		}
		w, evs, err := d.read(ctx, id)
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.o.Log.Warn("webhooks: cannot read the outbox", "webhook", id, "err", err)
			sleep(ctx, d.o.Poll)
			continue
		}
		if len(evs) == 0 {
			sleepOr(ctx, d.o.Poll, wake)
			continue
		}
		p := next(w, evs, batchMax(w.Format, d.o.Batch))
		if len(p.events) == 0 {
			if err := d.advance(ctx, id, p.upTo); err != nil {
				sleep(ctx, d.o.Poll)
			}
			continue
		}
		if p.events[0].ID == lastFirst {
			attempt++
		} else {
			attempt = 1
		}
		rec := d.send(ctx, w, p.events, attempt)
		if ctx.Err() != nil && rec.Error != "" {
			return nil // stopped (or the lease was lost) mid-request
		}
		d.record(ctx, rec)
		if rec.Error == "" {
			wait, lastFirst = 0, 0
			if err := d.advance(ctx, id, p.upTo); err != nil {
				sleep(ctx, d.o.Poll)
			}
			continue
		}
		lastFirst = p.events[0].ID
		wait = Backoff(wait, d.o.MinBackoff, d.o.MaxBackoff)
		d.o.Log.Warn("webhook delivery failed; will retry", "webhook", id, "url", w.URL, "events", len(p.events),
			"attempt", attempt, "status", rec.Status, "err", rec.Error, "retry_in", wait)
		sleep(ctx, wait)
	}
	return nil
}

// read returns the endpoint and the next page of the outbox after its
// cursor; errStop when it is gone or disabled.
func (d *Dispatcher) read(ctx context.Context, id int64) (meta.Webhook, []meta.Event, error) {
	var (
		w   meta.Webhook
		evs []meta.Event
	)
	err := d.o.Store.View(ctx, func(r meta.Reader) error {
		var err error
		if w, err = r.Webhook(id); errors.Is(err, meta.ErrNotFound) {
			return errStop
		} else if err != nil {
			return err
		}
		if !w.Enabled {
			return errStop
		}
		evs, err = r.EventsAfter(w.Cursor, pageSize)
		return err
	})
	return w, evs, err
}

// advance moves the cursor, even when ctx ended right after a delivery
// (fewer duplicates after a restart).
func (d *Dispatcher) advance(ctx context.Context, id, to int64) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := d.o.Store.Update(uctx, func(tx meta.Tx) error { return tx.AdvanceWebhookCursor(id, to) })
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		d.o.Log.Warn("webhooks: cannot move the cursor", "webhook", id, "err", err)
	}
	return err
}

func (d *Dispatcher) record(ctx context.Context, rec meta.WebhookDelivery) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := d.o.Store.UpdateAsync(uctx, func(tx meta.Tx) error { return tx.RecordWebhookDelivery(rec) })
	if err != nil && ctx.Err() == nil {
		d.o.Log.Warn("webhooks: cannot write the delivery log", "webhook", rec.Webhook, "err", err)
	}
}

// send makes one attempt at delivering events to w and describes it.
func (d *Dispatcher) send(ctx context.Context, w meta.Webhook, events []meta.Event, attempt int) meta.WebhookDelivery {
	rec := meta.WebhookDelivery{Webhook: w.ID, FirstEvent: events[0].ID, LastEvent: events[len(events)-1].ID,
		Events: len(events), Attempt: attempt, At: time.Now()}
	defer func() { rec.Duration = time.Since(rec.At) }()
	secret, err := d.o.Secrets.Open(w.Secret)
	if err != nil {
		rec.Error = "secret: " + err.Error()
		return rec
	}
	b, contentType, err := body(d.o.Origin, w, events)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "berth-webhook")
	req.Header.Set(HeaderSignature, Sign(secret, b))
	req.Header.Set(HeaderEvent, eventHeader(events))
	req.Header.Set(HeaderDelivery, fmt.Sprintf("%d-%d-%d", w.ID, rec.FirstEvent, rec.LastEvent))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	rec.Status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		rec.Error = resp.Status
	}
	return rec
}

// eventHeader lists the distinct event types of a request, in order.
func eventHeader(events []meta.Event) string {
	var types []string
	for _, e := range events {
		t := EventType(e.Kind)
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return strings.Join(types, ",")
}

func sleep(ctx context.Context, d time.Duration) { sleepOr(ctx, d, nil) }

// sleepOr is sleep that also ends when wake is closed.
func sleepOr(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}
