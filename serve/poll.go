package serve

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redeliver/redeliver"
)

// watch is what the service knows of one target between polls. Every field
// is guarded by Service.mu.
type watch struct {
	t        Target
	key      string
	due      time.Time
	interval time.Duration
	running  bool
	removed  bool
	// pass is held for the whole of a poll and by Between.
	pass passLock

	// mark is the newest attempt id that the last complete listing showed
	// and that is older than markLag: the next poll hands the engine only
	// newer attempts and stops listing there. 0: list back to the
	// checkpoint (after a start, or a poll that failed).
	mark, nextMark int64
	// seen is the newest attempt id listed so far: newer ones are news
	// (they tell the receiver's health and keep the hook "active").
	seen int64

	health      Health
	healthSince time.Time // our clock: when health last changed
	evidenceAt  time.Time // our clock: when the newest listed delivery was made
	lastProbe   time.Time
	probeEvery  time.Duration
	// recovering: the receiver was just seen back; the next poll redelivers
	// every failed event at once, whatever the spacing says.
	recovering bool
	// Pings of a receiver seen failing: the last one (our clock), the wait
	// before the next, and whether GitHub refused them for good (the
	// service then probes with redeliveries, as for an App's hook).
	lastPing   time.Time
	pingEvery  time.Duration
	pingBroken bool

	credential string // the credential its calls use, once seen

	// per poll
	newAttempts int
	notModified bool
	probed      bool
	held        bool
	pinged      bool

	lastPoll, lastOK time.Time
	lastErr          string
	lastReport       *redeliver.Report
	ledger           map[redeliver.State]int
}

func newWatch(t Target, now time.Time, sch Schedule) *watch {
	return &watch{t: t, key: t.Key(), due: now, interval: sch.Base, health: HealthUnknown,
		probeEvery: sch.ProbeMin, pingEvery: sch.pingMin(), ledger: map[redeliver.State]int{}}
}

// targetKey carries the key of the target being polled in the contexts of
// its calls, so answers are counted against the right target and budget.
type targetKey struct{}

// errHeld ends a poll's redeliveries while the receiver is seen failing.
// The engine reads a rate-limit code as "leave the rest for the next run".
func errHeld(t redeliver.Target) error {
	return redeliver.Errorf(redeliver.ERateLimited, "redeliveries to %s held: its receiver is failing", t)
}

var errStopping = redeliver.Errorf(redeliver.ERateLimited, "the service is stopping")

