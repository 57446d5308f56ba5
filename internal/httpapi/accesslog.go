package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/actor"
)

// AccessLog writes one log line per request, off the request path: the
// edge queues a fixed-size entry on a channel and one goroutine formats
// and writes it. When the queue is full the line is dropped and counted;
// a request never waits for the log.
type AccessLog struct {
	log     *slog.Logger
	ch      chan accessEntry
	dropped atomic.Int64
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// accessEntry is one request as the access log records it. The repository
// is derived from the path by the writer, not the request.
type accessEntry struct {
	end      time.Time
	dur      time.Duration
	id       string
	method   string
	path     string
	user     string
	client   netip.Addr
	status   int
	in, out  int64
	panicked bool
}

// accessReportEvery is how often dropped lines are reported.
const accessReportEvery = 10 * time.Second

// NewAccessLog starts an access log writing to log at level info, holding
// at most queue lines waiting.
func NewAccessLog(log *slog.Logger, queue int) *AccessLog {
	l := &AccessLog{log: log, ch: make(chan accessEntry, max(queue, 1)), stop: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

// Dropped is how many lines were dropped because the queue was full.
func (l *AccessLog) Dropped() int64 { return l.dropped.Load() }

// Close writes the lines queued so far and stops; lines of requests that
// end afterwards are dropped. A nil AccessLog is closed already.
func (l *AccessLog) Close() {
	if l == nil {
		return
	}
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

func (l *AccessLog) record(e accessEntry) {
	select {
	case l.ch <- e:
	default:
		l.dropped.Add(1)
	}
}

func (l *AccessLog) loop() {
	defer close(l.done)
	tick := time.NewTicker(accessReportEvery)
	defer tick.Stop()
	var reported int64
	for {
		select {
		case e := <-l.ch:
			l.write(e)
		case <-tick.C:
			if n := l.dropped.Load(); n > reported {
				l.log.Warn("access log lines dropped: the queue was full", "count", n-reported)
				reported = n
			}
		case <-l.stop:
			for {
				select {
				case e := <-l.ch:
					l.write(e)
				default:
					return
				}
			}
		}
	}
}

func (l *AccessLog) write(e accessEntry) {
	ctx := context.Background()
	h := l.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(e.end, slog.LevelInfo, "access", 0)
	rec.AddAttrs(
		slog.String("request_id", e.id),
		slog.String("client", e.client.String()),
		slog.String("user", e.user),
		slog.String("method", e.method),
		slog.String("path", e.path),
	)
	if repo := repositoryOf(e.path); repo != "" {
		rec.AddAttrs(slog.String("repository", repo))
	}
	rec.AddAttrs(
		slog.Int("status", e.status),
		slog.Int64("bytes_in", e.in),
		slog.Int64("bytes_out", e.out),
		slog.Duration("duration", e.dur),
	)
	if e.panicked {
		rec.AddAttrs(slog.Bool("aborted", true))
	}
	_ = h.Handle(ctx, rec)
}

// repositoryOf is the repository a /v2/ path names, "" for others.
func repositoryOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	rt, _ := splitRoute(rest)
	return rt.name
}

// begin starts recording a request: the returned recorder stands in for w
// and the request body, and tracks the actor handlers find.
func (l *AccessLog) begin(w http.ResponseWriter, r *http.Request) *recorder {
	rec := &recorder{countingWriter: countingWriter{ResponseWriter: w}, start: time.Now()}
	if r.Body != nil && r.Body != http.NoBody {
		rec.body.ReadCloser = r.Body
	}
	return rec
}

// finish queues the request's line. Health probes that pass get none: a
// load balancer's probe every few seconds would drown the log.
func (l *AccessLog) finish(rec *recorder, r *http.Request, id string, client netip.Addr, panicked bool) {
	end := time.Now()
	status := rec.code
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
		if panicked {
			status = 0 // the connection was dropped without an answer
		}
	}
	if status == http.StatusOK && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz") {
		return
	}
	l.record(accessEntry{
		end: end, dur: end.Sub(rec.start), id: id, method: r.Method, path: r.URL.Path,
		user: rec.slot.Actor().Name, client: client, status: status, in: rec.body.n, out: rec.out, panicked: panicked,
	})
}

// recorder is the access log's view of one request: its status and bytes
// written (countingWriter), the bytes read, its start and its actor.
type recorder struct {
	countingWriter
	start time.Time
	body  countingBody
	slot  actor.Slot
}
