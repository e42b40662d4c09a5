// Package serve is the long-running service behind `redeliver serve`: it
// watches every target, polling each hook's deliveries on a schedule that
// follows what it sees (often while something fails, seldom while nothing
// happens), within a share of each credential's hourly API quota, and runs
// the engine's Runner for each poll. Polls are cheap: the first page is a
// conditional request (a 304 when nothing changed) and only the attempts
// newer than the last poll's newest are handed to the engine. Redeliveries
// wait while the listing shows the receiver failing, and go as soon as it
// is seen healthy again. It serves /metrics, /healthz and /readyz.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redeliver/redeliver"
)

// Target is one webhook the service watches, with the policy of its runs.
type Target struct {
	redeliver.Target
	Policy redeliver.Policy
}

// Schedule says how often targets are polled.
type Schedule struct {
	// Hot is the interval while a target has open failures or its receiver
	// is seen failing.
	Hot time.Duration
	// Base is the interval after a poll that found new deliveries.
	Base time.Duration
	// Idle is the longest interval: a quiet target's interval doubles from
	// Base up to it.
	Idle time.Duration
	// ProbeMin and ProbeMax bound the wait between probes of a receiver
	// seen failing when no newer delivery tells whether it is back: one
	// redelivery is let through, and the wait doubles after each.
	ProbeMin, ProbeMax time.Duration
	// PingMin and PingMax bound the wait between pings of a receiver seen
	// failing, where GitHub can ping the hook (organization and repository
	// hooks): a ping is a delivery of its own, so no attempt of an event is
	// spent to learn whether the receiver is back. The wait doubles after
	// each ping. Zero: 30 s and 2 min.
	PingMin, PingMax time.Duration
}

// DefaultSchedule is the schedule of `redeliver serve` with no flags.
func DefaultSchedule() Schedule {
	return Schedule{Hot: 15 * time.Second, Base: 30 * time.Second, Idle: 2 * time.Minute,
		ProbeMin: 10 * time.Minute, ProbeMax: 40 * time.Minute,
		PingMin: defaultPingMin, PingMax: defaultPingMax}
}

// Validate names the first field of s that cannot work.
func (s Schedule) Validate() error {
	switch {
	case s.Hot <= 0 || s.Base <= 0 || s.Idle <= 0:
		return redeliver.Errorf(redeliver.EInvalid, "poll intervals must be positive (hot %s, base %s, idle %s)", s.Hot, s.Base, s.Idle)
	case s.Hot > s.Base || s.Base > s.Idle:
		return redeliver.Errorf(redeliver.EInvalid, "poll intervals must grow: hot %s ≤ base %s ≤ idle %s", s.Hot, s.Base, s.Idle)
	case s.ProbeMin <= 0 || s.ProbeMax < s.ProbeMin:
		return redeliver.Errorf(redeliver.EInvalid, "probe intervals: want 0 < min %s ≤ max %s", s.ProbeMin, s.ProbeMax)
	case s.PingMin < 0 || s.PingMax < 0 || s.pingMax() < s.pingMin():
		return redeliver.Errorf(redeliver.EInvalid, "ping intervals: want 0 < min %s ≤ max %s (0: the default)", s.pingMin(), s.pingMax())
	}
	return nil
}