// poll runs the engine once over w's target.
func (s *Service) poll(ctx context.Context, w *watch) {
	w.pass.Lock()
	defer w.pass.Unlock()
	s.mu.Lock()
	t := w.t
	policy := t.Policy
	if w.recovering {
		// The receiver is back: what failed while it was down goes now.
		// Max attempts still counts every redelivery.
		policy.RetryBase = 0
	}
	// The service's own pings are deliveries too: a failed one is no
	// user's event and must not be redelivered. Excluding them by policy
	// (rather than leaving them out of the listing) keeps every page whole
	// for the engine's paging and checkpoint, and leaves `run` as it is.
	if !slices.Contains(policy.ExcludeEvents, pingEvent) {
		policy.ExcludeEvents = append(slices.Clip(policy.ExcludeEvents), pingEvent)
	}
	w.newAttempts, w.notModified, w.probed, w.held, w.pinged, w.nextMark = 0, false, false, false, false, 0
	recovering := w.recovering
	s.mu.Unlock()

	src := &listing{s: s, w: w}
	store, redel := s.claimed(w.key)
	r := &redeliver.Runner{
		Source:      src,
		Redeliverer: &gate{s: s, w: w, r: redel},
		Store:       store,
		Policy:      policy,
		Pacer:       s.cfg.Pacer,
		Concurrency: s.cfg.Concurrency,
		// The engine's own logging is for one-shot runs; the service logs
		// each poll's outcome itself.
		Logger: slog.New(levelFilter{s.log.Handler(), slog.LevelError}),
	}
	// Times to recovery, told once the poll is known to have stored them.
	var recovered []time.Duration
	r.OnRecovered = func(e redeliver.LedgerEntry) {
		if !e.FirstSeen.IsZero() {
			recovered = append(recovered, e.Updated.Sub(e.FirstSeen))
		}
	}
	pctx := context.WithValue(ctx, targetKey{}, w.key)
	rep, err := r.Run(pctx, t.Target)

	// The ledger's counts, for its gauges: counted by the store, as a
	// receiver down for a day can leave hundreds of thousands of events
	// open, too many to read after every poll.
	var counts map[redeliver.State]int
	var entErr error
	if err == nil {
		counts, entErr = store.Counts(context.WithoutCancel(pctx), w.key)
		for _, d := range recovered {
			s.m.recovery.WithLabelValues(w.key).Observe(d.Seconds())
		}
	}

	if err == nil {
		s.maybePing(pctx, w)
	}

	s.mu.Lock()
	now := s.clock.Now()
	w.lastPoll = now
	w.lastReport = rep
	stopping := s.stopping
	switch {
	case err != nil:
		w.mark = 0 // list back to the checkpoint next time
		w.lastErr = err.Error()
		if !stopping {
			s.m.polls.WithLabelValues(w.key, "error").Inc()
			s.log.Warn("poll failed", "target", w.key, "error", err, "code", redeliver.ErrorCode(err))
		}
	default:
		if rep.Complete {
			w.mark = max(w.mark, w.nextMark)
		} else {
			w.mark = 0
		}
		w.seen = max(w.seen, src.newest)
		w.lastOK, w.lastErr = now, ""
		if recovering {
			w.recovering = false
		}
		s.m.polls.WithLabelValues(w.key, "ok").Inc()
		s.m.lastSuccess.WithLabelValues(w.key).Set(float64(now.Unix()))
		if entErr == nil {
			s.foldLedger(w, counts)
		}
	}
	if w.held {
		s.m.held.WithLabelValues(w.key).Inc()
	}
	w.interval = s.nextInterval(w, rep, err)
	if w.recovering && !recovering && !stopping {
		// Seen back in this poll, whose policy still spaced retries: poll
		// again at once (a 304, most likely) to redeliver without spacing.
		w.interval = 0
	}
	w.due = now.Add(w.interval)
	s.m.interval.WithLabelValues(w.key).Set(w.interval.Seconds())
	s.m.receiverUp.WithLabelValues(w.key).Set(map[Health]float64{HealthUp: 1, HealthDown: 0, HealthUnknown: -1}[w.health])
	res := PollResult{Target: w.key, Report: rep, Err: err, NotModified: w.notModified,
		NewAttempts: w.newAttempts, Held: w.held, Interval: w.interval}
	if err == nil && (rep.Redelivered > 0 || rep.Exhausted > 0 || rep.Expired > 0 || rep.Recovered > 0 || rep.Errors > 0) {
		s.log.Info("poll", "target", w.key, "new_attempts", w.newAttempts, "redelivered", rep.Redelivered,
			"recovered", rep.Recovered, "exhausted", rep.Exhausted, "expired", rep.Expired, "errors", rep.Errors,
			"waiting", rep.Waiting, "pending", rep.Pending, "receiver", w.health)
	} else if err == nil {
		s.log.Debug("poll", "target", w.key, "not_modified", w.notModified, "new_attempts", w.newAttempts,
			"held", w.held, "receiver", w.health, "next", w.interval)
	}
	w.running = false
	s.running--
	if w.removed {
		s.drop(w.key)
	}
	s.updateReady()
	s.poke()
	s.mu.Unlock()

	if s.cfg.OnPoll != nil {
		s.cfg.OnPoll(res)
	}
}

// nextInterval is when to poll again: soon while something is failing,
// later the quieter the hook; s.mu is held.
func (s *Service) nextInterval(w *watch, rep *redeliver.Report, err error) time.Duration {
	sch := s.cfg.Schedule
	switch {
	case err != nil:
		return sch.Base
	case w.pinged:
		return pingCheck
	case w.health == HealthDown || w.recovering || w.openEvents() > 0 || rep.Failed > 0:
		return sch.Hot
	case w.newAttempts > 0:
		return sch.Base
	}
	return min(max(w.interval*2, sch.Base), sch.Idle)
}

// foldLedger refreshes the ledger gauges; s.mu is held.
func (s *Service) foldLedger(w *watch, counts map[redeliver.State]int) {
	w.ledger = counts
	for _, st := range []redeliver.State{redeliver.StateFailed, redeliver.StatePending, redeliver.StateRecovered, redeliver.StateExhausted, redeliver.StateExpired} {
		s.m.ledger.WithLabelValues(w.key, string(st)).Set(float64(counts[st]))
	}
}

