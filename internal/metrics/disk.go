package metrics

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	diskSizeDesc  = prometheus.NewDesc("berth_storage_filesystem_size_bytes", "Size of the filesystem holding the blob store (storage.driver filesystem).", []string{"path"}, nil)
	diskAvailDesc = prometheus.NewDesc("berth_storage_filesystem_avail_bytes", "Bytes available to berth on the filesystem holding the blob store (storage.driver filesystem).", []string{"path"}, nil)
)

// WatchDisk exports the size and free space of the filesystem holding
// path, read at scrape time (where the platform can tell; a failed read is
// logged and leaves the gauges out).
func (m *Metrics) WatchDisk(path string, log *slog.Logger) {
	m.reg.MustRegister(&diskCollector{path: path, log: log})
}

type diskCollector struct {
	path string
	log  *slog.Logger
}

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- diskSizeDesc
	ch <- diskAvailDesc
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	size, avail, err := diskSpace(c.path)
	if err != nil {
		c.log.Error("metrics: filesystem space not read", "path", c.path, "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(diskSizeDesc, prometheus.GaugeValue, float64(size), c.path)
	ch <- prometheus.MustNewConstMetric(diskAvailDesc, prometheus.GaugeValue, float64(avail), c.path)
}