// Config is what the service needs. Source, Redeliverer and Store are the
// engine's own interfaces; the service adds its scheduling around them.
type Config struct {
	Targets     []Target
	Source      redeliver.Source
	Redeliverer redeliver.Redeliverer
	// Store must be locked by the caller for the service's lifetime.
	Store redeliver.Store
	// Pacer spaces redeliveries across all targets (GitHub's secondary
	// limits are per credential); nil means GitHub's default pace.
	Pacer *redeliver.Pacer
	// Concurrency is redelivery requests in flight per poll (≥ 1).
	Concurrency int
	// Workers is how many polls may run at once (default 4).
	Workers int
	// BudgetShare is the fraction of each credential's hourly quota the
	// service may spend (default 0.5).
	BudgetShare float64
	Schedule    Schedule
	// Clock drives the schedule; tests share a fake one with the emulator.
	Clock clockwork.Clock
	// DrainTimeout bounds how long a stop waits for polls in flight to
	// finish their request before cancelling them (default 8 s).
	DrainTimeout time.Duration
	Logger       *slog.Logger
	// Registry receives the service's metrics; nil makes a new one with
	// Go's and the process's collectors.
	Registry *prometheus.Registry
	// Claim, when set, is asked before each poll of a target, for when
	// several processes share the targets (replicas on one PostgreSQL
	// state): ok false means another process polls it now (asked again at
	// the Hot interval); an error means the shared state cannot be reached
	// (the service is not ready and polls nothing meanwhile). Nil means
	// every target is this process's, with Store and Redeliverer.
	Claim func(ctx context.Context, key string) (c Claim, ok bool, err error)
	// OnPoll, when set, hears the outcome of each poll.
	OnPoll func(PollResult)
	// ProtectMetrics, when set, wraps /metrics (the status page's
	// authentication, when it has a token).
	ProtectMetrics func(http.Handler) http.Handler
}

// Claim is what one poll of a target writes through and redelivers with
// while this process holds the target: a store whose writes, and a
// redeliverer whose requests, are refused from the moment the hold is lost,
// so a process paused past its hold cannot act on a target another one
// took over.
type Claim struct {
	Store       redeliver.Store
	Redeliverer redeliver.Redeliverer
	// Source, when set, lists for the poll instead of Config.Source: one
	// that stops listing once the hold is lost keeps a process that wakes
	// up late from asking GitHub about a target it no longer holds.
	Source redeliver.Source
	// Done, when set, is called once the poll that used the claim ended,
	// so the holder gives a target up only between polls.
	Done func()
	// Epoch changes each time the target is claimed anew: what the service
	// remembered of its listing is forgotten then, since another process
	// may have moved it on meanwhile.
	Epoch int64
}

// PollResult is the outcome of one poll of one target.
type PollResult struct {
	Target string
	Report *redeliver.Report
	Err    error
	// NotModified says GitHub answered the first page with 304.
	NotModified bool
	// NewAttempts counts attempts newer than the previous poll's newest.
	NewAttempts int
	// Held says redeliveries were held because the receiver was failing.
	Held     bool
	Interval time.Duration
}

// Health is the receiver's state as the listing shows it.
type Health string

// Receiver health values.
const (
	HealthUnknown Health = "unknown" // nothing listed yet
	HealthUp      Health = "up"      // the newest delivery reached it (2xx or 4xx)
	HealthDown    Health = "down"    // the newest delivery failed (no answer, timeout or 5xx)
)

// Service watches the targets. Make one with New and start it with Run.
type Service struct {
	cfg    Config
	clock  clockwork.Clock
	log    *slog.Logger
	reg    *prometheus.Registry
	m      *metrics
	src    redeliver.Source
	redel  redeliver.Redeliverer
	store  *storeWatch
	extras []route

	mu       sync.Mutex
	targets  map[string]*watch
	budgets  map[string]*budget
	running  int
	stopping bool
	started  bool
	wake     chan struct{}
	onIdle   func() // tests: the scheduler is waiting with nothing in flight

	// With Config.Claim: the claim each running poll uses, the epoch each
	// target was last polled under, and the targets another process holds.
	claims    map[string]Claim
	epochs    map[string]int64
	elsewhere map[string]bool
}

// route is an extra handler mounted on the service's mux.
type route struct {
	pattern string
	h       http.Handler
}