// openEvents is how many events the ledger held open (failed or pending)
// at the last poll; s.mu is held.
func (w *watch) openEvents() int {
	return w.ledger[redeliver.StateFailed] + w.ledger[redeliver.StatePending]
}

// listing is the engine's Source for one poll of one target. It hands the
// engine only attempts newer than the last complete listing's newest (and
// ends the listing there), and reads the receiver's health from the newest
// of them.
type listing struct {
	s      *Service
	w      *watch
	first  time.Time // GitHub's clock at the first page
	newest int64     // newest attempt id listed in this poll
}

func (l *listing) ListAttempts(ctx context.Context, t redeliver.Target, cursor string) (redeliver.Page, error) {
	s, w := l.s, l.w
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		return redeliver.Page{}, errStopping
	}
	pg, err := s.sourceFor(w.key).ListAttempts(ctx, t, cursor)
	if err != nil {
		return pg, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cursor == "" {
		l.first = pg.ServerTime
	}
	lag := min(markLag, w.t.Policy.Overlap)
	var newest *redeliver.Attempt
	kept := pg.Attempts[:0:0]
	reached := false
	for i, a := range pg.Attempts {
		if !a.DeliveredAt.After(l.first.Add(-lag)) {
			// Old enough that no attempt with a smaller id can still appear.
			w.nextMark = max(w.nextMark, a.ID)
		}
		if w.mark > 0 && a.ID <= w.mark {
			reached = true
			continue
		}
		kept = append(kept, a)
		if a.ID > w.seen {
			w.newAttempts++
			if newest == nil || a.ID > newest.ID {
				newest = &pg.Attempts[i]
			}
		}
	}
	if newest != nil {
		l.newest = max(l.newest, newest.ID)
		if cursor == "" {
			s.sawReceiver(w, *newest, pg.ServerTime)
		}
	}
	pg.Attempts = kept
	if reached {
		pg.Next = "" // everything older was handed over by an earlier poll
	}
	return pg, nil
}

// markLag is how old an attempt must be before the next poll may stop at
// it: GitHub lists an attempt once the delivery is over (the receiver has
// 10 s on github.com, 30 s on GHES), so one made earlier can appear after
// a newer one. The engine re-reads its Overlap anyway; this is the part
// of it the service keeps re-reading.
const markLag = 2 * time.Minute

// sawReceiver updates the receiver's health from the newest attempt
// listed; s.mu is held. A 4xx answer counts as up: the receiver is there,
// and redelivering will not change its mind.
func (s *Service) sawReceiver(w *watch, a redeliver.Attempt, serverNow time.Time) {
	up := a.Succeeded() || (a.StatusCode >= 400 && a.StatusCode < 500)
	age := max(0, serverNow.Sub(a.DeliveredAt))
	w.evidenceAt = s.clock.Now().Add(-age)
	was := w.health
	switch {
	case up && w.health == HealthDown:
		w.health, w.recovering, w.probeEvery = HealthUp, true, s.cfg.Schedule.ProbeMin
		w.pingEvery = s.cfg.Schedule.pingMin()
		s.log.Info("receiver back: redelivering what failed", "target", w.key, "open", w.openEvents())
	case up:
		w.health = HealthUp
	case w.health != HealthDown:
		w.health = HealthDown
		w.pingEvery = s.cfg.Schedule.pingMin()
		s.log.Warn("receiver failing: redeliveries held until it is seen healthy", "target", w.key,
			"status_code", a.StatusCode, "status", a.Status)
	}
	if w.health != was {
		w.healthSince = s.clock.Now()
	}
}

// gate is the engine's Redeliverer for one poll of one target: it lets
// redeliveries through while the receiver is up (or not known), holds them
// while it is seen failing, but for one probe now and then when no newer
// delivery has told whether it is back, and holds everything once the
// service is stopping.
type gate struct {
	s *Service
	w *watch
	r redeliver.Redeliverer
}

// Held holds the target's redeliveries before the engine paces or records
// them, as Redeliver would, without letting a probe through: a held
// redelivery must not take a place in GitHub's windows.
func (g *gate) Held(t redeliver.Target) error {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	return g.holdLocked(t, 0, false)
}

