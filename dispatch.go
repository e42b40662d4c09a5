package redeliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"
)

// firstProbe is when the receiver is first checked: after 20 accepted
// requests, then after every tenfold more.
const firstProbe = 20

// probeMemory is how many of the latest accepted requests a probe matches
// against the first page of the listing (100 attempts): enough to find
// every redelivery that page can show, whatever the run's size.
const probeMemory = 256

// errStore marks state-store failures during redelivery: they stop the run.
var errStore = errors.New("state store")

// Stop reasons, as the report tells them, and their codes (StopReason).
const (
	StopDeadline    = "deadline"
	StopRateLimited = "rate_limited"
	StopStore       = "store"
	StopAuth        = "auth"
	StopRefusals    = "refusals"
	StopReceiver    = "receiver"
	StopListing     = "listing"
)

// stopCodes gives each stop message its code.
var stopCodes = map[string]string{
	stopDeadline: StopDeadline, stopRateLimited: StopRateLimited, stopStore: StopStore,
	stopAuth: StopAuth, stopRefusals: StopRefusals,
}

const (
	stopDeadline    = "deadline reached or interrupted; the rest is left for the next run"
	stopRateLimited = "rate limited or out of time; the rest is left for the next run"
	stopStore       = "the state store failed"
	stopAuth        = "GitHub refused the credentials"
	stopRefusals    = "GitHub refused 5 redeliveries in a row"
)

// maxRefusals ends a run whose requests GitHub keeps refusing: something is
// wrong with the target, and hammering it helps nobody.
const maxRefusals = 5

// dispatcher sends one run's due redeliveries through the pacer, with a
// number of workers, recording an intent before each request and the
// outcome after it. Its fields are the run's shared state, under mu.
type dispatcher struct {
	r     *Runner
	t     Target
	key   string
	log   *slog.Logger
	pacer *Pacer
	clock *serverClock
	rep   *Report
	total int // redeliveries planned

	// writes records intents and outcomes, several workers' in one
	// transaction: one durable commit per request pair was the run's
	// bottleneck at hundreds of thousands of redeliveries.
	writes *groupWriter

	mu        sync.Mutex
	stopped   bool
	fatal     error
	refusals  int           // consecutive refusals
	nextProbe int           // accepted requests before the next probe; MaxInt: none
	recent    []sentRequest // the latest accepted requests, a ring
	recentAt  int
}

// sentRequest is a request GitHub accepted, for the probe to find.
type sentRequest struct {
	guid string
	at   time.Time // GitHub's clock when accepted
}

// newDispatcher makes a dispatcher; probe says whether it checks the
// receiver during the run.
func newDispatcher(r *Runner, t Target, clock *serverClock, rep *Report, total int, probe bool) *dispatcher {
	pacer := r.Pacer
	if pacer == nil {
		pacer = NewPacer(1)
	}
	next := firstProbe
	if !probe {
		next = math.MaxInt
	}
	return &dispatcher{r: r, t: t, key: t.Key(), log: r.log().With("target", t.Key()),
		pacer: pacer, clock: clock, rep: rep, total: total, nextProbe: next,
		writes: &groupWriter{st: r.Store, key: t.Key()}}
}

// run sends the queue's first total entries with the Runner's concurrency
// and defers the rest, and returns the error that ended the run, if one
// did (store failure, credentials refused).
func (d *dispatcher) run(ctx context.Context, q Queue) error {
	jobs := make(chan LedgerEntry)
	var wg sync.WaitGroup
	for range max(d.r.Concurrency, 1) {
		wg.Go(func() {
			for e := range jobs {
				d.send(ctx, e)
			}
		})
	}
	n := 0
	err := q.Each(func(e LedgerEntry) error {
		if n++; n > d.total {
			// Over the run's cap: counted failed when planned, told now.
			d.mu.Lock()
			d.rep.Deferred++
			d.r.addItem(d.rep, item(e, VerdictDeferred, nil))
			d.mu.Unlock()
			return nil
		}
		jobs <- e
		return nil
	})
	close(jobs)
	wg.Wait()
	if err != nil && d.fatal == nil {
		return fmt.Errorf("reading the redeliveries due: %w", err)
	}
	return d.fatal
}

