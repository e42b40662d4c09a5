package redeliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Runner makes one pass over one target: list, plan, redeliver, checkpoint.
// It streams the listing page by page into per-guid observations, so memory
// grows with the number of distinct guids, not with the window.
type Runner struct {
	Source      Source
	Redeliverer Redeliverer
	Store       Store
	Policy      Policy
	// Pacer spaces redelivery requests; nil means GitHub's default pace
	// (one a second).
	Pacer *Pacer
	// Concurrency is how many redelivery requests may be in flight (≥ 1).
	Concurrency int
	// DryRun lists and plans but asks GitHub for nothing and writes nothing.
	DryRun bool
	// Probe looks at the first page after 20 redeliveries to see whether the
	// receiver is taking them, and slows down or stops if not; while it is
	// not shown healthy, it looks again after 200, 2000….
	Probe  bool
	Logger *slog.Logger
	// OnProgress, when set, hears about each page listed and each request.
	OnProgress func(Progress)
}

// Progress is one step of a run, for progress bars and metrics.
type Progress struct {
	Target      string
	Pages       int
	Attempts    int
	Redelivered int
	ToSend      int // redeliveries planned in this run, once known
	Failed      bool
}

// probe thresholds: the first check after 20 requests, then every tenfold.
const firstProbe = 20

// Run makes the pass. The report is always returned; err is the target's
// fatal error, also recorded in the report.
func (r *Runner) Run(ctx context.Context, t Target) (*Report, error) {
	rep := &Report{Target: t.Key(), Name: t.String(), DryRun: r.DryRun}
	err := r.run(ctx, t, rep)
	if err != nil {
		rep.Error, rep.ErrorCode = err.Error(), ErrorCode(err)
	}
	return rep, err
}

func (r *Runner) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Runner) progress(p Progress) {
	if r.OnProgress != nil {
		r.OnProgress(p)
	}
}

func (r *Runner) run(ctx context.Context, t Target, rep *Report) error {
	p := r.Policy
	key := t.Key()
	log := r.log().With("target", key)

	cp, hasCP, err := r.Store.Checkpoint(ctx, key)
	if err != nil {
		return err
	}
	stored, err := r.Store.Entries(ctx, key)
	if err != nil {
		return err
	}
	ledger := make(map[string]*LedgerEntry, len(stored))
	for i := range stored {
		ledger[stored[i].GUID] = &stored[i]
	}

	crawl, err := r.crawl(ctx, t, cp, hasCP, func(g string) bool { return ledger[g] != nil }, rep)
	if err != nil {
		return err
	}
	now := crawl.serverTime
	clock := newServerClock(now)

	// Plan every guid the listing showed failing and every open ledger entry.
	var decisions []*Decision
	for guid, o := range crawl.obs {
		prev := ledger[guid]
		if o.Succeeded && prev == nil {
			continue // delivered fine; nothing to remember
		}
		d := Decide(o, prev, p, now)
		decisions = append(decisions, &d)
	}
	for guid, e := range ledger {
		if _, seen := crawl.obs[guid]; !seen && e.State.Open() {
			d := Decide(nil, e, p, now)
			decisions = append(decisions, &d)
		}
	}
	// Maps iterate at random: a stable order keeps reports reproducible.
	slices.SortFunc(decisions, func(a, b *Decision) int {
		if c := a.Entry.FirstSeen.Compare(b.Entry.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Entry.GUID, b.Entry.GUID)
	})
	due := Order(decisions, p.MaxRedeliveries)

	var saves []LedgerEntry
	for _, d := range decisions {
		prev := ledger[d.Entry.GUID]
		changed := prev == nil || prev.State != d.Entry.State
		r.count(rep, d, changed)
		if d.Save {
			saves = append(saves, d.Entry)
		}
	}
	log.Info("planned", "events", rep.Events, "failed", rep.Failed, "due", len(due),
		"waiting", rep.Waiting, "pending", rep.Pending, "exhausted", rep.Exhausted, "expired", rep.Expired)

	if r.DryRun {
		for _, d := range due {
			rep.Items = append(rep.Items, item(d.Entry, VerdictRedeliver, nil))
		}
		rep.Redelivered = len(due)
		return nil
	}

	// Remember every failed guid before asking for anything: a crash from
	// here on loses nothing, the ledger carries them forward.
	if len(saves) > 0 {
		if err := r.Store.Put(ctx, key, saves...); err != nil {
			return err
		}
	}

	fatal := r.redeliverAll(ctx, t, due, clock, rep)
	if fatal != nil {
		return fatal
	}

	// The bookkeeping is done even when a deadline ended the requests: the
	// listing was complete, and what was not sent is in the ledger.
	bctx := context.WithoutCancel(ctx)
	if _, err := r.Store.Prune(bctx, key, now.Add(-p.Horizon-24*time.Hour)); err != nil {
		return err
	}
	if crawl.complete {
		if err := r.Store.SetCheckpoint(bctx, key, Checkpoint{Time: crawl.firstTime, RunAt: crawl.firstTime}); err != nil {
			return err
		}
	}
	return nil
}