func (g *gate) Redeliver(ctx context.Context, t redeliver.Target, attemptID int64) (time.Time, error) {
	s, w := g.s, g.w
	s.mu.Lock()
	if err := g.holdLocked(t, attemptID, true); err != nil {
		s.mu.Unlock()
		return time.Time{}, err
	}
	s.mu.Unlock()
	at, err := g.r.Redeliver(ctx, t, attemptID)
	if err == nil {
		s.m.redelivered.WithLabelValues(w.key).Inc()
	}
	return at, err
}

// holdLocked says whether the next redelivery is held; s.mu is held. With
// send, a probe it lets through is counted as sent.
func (g *gate) holdLocked(t redeliver.Target, attemptID int64, send bool) error {
	s, w := g.s, g.w
	if s.stopping {
		return errStopping
	}
	if w.health != HealthDown {
		return nil
	}
	if s.canPing(w) {
		// Pings tell when the receiver is back: no event's attempt is spent.
		w.held = true
		return errHeld(t)
	}
	now := s.clock.Now()
	since := w.evidenceAt
	if w.lastProbe.After(since) {
		since = w.lastProbe
	}
	if w.probed || now.Sub(since) < w.probeEvery {
		w.held = true
		return errHeld(t)
	}
	if send {
		w.probed, w.lastProbe = true, now
		s.log.Info("probing the failing receiver with one redelivery", "target", w.key, "attempt_id", attemptID, "next_probe_after", w.probeEvery)
		w.probeEvery = min(w.probeEvery*2, s.cfg.Schedule.ProbeMax)
	}
	return nil
}

// Observe counts one answer from GitHub: for the metrics, the credential's
// budget, and the poll it belongs to (found in ctx). Safe for concurrent use.
func (s *Service) Observe(ctx context.Context, a Answer) {
	s.m.apiCalls.WithLabelValues(a.Route, statusLabel(a.Status)).Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if a.Credential != "" {
		b := s.budgets[a.Credential]
		if b == nil {
			b = newBudget(s.cfg.BudgetShare)
			s.budgets[a.Credential] = b
		}
		b.observe(a, now)
		if b.limit > 0 {
			s.m.budgetLimit.WithLabelValues(a.Credential).Set(float64(b.limit))
			s.m.budgetRemain.WithLabelValues(a.Credential).Set(float64(b.remaining))
			s.m.budgetTokens.WithLabelValues(a.Credential).Set(b.lim.TokensAt(now))
		}
	}
	key, _ := ctx.Value(targetKey{}).(string)
	if w := s.targets[key]; w != nil {
		if a.Credential != "" {
			w.credential = a.Credential
		}
		if a.Status == http.StatusNotModified && strings.HasSuffix(a.Route, "/deliveries") {
			w.notModified = true
		}
	}
}

// storeWatch is the engine's Store, watched: the service is not ready
// while the store fails.
type storeWatch struct {
	redeliver.Store
	s   *Service
	mu  sync.Mutex
	err error
}

func (st *storeWatch) lastErr() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

func (st *storeWatch) note(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	st.mu.Lock()
	was := st.err
	st.err = err
	st.mu.Unlock()
	switch {
	case err != nil && was == nil:
		st.s.m.storeAvailable.Set(0)
		st.s.log.Error("state store failing", "error", err)
	case err == nil && was != nil:
		st.s.m.storeAvailable.Set(1)
		st.s.log.Info("state store answering again")
	}
	return err
}

func (st *storeWatch) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	cp, ok, err := st.Store.Checkpoint(ctx, key)
	return cp, ok, st.note(err)
}

func (st *storeWatch) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	return st.note(st.Store.SetCheckpoint(ctx, key, cp))
}

func (st *storeWatch) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	es, err := st.Store.Entries(ctx, key)
	return es, st.note(err)
}

func (st *storeWatch) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	counts, err := st.Store.Counts(ctx, key)
	return counts, st.note(err)
}

func (st *storeWatch) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	return st.note(st.Store.Put(ctx, key, entries...))
}

func (st *storeWatch) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	n, err := st.Store.Prune(ctx, key, before)
	return n, st.note(err)
}

// levelFilter passes records at or above min to h.
type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{f.h.WithAttrs(as), f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler { return levelFilter{f.h.WithGroup(n), f.min} }
