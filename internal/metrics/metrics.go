package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of berth's metrics and the registry that serves them.
type Metrics struct {
	reg        *prometheus.Registry
	gcRuns     *prometheus.CounterVec
	gcDuration prometheus.Histogram
	gcFreed    prometheus.Counter
	gcRemoved  *prometheus.CounterVec
	http       *httpMetrics
}

// New makes the metrics, with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		gcRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_gc_runs_total", Help: "Garbage collection runs, by result (ok, failed).",
		}, []string{"result"}),
		gcDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "berth_gc_duration_seconds", Help: "How long garbage collection runs took.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms to ~44 min
		}),
		gcFreed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_gc_freed_bytes_total", Help: "Bytes of stored blobs garbage collection deleted.",
		}),
		gcRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_gc_removed_total", Help: "What garbage collection removed, by kind (manifest, link, blob).",
		}, []string{"kind"}),
		http: newHTTPMetrics(),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.gcRuns, m.gcDuration, m.gcFreed, m.gcRemoved)
	m.reg.MustRegister(m.http.collectors()...)
	for _, r := range []string{"ok", "failed"} {
		m.gcRuns.WithLabelValues(r) // present from the start, at 0
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// GCRun is what one garbage collection run did.
type GCRun struct {
	Duration                time.Duration
	Manifests, Links, Blobs int
	Bytes                   int64
}

// ObserveGC records a finished run (dry runs are not reported here).
func (m *Metrics) ObserveGC(r GCRun, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.gcRuns.WithLabelValues(result).Inc()
	m.gcDuration.Observe(r.Duration.Seconds())
	m.gcFreed.Add(float64(r.Bytes))
	m.gcRemoved.WithLabelValues("manifest").Add(float64(r.Manifests))
	m.gcRemoved.WithLabelValues("link").Add(float64(r.Links))
	m.gcRemoved.WithLabelValues("blob").Add(float64(r.Blobs))
}

// ProjectUsage is one project's storage use and quota (0 = none).
type ProjectUsage struct {
	Project     string
	Used, Quota int64
}

// UsageSource reads every project's usage; it is called at each scrape.
type UsageSource func(ctx context.Context) ([]ProjectUsage, error)

// WatchUsage exports the usage source reports as gauges, read at scrape
// time (a failed read is logged and leaves the gauges out).
func (m *Metrics) WatchUsage(src UsageSource, log *slog.Logger) {
	m.reg.MustRegister(&usageCollector{src: src, log: log})
}

var (
	usedDesc  = prometheus.NewDesc("berth_project_storage_bytes", "Bytes a project's repositories reference, each blob counted once per project.", []string{"project"}, nil)
	quotaDesc = prometheus.NewDesc("berth_project_quota_bytes", "A project's storage quota in bytes (projects with a quota only).", []string{"project"}, nil)
)

// scrapeTimeout bounds the usage read of one scrape.
const scrapeTimeout = 10 * time.Second

type usageCollector struct {
	src UsageSource
	log *slog.Logger
}

func (c *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usedDesc
	ch <- quotaDesc
}

func (c *usageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	us, err := c.src(ctx)
	if err != nil {
		c.log.Error("metrics: project usage not read", "err", err)
		return
	}
	for _, u := range us {
		ch <- prometheus.MustNewConstMetric(usedDesc, prometheus.GaugeValue, float64(u.Used), u.Project)
		if u.Quota > 0 {
			ch <- prometheus.MustNewConstMetric(quotaDesc, prometheus.GaugeValue, float64(u.Quota), u.Project)
		}
	}
}

// CountSource reads one figure; it is called at each scrape.
type CountSource func(ctx context.Context) (int, error)

var storageDesc = prometheus.NewDesc("berth_storage_bytes", "Bytes the manifests of every project hold, each blob counted once however many projects use it.", nil, nil)

// WatchStorage exports the total storage src reports, read at scrape time
// (a failed read is logged and leaves the gauge out).
func (m *Metrics) WatchStorage(src CountSource, log *slog.Logger) {
	m.reg.MustRegister(&countCollector{desc: storageDesc, src: src, log: log})
}

var uploadsDesc = prometheus.NewDesc("berth_upload_sessions", "Blob upload sessions holding bytes (sent in a PATCH, and neither finished, cancelled nor purged yet), across the cluster; a session that has only been started is not counted.", nil, nil)

// WatchUploads exports the number of open upload sessions src reports, read
// at scrape time (a failed read is logged and leaves the gauge out).
func (m *Metrics) WatchUploads(src CountSource, log *slog.Logger) {
	m.reg.MustRegister(&countCollector{desc: uploadsDesc, src: src, log: log})
}

type countCollector struct {
	desc *prometheus.Desc
	src  CountSource
	log  *slog.Logger
}

func (c *countCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *countCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, err := c.src(ctx)
	if err != nil {
		c.log.Error("metrics: figure not read", "metric", c.desc.String(), "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
