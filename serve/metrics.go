package serve

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus figures, all under "redeliver_serve_".
type metrics struct {
	polls          *prometheus.CounterVec   // target, result
	apiCalls       *prometheus.CounterVec   // route, status
	budgetRemain   *prometheus.GaugeVec     // credential
	budgetLimit    *prometheus.GaugeVec     // credential
	budgetTokens   *prometheus.GaugeVec     // credential
	stretched      *prometheus.GaugeVec     // credential
	delayed        *prometheus.CounterVec   // credential
	redelivered    *prometheus.CounterVec   // target
	held           *prometheus.CounterVec   // target
	pings          *prometheus.CounterVec   // target, result
	ledger         *prometheus.GaugeVec     // target, state
	recovery       *prometheus.HistogramVec // target
	lastSuccess    *prometheus.GaugeVec     // target
	receiverUp     *prometheus.GaugeVec     // target
	interval       *prometheus.GaugeVec     // target
	targets        prometheus.Gauge
	ready          prometheus.Gauge
	storeAvailable prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "redeliver", "serve"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	m := &metrics{
		polls:        counter("polls_total", "Polls of a target, by result (ok, error).", "target", "result"),
		apiCalls:     counter("api_calls_total", "Answers from GitHub by route and status; 304s cost no primary rate limit.", "route", "status"),
		budgetRemain: gauge("budget_remaining", "x-ratelimit-remaining in GitHub's last answer, per credential.", "credential"),
		budgetLimit:  gauge("budget_limit", "x-ratelimit-limit in GitHub's last answer, per credential.", "credential"),
		budgetTokens: gauge("budget_tokens", "Billed calls the service may still make now within its share of the hourly quota.", "credential"),
		stretched:    gauge("budget_stretched", "1 while polls are delayed because the API budget runs low.", "credential"),
		delayed:      counter("budget_delayed_polls_total", "Polls delayed because the API budget ran low.", "credential"),
		redelivered:  counter("redeliveries_total", "Redeliveries GitHub accepted.", "target"),
		pings:        counter("pings_total", "Pings of a hook whose receiver was seen failing, by result (ok, error); each costs one billed API call.", "target", "result"),
		held:         counter("held_polls_total", "Polls whose redeliveries were held because the receiver was seen failing.", "target"),
		ledger:       gauge("ledger_events", "Ledger entries per state.", "target", "state"),
		recovery: func() *prometheus.HistogramVec {
			h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "time_to_recovery_seconds",
				Help:    "From an event's first failed delivery to the successful redelivery the service saw (GitHub's clock).",
				Buckets: []float64{30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600}}, []string{"target"})
			reg.MustRegister(h)
			return h
		}(),
		lastSuccess: gauge("last_successful_poll_timestamp_seconds", "When the target was last polled without error (Unix time).", "target"),
		receiverUp:  gauge("receiver_up", "1 when the newest delivery listed reached the receiver, 0 when it failed, -1 not known.", "target"),
		interval:    gauge("poll_interval_seconds", "The target's current poll interval.", "target"),
	}
	m.targets = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "targets", Help: "Targets watched."})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "ready", Help: "1 once every target has been polled and the state store answers."})
	m.storeAvailable = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "store_available", Help: "1 while the state store answers."})
	reg.MustRegister(m.targets, m.ready, m.storeAvailable)
	return m
}

// forget drops a removed target's series.
func (m *metrics) forget(key string) {
	l := prometheus.Labels{"target": key}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.polls, m.redelivered, m.held, m.pings, m.ledger, m.recovery, m.lastSuccess, m.receiverUp, m.interval} {
		v.DeletePartialMatch(l)
	}
}

// registerProcess adds Go's and the process's own collectors.
func registerProcess(reg prometheus.Registerer) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

func statusLabel(code int) string { return strconv.Itoa(code) }