// New checks cfg and returns a service that has not started.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Source == nil || cfg.Redeliverer == nil || cfg.Store == nil:
		return nil, redeliver.Errorf(redeliver.EInvalid, "serve: Source, Redeliverer and Store are required")
	case cfg.BudgetShare < 0 || cfg.BudgetShare > 1:
		return nil, redeliver.Errorf(redeliver.EInvalid, "budget share %v: want a fraction between 0 and 1", cfg.BudgetShare)
	case cfg.Workers < 0 || cfg.Workers > 100:
		return nil, redeliver.Errorf(redeliver.EInvalid, "workers %d: want 1 to 100 (GitHub allows 100 concurrent requests)", cfg.Workers)
	}
	if cfg.Schedule == (Schedule{}) {
		cfg.Schedule = DefaultSchedule()
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, err
	}
	if cfg.BudgetShare == 0 {
		cfg.BudgetShare = 0.5
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 8 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Pacer == nil {
		cfg.Pacer = redeliver.NewPacer(1, redeliver.GitHubWindows...)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		registerProcess(reg)
	}
	s := &Service{cfg: cfg, clock: cfg.Clock, log: log, reg: reg, m: newMetrics(reg),
		src: cfg.Source, redel: cfg.Redeliverer,
		targets: map[string]*watch{}, budgets: map[string]*budget{}, wake: make(chan struct{}, 1),
		claims: map[string]Claim{}, epochs: map[string]int64{}, elsewhere: map[string]bool{}}
	s.store = &storeWatch{Store: cfg.Store, s: s}
	s.m.storeAvailable.Set(1)
	if err := s.setTargets(cfg.Targets); err != nil {
		return nil, err
	}
	return s, nil
}

// Handle mounts h on the service's HTTP mux at pattern (net/http's
// ServeMux patterns), beside /metrics, /healthz and /readyz: the status
// page goes at "/". Call it before Run.
func (s *Service) Handle(pattern string, h http.Handler) {
	s.extras = append(s.extras, route{pattern, h})
}

// Registry is the registry the service's metrics are in, for other
// parts (alerts, the status page) to add theirs.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Reload replaces the set of targets: new ones are polled at once,
// removed ones finish their poll in flight and are dropped, kept ones keep
// their state (schedule, receiver health, newest attempt seen).
func (s *Service) Reload(targets []Target) error {
	if err := s.setTargets(targets); err != nil {
		return err
	}
	s.poke()
	return nil
}

