package serve

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redeliver/redeliver"
)

// Handler serves /metrics (Prometheus), /healthz (the process is up),
// /readyz (every target polled once and the state store answering; 503
// with the reason otherwise) and whatever Handle mounted.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	var metrics http.Handler = promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	if s.cfg.ProtectMetrics != nil {
		metrics = s.cfg.ProtectMetrics(metrics)
	}
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := s.Ready()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", why)
			return
		}
		fmt.Fprintln(w, "ready:", why)
	})
	for _, r := range s.extras {
		mux.Handle(r.pattern, r.h)
	}
	return mux
}

// TargetStatus is one target as the service sees it now.
type TargetStatus struct {
	Key  string // Target.Key()
	Name string // Target.String()
	// Receiver is the receiver's health as the listing shows it, since
	// ReceiverSince (the service's clock; zero while unknown).
	Receiver      Health
	ReceiverSince time.Time
	// LastPing is when the service last pinged the hook (zero: never), and
	// NextPing when it will next, while the receiver is down and GitHub
	// can ping it (zero otherwise).
	LastPing, NextPing time.Time
	// LastPoll and LastSuccess are the service's clock; zero before the first.
	LastPoll, LastSuccess time.Time
	LastError             string
	NextPoll              time.Time
	Interval              time.Duration
	Polling               bool
	// Credential names the credential its calls use ("" until the first).
	Credential string
	// Ledger counts the target's ledger entries by state, as of the last
	// successful poll.
	Ledger map[redeliver.State]int
	// LastReport is the engine's report of the last poll (nil before it):
	// coverage (Uncovered), what it redelivered, and why it stopped.
	LastReport *redeliver.Report
}

// Status is a snapshot of the whole service, for a status page.
type Status struct {
	Now     time.Time
	Ready   bool
	Why     string
	Targets []TargetStatus // by key
	Budgets []BudgetStatus // by credential
}

// Status returns a snapshot; it is safe to call at any time.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	st := Status{Now: now}
	st.Ready, st.Why = s.readyLocked()
	for _, key := range slices.Sorted(maps.Keys(s.targets)) {
		w := s.targets[key]
		if w.removed {
			continue
		}
		st.Targets = append(st.Targets, TargetStatus{Key: key, Name: w.t.String(), Receiver: w.health,
			ReceiverSince: w.healthSince, LastPing: w.lastPing, NextPing: s.nextPing(w),
			LastPoll: w.lastPoll, LastSuccess: w.lastOK, LastError: w.lastErr, NextPoll: w.due,
			Interval: w.interval, Polling: w.running, Credential: w.credential,
			Ledger: maps.Clone(w.ledger), LastReport: w.lastReport})
	}
	for _, cred := range slices.Sorted(maps.Keys(s.budgets)) {
		st.Budgets = append(st.Budgets, s.budgets[cred].status(cred, now))
	}
	return st
}

// String is the status in a few lines, for logs and tests.
func (st Status) String() string {
	var b strings.Builder
	for _, t := range st.Targets {
		fmt.Fprintf(&b, "%s receiver=%s interval=%s last_ok=%s ledger=%v\n", t.Key, t.Receiver, t.Interval,
			t.LastSuccess.Format(time.RFC3339), t.Ledger)
	}
	return b.String()
}