// count adds one decision to the report.
func (r *Runner) count(rep *Report, d *Decision, changed bool) {
	switch d.Verdict {
	case VerdictRedeliver:
		rep.Failed++ // Redelivered is counted as requests succeed
	case VerdictWait:
		rep.Failed++
		rep.Waiting++
	case VerdictPending:
		rep.Failed++
		rep.Pending++
	case VerdictDeferred:
		rep.Failed++
		rep.Deferred++
		rep.Items = append(rep.Items, item(d.Entry, VerdictDeferred, nil))
	case VerdictFiltered:
		rep.Filtered++
	case VerdictRecovered:
		if changed {
			rep.Recovered++
		}
	case VerdictExhausted, VerdictExpired:
		if !changed {
			return // reported in the run where it happened
		}
		rep.Failed++
		if d.Verdict == VerdictExhausted {
			rep.Exhausted++
		} else {
			rep.Expired++
		}
		rep.Items = append(rep.Items, item(d.Entry, d.Verdict, nil))
	}
}

func item(e LedgerEntry, v Verdict, err error) Item {
	it := Item{GUID: e.GUID, Event: e.Event, Action: e.Action, AttemptID: e.AttemptID,
		Verdict: v, Attempts: e.Used(), FirstSeen: e.FirstSeen}
	if err != nil {
		it.Error = err.Error()
	}
	return it
}

// crawlResult is what the listing gave.
type crawlResult struct {
	obs        map[string]*Observation
	firstTime  time.Time // GitHub's clock at the first page: the next checkpoint
	serverTime time.Time // GitHub's clock at the last page: "now" for the plan
	complete   bool
}

