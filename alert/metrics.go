package alert

import "github.com/prometheus/client_golang/prometheus"

var (
	descNotices = prometheus.NewDesc("redeliver_alert_notices_total",
		"Alert notices by notifier and result (sent, resolved, failed: every try failed).", []string{"notifier", "result"}, nil)
	descRetries = prometheus.NewDesc("redeliver_alert_retries_total",
		"Alert deliveries that failed and were tried again.", []string{"notifier"}, nil)
)

// Collector exposes the Alerter's Stats to a Prometheus registry.
func (a *Alerter) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Alerter }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- descNotices; ch <- descRetries }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.a.Stats() {
		ch <- prometheus.MustNewConstMetric(descNotices, prometheus.CounterValue, float64(s.Sent), name, "sent")
		ch <- prometheus.MustNewConstMetric(descNotices, prometheus.CounterValue, float64(s.Resolved), name, "resolved")
		ch <- prometheus.MustNewConstMetric(descNotices, prometheus.CounterValue, float64(s.Failures), name, "failed")
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries), name)
	}
}
