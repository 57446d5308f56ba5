package metrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The HTTP and registry metrics. Their label values come from the callers,
// who keep them to small sets: a route is one of a fixed list derived from
// the path (never the path itself), a method one of the HTTP methods or
// "other", an operation push, pull or delete.
type httpMetrics struct {
	requests   *prometheus.CounterVec   // route, method, code
	duration   *prometheus.HistogramVec // route, method
	bytesIn    *prometheus.CounterVec   // route
	bytesOut   *prometheus.CounterVec   // route
	operations *prometheus.CounterVec   // project, operation
	authFails  *prometheus.CounterVec   // reason

	// The label children already looked up, so that a request costs a
	// map read and no allocation: copy-on-write maps, read without a lock.
	mu      sync.Mutex
	series  atomic.Pointer[map[requestKey]*requestSeries]
	opsSeen atomic.Pointer[map[opKey]prometheus.Counter]
}

type requestKey struct {
	route, method string
	code          int
}

// requestSeries is one route, method and status code's children.
type requestSeries struct {
	requests          prometheus.Counter
	duration          prometheus.Observer
	bytesIn, bytesOut prometheus.Counter
}

type opKey struct{ project, operation string }

// latencyBuckets span a cached manifest read (a millisecond) to a large
// layer upload (minutes).
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// AuthFailureReasons are the reasons CountAuthFailure knows; the series of
// each exist from the start, at 0, so that rate() and increase() see the
// first failure.
var AuthFailureReasons = []string{"bad_credentials", "throttled"}

// Operations are the registry operations CountOperation counts.
var Operations = []string{"push", "pull", "delete"}

func newHTTPMetrics() *httpMetrics {
	h := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_requests_total", Help: "HTTP requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_http_request_duration_seconds", Help: "How long HTTP requests took to answer, by route and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_request_bytes_total", Help: "Bytes of request bodies read, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_response_bytes_total", Help: "Bytes of response bodies written, by route.",
		}, []string{"route"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_registry_operations_total", Help: "Manifest pushes (PUT), pulls (GET) and deletes, by project.",
		}, []string{"project", "operation"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_auth_failures_total", Help: "Failed logins to the registry and token service, by reason (bad_credentials, throttled).",
		}, []string{"reason"}),
	}
	for _, r := range AuthFailureReasons {
		h.authFails.WithLabelValues(r)
	}
	h.series.Store(&map[requestKey]*requestSeries{})
	h.opsSeen.Store(&map[opKey]prometheus.Counter{})
	return h
}

func (h *httpMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.requests, h.duration, h.bytesIn, h.bytesOut, h.operations, h.authFails}
}

// ObserveRequest records one answered request: its route, method and
// status code, how long it took and the body bytes read and written.
func (m *Metrics) ObserveRequest(route, method string, code int, seconds float64, in, out int64) {
	h := m.http
	s := (*h.series.Load())[requestKey{route, method, code}]
	if s == nil {
		s = h.addSeries(requestKey{route, method, code})
	}
	s.requests.Inc()
	s.duration.Observe(seconds)
	if in > 0 {
		s.bytesIn.Add(float64(in))
	}
	if out > 0 {
		s.bytesOut.Add(float64(out))
	}
}

func (h *httpMetrics) addSeries(k requestKey) *requestSeries {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.series.Load()
	if s := old[k]; s != nil {
		return s
	}
	// The caller's strings may be slices of a request's path: keep copies.
	k.route, k.method = strings.Clone(k.route), strings.Clone(k.method)
	s := &requestSeries{
		requests: h.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.code)),
		duration: h.duration.WithLabelValues(k.route, k.method),
		bytesIn:  h.bytesIn.WithLabelValues(k.route),
		bytesOut: h.bytesOut.WithLabelValues(k.route),
	}
	next := make(map[requestKey]*requestSeries, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	h.series.Store(&next)
	return s
}

// CountOperation counts a push, pull or delete of a manifest in project.
func (m *Metrics) CountOperation(project, operation string) {
	h := m.http
	c := (*h.opsSeen.Load())[opKey{project, operation}]
	if c == nil {
		c = h.addOp(opKey{project, operation})
	}
	c.Inc()
}

func (h *httpMetrics) addOp(k opKey) prometheus.Counter {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.opsSeen.Load()
	if c := old[k]; c != nil {
		return c
	}
	k.project, k.operation = strings.Clone(k.project), strings.Clone(k.operation)
	c := h.operations.WithLabelValues(k.project, k.operation)
	next := make(map[opKey]prometheus.Counter, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = c
	h.opsSeen.Store(&next)
	return c
}

// CountAuthFailure counts a failed login, by reason (AuthFailureReasons).
func (m *Metrics) CountAuthFailure(reason string) {
	m.http.authFails.WithLabelValues(reason).Inc()
}