// deferred counts e as left for the next run, with why (nil: the run stopped).
func (d *dispatcher) deferred(e LedgerEntry, why error) {
	d.mu.Lock()
	d.rep.Deferred++
	d.r.addItem(d.rep, item(e, VerdictDeferred, why))
	d.mu.Unlock()
}

// send redelivers one guid, or defers it once the run has stopped.
func (d *dispatcher) send(ctx context.Context, e LedgerEntry) {
	if h, ok := d.r.Redeliverer.(Holder); ok && !d.isStopped() {
		if err := h.Held(d.t); err != nil {
			d.deferred(e, err)
			d.stop(stopRateLimited, nil)
			return
		}
	}
	if !d.isStopped() && ctx.Err() == nil {
		if err := d.pacer.Wait(ctx); err != nil {
			d.stop(stopDeadline, nil)
		}
	}
	if d.isStopped() || ctx.Err() != nil {
		if ctx.Err() != nil {
			d.stop(stopDeadline, nil)
		}
		d.deferred(e, nil)
		return
	}
	at, err := d.r.redeliverOne(ctx, d.t, &e, d.clock, d.writes.put)
	switch {
	case errors.Is(err, errStore):
		d.stop(stopStore, err)
		return
	case ErrorCode(err) == EAuth:
		d.stop(stopAuth, err)
		return
	case err != nil && (ErrorCode(err) == ERateLimited || ctx.Err() != nil):
		d.deferred(e, err)
		d.stop(stopRateLimited, nil)
		return
	}

	d.mu.Lock()
	var probe []sentRequest
	if err == nil {
		d.refusals = 0
		d.rep.Redelivered++
		d.remember(sentRequest{guid: e.GUID, at: at})
		d.r.addItem(d.rep, item(e, VerdictRedeliver, nil))
		if n := d.rep.Redelivered; n >= d.nextProbe && n < d.total {
			d.nextProbe *= 10
			probe = append(probe, d.recent...)
		}
	} else {
		d.rep.Errors++
		d.refusals++
		d.r.addItem(d.rep, item(e, e.State.verdict(), err))
		d.log.Warn("redelivery failed", "guid", e.GUID, "attempt_id", e.AttemptID, "error", err)
	}
	n, refused := d.rep.Redelivered, d.refusals >= maxRefusals
	d.mu.Unlock()

	d.r.progress(Progress{Target: d.key, Redelivered: n, ToSend: d.total, Failed: err != nil})
	if refused {
		d.stop(stopRefusals, nil)
	}
	if probe != nil && !d.probe(ctx, probe) {
		d.mu.Lock()
		d.nextProbe = math.MaxInt // healthy: no need to look again
		d.recent = nil
		d.mu.Unlock()
	}
}

// remember keeps the latest accepted requests for the probe; mu is held.
func (d *dispatcher) remember(s sentRequest) {
	if d.nextProbe == math.MaxInt {
		return
	}
	if len(d.recent) < probeMemory {
		d.recent = append(d.recent, s)
		return
	}
	d.recent[d.recentAt] = s
	d.recentAt = (d.recentAt + 1) % probeMemory
}

func (d *dispatcher) isStopped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopped
}

// stop ends the run's requests; the first reason given is the one told.
func (d *dispatcher) stop(why string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.stopped = true
	d.rep.Stopped = why
	d.rep.StopReason = stopCodes[why]
	if d.rep.StopReason == "" {
		d.rep.StopReason = StopReceiver // the probe's own message
	}
	if err != nil {
		d.fatal = err
	}
	d.log.Warn("stopping early", "reason", why)
}

// probe lists the first page and checks how this run's latest redeliveries
// fared. It reports whether to look again later: only while the receiver
// has not shown itself healthy, so a healthy one costs a single listing call.
func (d *dispatcher) probe(ctx context.Context, sent []sentRequest) (again bool) {
	page, err := d.r.Source.ListAttempts(ctx, d.t, "")
	if err != nil {
		return true // the probe is advice; the run goes on
	}
	at := make(map[string]time.Time, len(sent))
	for _, s := range sent {
		at[s.guid] = s.at
	}
	var checked, failed int
	for _, a := range page.Attempts {
		t, ok := at[a.GUID]
		if !ok || !a.Redelivery || a.DeliveredAt.Before(t.Add(-slack)) {
			continue
		}
		checked++
		if !a.Succeeded() {
			failed++
		}
	}
	if checked < 10 {
		return true // too few shown yet (GitHub redelivers asynchronously)
	}
	switch {
	case failed*10 >= checked*9:
		d.stop(fmt.Sprintf("the receiver is still failing (%d of %d redeliveries checked failed); the rest is left for the next run", failed, checked), nil)
	case failed*2 >= checked:
		d.pacer.Slow()
		d.log.Warn("receiver struggling; slowing down", "failed", failed, "checked", checked, "rate", d.pacer.Rate())
	default:
		return false
	}
	return true
}