// crawl lists newest first until the page that reaches the cutoff, folding
// attempts into per-guid observations.
func (r *Runner) crawl(ctx context.Context, t Target, cp Checkpoint, hasCP bool, known func(guid string) bool, rep *Report) (*crawlResult, error) {
	p := r.Policy
	res := &crawlResult{obs: make(map[string]*Observation)}
	var first time.Time // the cutoff, once the first page has told GitHub's clock
	cutoff := func(pg Page) time.Time {
		switch {
		case !p.Since.IsZero():
			first = p.Since
		case p.SinceAgo > 0:
			first = pg.ServerTime.Add(-p.SinceAgo)
		case hasCP:
			first = cp.Time.Add(-p.Overlap)
		default:
			first = pg.ServerTime.Add(-p.FirstWindow)
		}
		return first
	}
	// Most events in a window were delivered fine and need nothing but to
	// be recognised if an older failed attempt of theirs shows up on a later
	// page: they are kept as 16-byte keys, and full observations only for
	// events that failed or that the ledger knows.
	fine := make(map[guidKey]struct{})
	names := make(map[string]string) // event and action names, interned
	intern := func(s string) string {
		if v, ok := names[s]; ok {
			return v
		}
		names[s] = s
		return s
	}
	l, err := List(ctx, r.Source, t, cutoff, func(a Attempt) {
		rep.Attempts++
		if o := res.obs[a.GUID]; o != nil {
			o.Add(a)
			return
		}
		k := keyOf(a.GUID)
		if _, ok := fine[k]; ok {
			return // an older attempt of an event that a newer one delivered
		}
		if a.Succeeded() && !known(a.GUID) {
			fine[k] = struct{}{}
			rep.Events++
			return
		}
		a.Event, a.Action = intern(a.Event), intern(a.Action)
		o := &Observation{}
		o.Add(a)
		res.obs[a.GUID] = o
		rep.Events++
	}, func(pages int) error {
		r.progress(Progress{Target: rep.Target, Pages: pages, Attempts: rep.Attempts})
		if pages == 1 && !hasCP && !r.DryRun {
			// A first run marks where its window starts before going on: if
			// it dies, the next run looks back as far, not 24 h from its own
			// later start, which would skip the oldest part unseen.
			return r.Store.SetCheckpoint(ctx, t.Key(), Checkpoint{Time: first.Add(p.Overlap)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.firstTime, res.serverTime, res.complete = l.FirstTime, l.LastTime, l.Complete
	rep.From, rep.To, rep.Pages, rep.Complete, rep.Stopped = l.Cutoff, l.FirstTime, l.Pages, l.Complete, l.Stopped
	if !l.Complete {
		rep.Uncovered = append(rep.Uncovered, Span{From: l.Cutoff, To: l.Oldest, Reason: "listing stopped before reaching the checkpoint"})
	}
	if h := l.FirstTime.Add(-p.Horizon); l.Cutoff.Before(h) {
		rep.Uncovered = append(rep.Uncovered, Span{From: l.Cutoff, To: h,
			Reason: fmt.Sprintf("older than GitHub's redelivery horizon (%s): failures there can no longer be redelivered", p.Horizon)})
	}
	return res, nil
}

// Listing is what List went through.
type Listing struct {
	Pages     int
	Cutoff    time.Time // the oldest delivered_at taken
	FirstTime time.Time // GitHub's clock at the first page
	LastTime  time.Time // GitHub's clock at the last page
	Oldest    time.Time // the oldest delivered_at seen at or after Cutoff
	// Complete is true when the listing reached Cutoff or the end of the
	// hook's history; Stopped says why not.
	Complete bool
	Stopped  string
}

// List walks t's attempts newest first, page by page, calling each for
// every attempt delivered at or after the cutoff (computed from the first
// page, as it depends on GitHub's clock). It stops at the first page that
// reaches the cutoff, at an empty page, at the last page, or at a cursor
// that does not advance. page, if not nil, hears the page count after each
// page; an error from it ends the listing.
func List(ctx context.Context, src Source, t Target, cutoff func(first Page) time.Time, each func(Attempt), page func(pages int) error) (Listing, error) {
	var l Listing
	cursor := ""
	for {
		pg, err := src.ListAttempts(ctx, t, cursor)
		if err != nil {
			return l, fmt.Errorf("listing deliveries of %s (page %d): %w", t, l.Pages+1, err)
		}
		if l.Pages == 0 {
			l.FirstTime, l.Cutoff, l.Oldest = pg.ServerTime, cutoff(pg), pg.ServerTime
		}
		l.LastTime = pg.ServerTime
		l.Pages++
		reached := len(pg.Attempts) == 0
		for _, a := range pg.Attempts {
			if a.DeliveredAt.Before(l.Cutoff) {
				reached = true
				continue
			}
			if a.DeliveredAt.Before(l.Oldest) {
				l.Oldest = a.DeliveredAt
			}
			each(a)
		}
		if page != nil {
			if err := page(l.Pages); err != nil {
				return l, err
			}
		}
		if reached || pg.Next == "" {
			l.Complete = true
			return l, nil
		}
		if pg.Next == cursor {
			l.Stopped = "GitHub returned the same page cursor twice; listing stopped"
			return l, nil
		}
		cursor = pg.Next
	}
}

// redeliverAll sends the due redeliveries with the pacer and concurrency,
// recording an intent before each request and the result after it.
func (r *Runner) redeliverAll(ctx context.Context, t Target, due []*Decision, clock *serverClock, rep *Report) error {
	if len(due) == 0 {
		return nil
	}
	key := t.Key()
	log := r.log().With("target", key)
	pacer := r.Pacer
	if pacer == nil {
		pacer = NewPacer(1)
	}
	workers := max(r.Concurrency, 1)

	var (
		mu        sync.Mutex
		fatal     error
		stopped   atomic.Bool
		sent      = map[string]time.Time{} // guid → GitHub's clock when accepted
		nextProbe = firstProbe
		refusals  int // consecutive refusals, to stop hammering a broken target
	)
	stop := func(why string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if stopped.Swap(true) {
			return
		}
		rep.Stopped = why
		if err != nil {
			fatal = err
		}
		log.Warn("stopping early", "reason", why)
	}

	jobs := make(chan *Decision)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for d := range jobs {
				if !stopped.Load() && ctx.Err() == nil {
					if err := pacer.Wait(ctx); err != nil {
						stop("deadline reached or interrupted; the rest is left for the next run", nil)
					}
				}
				if stopped.Load() || ctx.Err() != nil {
					if ctx.Err() != nil {
						stop("deadline reached or interrupted; the rest is left for the next run", nil)
					}
					mu.Lock()
					rep.Deferred++
					rep.Items = append(rep.Items, item(d.Entry, VerdictDeferred, nil))
					mu.Unlock()
					continue
				}
				at, err := r.redeliverOne(ctx, t, &d.Entry, clock)
				mu.Lock()
				switch {
				case err == nil:
					refusals = 0
					rep.Redelivered++
					sent[d.Entry.GUID] = at
					rep.Items = append(rep.Items, item(d.Entry, VerdictRedeliver, nil))
				case errors.Is(err, errStore):
					mu.Unlock()
					stop("the state store failed", err)
					continue
				case ErrorCode(err) == EAuth:
					mu.Unlock()
					stop("GitHub refused the credentials", err)
					continue
				case ErrorCode(err) == ERateLimited || ctx.Err() != nil:
					rep.Deferred++
					rep.Items = append(rep.Items, item(d.Entry, VerdictDeferred, err))
					mu.Unlock()
					stop("rate limited or out of time; the rest is left for the next run", nil)
					continue
				default:
					rep.Errors++
					refusals++
					rep.Items = append(rep.Items, item(d.Entry, d.Entry.State.verdict(), err))
					log.Warn("redelivery failed", "guid", d.Entry.GUID, "attempt_id", d.Entry.AttemptID, "error", err)
				}
				n := rep.Redelivered
				probeNow := r.Probe && err == nil && n >= nextProbe && n < len(due)
				if probeNow {
					nextProbe *= 10
				}
				many := refusals >= 5
				snapshot := make(map[string]time.Time, len(sent))
				if probeNow {
					for g, at := range sent {
						snapshot[g] = at
					}
				}
				mu.Unlock()
				r.progress(Progress{Target: key, Redelivered: n, ToSend: len(due), Failed: err != nil})
				if many {
					stop("GitHub refused 5 redeliveries in a row", nil)
				}
				if probeNow && !r.probe(ctx, t, snapshot, pacer, stop) {
					mu.Lock()
					nextProbe = math.MaxInt // healthy: no need to look again
					mu.Unlock()
				}
			}
		})
	}
	for _, d := range due {
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	return fatal
}

// errStore marks state-store failures during redelivery: they stop the run.
var errStore = errors.New("state store")

// redeliverOne records the intent, asks GitHub, and records the outcome.
func (r *Runner) redeliverOne(ctx context.Context, t Target, e *LedgerEntry, clock *serverClock) (time.Time, error) {
	key := t.Key()
	e.IntentAt = clock.Now()
	e.Updated = e.IntentAt
	if err := r.Store.Put(ctx, key, *e); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", errStore, err)
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
	if perr := r.Store.Put(context.WithoutCancel(ctx), key, *e); perr != nil {
		return at, fmt.Errorf("%w: %w", errStore, perr)
	}
	return at, err
}

// probe lists the first page and checks how this run's redeliveries fared.
//
// It reports whether to look again later: only while the receiver has not
// shown itself healthy, so a healthy one costs a single listing call.
func (r *Runner) probe(ctx context.Context, t Target, sent map[string]time.Time, pacer *Pacer, stop func(string, error)) (again bool) {
	page, err := r.Source.ListAttempts(ctx, t, "")
	if err != nil {
		return true // the probe is advice; the run goes on
	}
	var checked, failed int
	for _, a := range page.Attempts {
		at, ok := sent[a.GUID]
		if !ok || !a.Redelivery || a.DeliveredAt.Before(at.Add(-slack)) {
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
		stop(fmt.Sprintf("the receiver is still failing (%d of %d redeliveries checked failed); the rest is left for the next run", failed, checked), nil)
	case failed*2 >= checked:
		pacer.Slow()
		r.log().Warn("receiver struggling; slowing down", "target", t.Key(), "failed", failed, "checked", checked, "rate", pacer.Rate())
	default:
		return false
	}
	return true
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

// serverClock is GitHub's clock as last seen in an answer's Date header.
// An intent stamped with it is never later than the attempt GitHub records
// for the request, which is what reconciliation relies on; the runner's own
// wall clock never leaks in.
type serverClock struct {
	mu   sync.Mutex
	last time.Time
}

func newServerClock(t time.Time) *serverClock { return &serverClock{last: t} }

// Now is the latest reading.
func (c *serverClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Observe takes a fresh reading from an answer's Date header.
func (c *serverClock) Observe(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.last) {
		c.last = t
	}
}

// guidKey is a guid in 16 bytes: a UUID's own bytes (GitHub's guids are
// UUIDs), or else the first 16 bytes of its SHA-256.
type guidKey [16]byte

func keyOf(guid string) guidKey {
	var k guidKey
	if len(guid) == 36 && guid[8] == '-' && guid[13] == '-' && guid[18] == '-' && guid[23] == '-' {
		ok := true
		for i, seg := range [][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
			at := [...]int{0, 4, 6, 8, 10}[i]
			if _, err := hex.Decode(k[at:], []byte(guid[seg[0]:seg[1]])); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return k
		}
	}
	sum := sha256.Sum256([]byte(guid))
	copy(k[:], sum[:16])
	return k
}
