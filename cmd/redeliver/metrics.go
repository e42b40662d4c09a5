package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// writeMetrics writes the run's figures in Prometheus text format to path,
// for node_exporter's textfile collector (written to a temporary file and
// renamed, so a scrape never sees half a file).
func writeMetrics(path string, r *runResult, finished time.Time) error {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "redeliver", Name: name, Help: help}, []string{"target"})
		reg.MustRegister(g)
		return g
	}
	var (
		attempts    = gauge("attempts_listed", "Delivery attempts listed in the last run's window.")
		failed      = gauge("failed_events", "Failed events the last run worked on.")
		redelivered = gauge("redelivered", "Redeliveries GitHub accepted in the last run.")
		waiting     = gauge("waiting_events", "Failed events waiting for their next attempt.")
		pending     = gauge("pending_events", "Redeliveries asked for that have not shown yet.")
		exhausted   = gauge("exhausted_events", "Events that became exhausted in the last run.")
		expired     = gauge("expired_events", "Events that expired in the last run.")
		errs        = gauge("errors", "Redeliveries refused and target errors in the last run.")
		complete    = gauge("listing_complete", "1 when the last run's listing reached the checkpoint.")
		foreign     = gauge("foreign_redeliveries", "Redeliveries GitHub listed that this state did not ask for: another redeliverer on the hook.")
	)
	for _, t := range r.Targets {
		if t.Target == "" {
			continue
		}
		attempts.WithLabelValues(t.Target).Set(float64(t.Attempts))
		failed.WithLabelValues(t.Target).Set(float64(t.Failed))
		redelivered.WithLabelValues(t.Target).Set(float64(t.Redelivered))
		waiting.WithLabelValues(t.Target).Set(float64(t.Waiting))
		pending.WithLabelValues(t.Target).Set(float64(t.Pending))
		exhausted.WithLabelValues(t.Target).Set(float64(t.Exhausted))
		expired.WithLabelValues(t.Target).Set(float64(t.Expired))
		foreign.WithLabelValues(t.Target).Set(float64(t.Foreign))
		e := t.Errors
		if t.Error != "" {
			e++
		}
		errs.WithLabelValues(t.Target).Set(float64(e))
		c := 0.0
		if t.Complete {
			c = 1
		}
		complete.WithLabelValues(t.Target).Set(c)
	}
	last := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "redeliver", Name: "last_run_timestamp_seconds", Help: "When the last run finished (Unix time)."})
	last.Set(float64(finished.Unix()))
	code := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "redeliver", Name: "last_run_exit_code", Help: "The last run's exit code."})
	code.Set(float64(r.ExitCode))
	reg.MustRegister(last, code)
	return prometheus.WriteToTextfile(path, reg)
}