func (s *Service) setTargets(targets []Target) error {
	seen := map[string]bool{}
	for _, t := range targets {
		if err := t.Target.Validate(); err != nil {
			return err
		}
		if err := t.Policy.Validate(); err != nil {
			return fmt.Errorf("target %s: %w", t.Key(), err)
		}
		if seen[t.Key()] {
			return redeliver.Errorf(redeliver.EInvalid, "target %s is listed twice", t.Key())
		}
		seen[t.Key()] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var added, removed []string
	for _, t := range targets {
		if w, ok := s.targets[t.Key()]; ok {
			w.t = t
			w.removed = false
			continue
		}
		s.targets[t.Key()] = newWatch(t, now, s.cfg.Schedule)
		added = append(added, t.Key())
	}
	for key, w := range s.targets {
		if seen[key] {
			continue
		}
		removed = append(removed, key)
		w.removed = true
		if !w.running {
			s.drop(key)
		}
	}
	s.m.targets.Set(float64(len(seen)))
	s.updateReady()
	if s.started && (len(added) > 0 || len(removed) > 0) {
		slices.Sort(added)
		slices.Sort(removed)
		s.log.Info("targets reloaded", "added", added, "removed", removed, "targets", len(seen))
	}
	return nil
}

// drop forgets a removed target; s.mu is held.
func (s *Service) drop(key string) {
	delete(s.targets, key)
	delete(s.epochs, key)
	delete(s.elsewhere, key)
	s.m.forget(key)
}

// poke wakes the scheduler.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run serves HTTP on ln (when not nil) and polls the targets until ctx is
// done. Then it stops starting polls, lets the polls in flight finish the
// request they are making and record it (cancelling them after
// DrainTimeout), shuts the HTTP server down and returns nil: a stop asked
// for is a clean exit.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("serve: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	var srv *http.Server
	srvDone := make(chan error, 1)
	if ln != nil {
		srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { srvDone <- srv.Serve(ln) }()
		s.log.Info("listening", "addr", ln.Addr().String())
	}
	// Polls get their own context: a stop lets them finish the request in
	// flight instead of cutting it.
	pollCtx, cancelPolls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPolls()
	var polls sync.WaitGroup
	s.log.Info("serving", "targets", len(s.Status().Targets), "budget_share", s.cfg.BudgetShare)
	s.loop(ctx, pollCtx, &polls)

	// Stop: no new poll, no new request; wait for the ones in flight.
	s.mu.Lock()
	s.stopping = true
	inFlight := s.running
	s.mu.Unlock()
	s.log.Info("stopping", "polls_in_flight", inFlight)
	done := make(chan struct{})
	go func() { polls.Wait(); close(done) }()
	drain := s.clock.NewTimer(s.cfg.DrainTimeout)
	select {
	case <-done:
		drain.Stop()
	case <-drain.Chan():
		s.log.Warn("polls still in flight after the drain timeout; cancelling them", "timeout", s.cfg.DrainTimeout)
		cancelPolls()
		<-done
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
		if err := <-srvDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	s.log.Info("stopped")
	return nil
}

// loop is the scheduler: it starts each target's poll when it is due, as
// workers and the budget allow, until ctx is done.
func (s *Service) loop(ctx, pollCtx context.Context, polls *sync.WaitGroup) {
	for ctx.Err() == nil {
		now := s.clock.Now()
		s.mu.Lock()
		var due []*watch
		var next time.Time
		consider := func(t time.Time) {
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
		for _, w := range s.targets {
			switch {
			case w.running || w.removed:
			case !w.due.After(now):
				due = append(due, w)
			default:
				consider(w.due)
			}
		}
		slices.SortFunc(due, func(a, b *watch) int {
			if c := a.due.Compare(b.due); c != 0 {
				return c
			}
			return strings.Compare(a.key, b.key)
		})
		for _, w := range due {
			if b := s.budgets[w.credential]; b != nil {
				if d := b.wait(now); d > 0 {
					b.delayed++
					s.m.delayed.WithLabelValues(w.credential).Inc()
					if !b.stretched {
						b.stretched = true
						s.m.stretched.WithLabelValues(w.credential).Set(1)
						s.log.Warn("API budget low: polls are stretched", "credential", w.credential, "wait", d.Round(time.Second),
							"remaining", b.remaining, "limit", b.limit, "share", b.share)
					}
					w.due = now.Add(d)
					consider(w.due)
					continue
				} else if b.stretched {
					b.stretched = false
					s.m.stretched.WithLabelValues(w.credential).Set(0)
					s.log.Info("API budget recovered: polls back on schedule", "credential", w.credential)
				}
			}
			if s.running >= s.cfg.Workers {
				continue // every worker busy: a finishing poll wakes the loop
			}
			// Asked last, just before the poll starts: a claim is held
			// until its poll ends.
			if s.cfg.Claim != nil && !s.claim(ctx, w, now) {
				w.due = now.Add(s.cfg.Schedule.Hot)
				consider(w.due)
				continue
			}
			w.running = true
			s.running++
			polls.Add(1)
			go func() {
				defer polls.Done()
				s.poll(pollCtx, w)
				if s.cfg.Claim != nil {
					s.mu.Lock()
					c, ok := s.claims[w.key]
					delete(s.claims, w.key)
					s.mu.Unlock()
					if ok && c.Done != nil {
						c.Done()
					}
				}
			}()
		}
		idle := s.running == 0 && len(s.wake) == 0
		s.mu.Unlock()

		var timer clockwork.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = s.clock.NewTimer(next.Sub(now))
			fire = timer.Chan()
		}
		if idle && s.onIdle != nil {
			s.onIdle()
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Ready reports whether every target has been polled once and the state
// store answers, and if not, why.
func (s *Service) Ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyLocked()
}

func (s *Service) readyLocked() (bool, string) {
	if err := s.store.lastErr(); err != nil {
		return false, "the state store is not answering: " + err.Error()
	}
	var waiting []string
	for key, w := range s.targets {
		// A target whose polls fail (a deleted hook) still counts once
		// polled: its error is in the metrics and the status, and it must
		// not keep the whole service out of rotation.
		if !w.removed && w.lastPoll.IsZero() && !s.elsewhere[key] {
			waiting = append(waiting, key)
		}
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		return false, fmt.Sprintf("%d of %d targets not polled yet: %s", len(waiting), len(s.targets), strings.Join(waiting, ", "))
	}
	return true, "every target polled"
}

// claim asks Config.Claim whether w's target is this process's now, and
// keeps the claim for the poll about to start; s.mu is held. A target
// claimed under a new epoch is listed back to its checkpoint.
func (s *Service) claim(ctx context.Context, w *watch, now time.Time) bool {
	c, ok, err := s.cfg.Claim(ctx, w.key)
	if err != nil {
		s.store.note(err)
		s.updateReady()
		return false
	}
	s.elsewhere[w.key] = !ok
	if !ok {
		// The shared state answered, and no poll of this target will
		// tell: the claim's answer is the store's health.
		s.store.note(nil)
		s.updateReady()
		return false
	}
	if c.Store == nil || c.Redeliverer == nil {
		s.log.Error("a claim without a store or a redeliverer; not polling", "target", w.key)
		return false
	}
	if e, seen := s.epochs[w.key]; !seen || e != c.Epoch {
		s.epochs[w.key] = c.Epoch
		w.mark, w.seen = 0, 0
	}
	s.claims[w.key] = Claim{Store: &claimStore{Store: c.Store, w: s.store}, Redeliverer: c.Redeliverer, Source: c.Source, Done: c.Done, Epoch: c.Epoch}
	return true
}

// claimed returns what a poll of key writes through and redelivers with:
// its claim's, or the service's own.
func (s *Service) claimed(key string) (redeliver.Store, redeliver.Redeliverer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.claims[key]; ok {
		return c.Store, c.Redeliverer
	}
	return s.store, s.redel
}

// sourceFor returns what a poll of key lists with: its claim's source, or
// the service's own.
func (s *Service) sourceFor(key string) redeliver.Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.claims[key]; ok && c.Source != nil {
		return c.Source
	}
	return s.src
}

// claimStore is a claim's store, watched like the service's own: a failure
// to reach it makes the service not ready. A refusal because the claim was
// lost (EConflict) is an answer, not a failure.
type claimStore struct {
	redeliver.Store
	w *storeWatch
}

func (c *claimStore) note(err error) error {
	if redeliver.ErrorCode(err) == redeliver.EConflict {
		c.w.note(nil)
		return err
	}
	return c.w.note(err)
}

func (c *claimStore) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	cp, ok, err := c.Store.Checkpoint(ctx, key)
	return cp, ok, c.note(err)
}

func (c *claimStore) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	return c.note(c.Store.SetCheckpoint(ctx, key, cp))
}

func (c *claimStore) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	es, err := c.Store.Entries(ctx, key)
	return es, c.note(err)
}

func (c *claimStore) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	counts, err := c.Store.Counts(ctx, key)
	return counts, c.note(err)
}

func (c *claimStore) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	return c.note(c.Store.Put(ctx, key, entries...))
}

func (c *claimStore) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	n, err := c.Store.Prune(ctx, key, before)
	return n, c.note(err)
}

// updateReady refreshes the ready gauge; s.mu is held.
func (s *Service) updateReady() {
	ok, _ := s.readyLocked()
	if ok {
		s.m.ready.Set(1)
	} else {
		s.m.ready.Set(0)
	}
}