// redeliverOne records the intent, asks GitHub, and records the outcome;
// put writes one entry durably.
func (r *Runner) redeliverOne(ctx context.Context, t Target, e *LedgerEntry, clock *serverClock,
	put func(context.Context, LedgerEntry) error) (time.Time, error) {
	e.IntentAt = clock.Now()
	e.Updated = e.IntentAt
	if err := put(ctx, *e); err != nil {
		return time.Time{}, fmt.Errorf("%w: recording the intent to redeliver %s: %w", errStore, e.GUID, err)
	}
	at, err := r.Redeliverer.Redeliver(ctx, t, e.AttemptID)
	switch {
	case err == nil:
		clock.Observe(at)
		e.countRequest()
		e.LastRequest = at
		e.IntentAt = time.Time{}
		e.State = StatePending
	case errors.Is(err, ErrOutcomeUnknown), ctx.Err() != nil:
		// Keep the intent: the next run finds out from GitHub's listing.
		e.State = StatePending
		return time.Time{}, err
	case errors.Is(err, ErrRefused) && clock.Now().Sub(e.AttemptAt) > r.Policy.Horizon-time.Hour:
		// Refused at the edge of the horizon: it expired while we waited.
		e.IntentAt = time.Time{}
		e.State = StateExpired
	default:
		e.IntentAt = time.Time{}
	}
	e.Updated = clock.Now()
	// The outcome write uses a fresh context: a deadline that just ended
	// must not leave an accepted request unrecorded.
	if perr := put(context.WithoutCancel(ctx), *e); perr != nil {
		return at, fmt.Errorf("%w: recording the outcome of redelivering %s: %w", errStore, e.GUID, perr)
	}
	return at, err
}

func (s State) verdict() Verdict {
	switch s {
	case StateExpired:
		return VerdictExpired
	case StateExhausted:
		return VerdictExhausted
	case StatePending:
		return VerdictPending
	}
	return VerdictRedeliver
}

// groupWriter writes the entries that workers hand it concurrently in one
// transaction (group commit): each put returns once its entry is durable,
// as a Put of its own would, and the first caller to find the writer idle
// commits for everyone waiting until nobody is.
type groupWriter struct {
	st  Store
	key string

	mu      sync.Mutex
	busy    bool
	pending []LedgerEntry
	waiters []chan error
}

// maxGroup bounds one transaction.
const maxGroup = 256

func (w *groupWriter) put(ctx context.Context, e LedgerEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	w.mu.Lock()
	w.pending = append(w.pending, e)
	w.waiters = append(w.waiters, done)
	lead := !w.busy
	w.busy = true
	w.mu.Unlock()
	if lead {
		w.commit(ctx)
	}
	return <-done
}

// commit writes one group of what is pending, its leader's entry among
// them, and hands what came meanwhile to a new leader, so no worker stays
// behind committing for the others. The context is the leader's, less its
// cancellation: an outcome must be recorded even when a deadline just
// ended the run.
func (w *groupWriter) commit(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	w.mu.Lock()
	n := min(len(w.pending), maxGroup)
	batch := slices.Clone(w.pending[:n])
	waiters := slices.Clone(w.waiters[:n])
	w.pending = append(w.pending[:0], w.pending[n:]...)
	w.waiters = append(w.waiters[:0], w.waiters[n:]...)
	w.mu.Unlock()
	err := w.st.Put(ctx, w.key, batch...)
	w.mu.Lock()
	if len(w.pending) > 0 {
		go w.commit(ctx)
	} else {
		w.busy = false
	}
	w.mu.Unlock()
	for _, c := range waiters {
		c <- err
	}
}
