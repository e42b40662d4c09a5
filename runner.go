package redeliver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Runner makes one pass over one target: list, plan, redeliver, checkpoint.
// It streams the listing page by page into per-guid observations, so memory
// grows with the number of failed guids, not with the window. The pieces
// live beside it: listing.go walks the pages, plan.go and planner.go decide,
// dispatch.go sends the requests.
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
	Probe bool
	// ProbeIfDown narrows Probe to runs whose listing leaves the
	// receiver's health in doubt: no deliveries listed, or 9 of the newest
	// 10 failed (the probe's own rule). Set it when redeliveries go at the
	// docs script's pace, one at a time a second apart: that is no more
	// load than the script puts on a receiver, so the probe's other check,
	// a receiver struggling under the run's pace, has nothing to catch,
	// and a listing that shows the receiver taking deliveries saves the
	// probe's listing call.
	ProbeIfDown bool
	Logger      *slog.Logger
	// OnProgress, when set, hears about each page listed and each request.
	OnProgress func(Progress)
	// OnItem, when set, hears every item of the report, including those
	// left out of Report.Items once MaxItems is reached.
	OnItem func(Item)
	// OnRecovered, when set, hears each event the ledger held open (failed
	// or pending) that the listing shows delivered now, as it will be
	// stored: its FirstSeen and Updated give its time to recovery.
	OnRecovered func(LedgerEntry)
	// Start, when set, is GitHub's clock when the whole run began: a target
	// without a checkpoint takes its first window back from it rather than
	// from its own first page, so targets reached late lose nothing.
	Start time.Time
	// Spill, when set, makes a disk queue for a run whose redeliveries
	// due outgrow SpillAt (0: DefaultSpillAt), keeping memory flat.
	Spill   func() (Queue, error)
	SpillAt int
	// MaxItems bounds Report.Items (0: DefaultMaxItems); the rest are
	// counted in Report.ItemsOmitted.
	MaxItems int
}

// DefaultMaxItems is how many items a report lists before counting the
// rest: enough to read, small enough that a run over a million failed
// events keeps a flat memory.
const DefaultMaxItems = 1000

// Progress is one step of a run, for progress bars and metrics.
type Progress struct {
	Target      string
	Pages       int
	Attempts    int
	Redelivered int
	ToSend      int // redeliveries planned in this run, once known
	Failed      bool
}

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

// addItem tells OnItem and keeps the item in the report while there is room.
func (r *Runner) addItem(rep *Report, it Item) {
	if r.OnItem != nil {
		r.OnItem(it)
	}
	limit := r.MaxItems
	if limit <= 0 {
		limit = DefaultMaxItems
	}
	if len(rep.Items) < limit {
		rep.Items = append(rep.Items, it)
		return
	}
	rep.ItemsOmitted++
}

func (r *Runner) run(ctx context.Context, t Target, rep *Report) error {
	p := r.Policy
	key := t.Key()
	log := r.log().With("target", key)

	cp, hasCP, err := r.Store.Checkpoint(ctx, key)
	if err != nil {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	// The ledger is never read whole: the guids open at the start, as
	// 16-byte keys, tell which open entries the listing did not show; each
	// page's guids are looked up as it comes.
	openAtStart, err := openKeys(ctx, r.Store, key)
	if err != nil {
		return fmt.Errorf("reading the ledger: %w", err)
	}
	shown := make([]bool, len(openAtStart))

	queue := newMemQueue(r.SpillAt, r.Spill)
	defer queue.Close()
	pl := &planning{r: r, rep: rep, key: key, queue: queue}
	lookup := func(guids []string) (map[string]*LedgerEntry, error) {
		es, err := r.Store.Lookup(ctx, key, guids)
		if err != nil || len(es) == 0 {
			return nil, err
		}
		m := make(map[string]*LedgerEntry, len(es))
		for i := range es {
			m[es[i].GUID] = &es[i]
		}
		return m, nil
	}
	crawl, err := r.crawl(ctx, t, cp, hasCP, lookup,
		func(o *Observation, prev *LedgerEntry, now time.Time) error {
			if prev != nil {
				if i, ok := openAtStart.find(o.GUID); ok {
					shown[i] = true
				}
			}
			if o.Succeeded && prev == nil {
				return nil // delivered fine; nothing to remember
			}
			return pl.take(ctx, Decide(o, prev, p, now), prev)
		}, rep)
	if err != nil {
		return err
	}
	now := crawl.serverTime
	// Open ledger entries the listing did not show fell behind the
	// checkpoint while waiting: the ledger carries them. Those this run
	// wrote are not among the keys taken at its start, and are skipped.
	err = eachOpen(ctx, r.Store, key, func(e *LedgerEntry) error {
		if i, ok := openAtStart.find(e.GUID); !ok || shown[i] {
			return nil
		}
		return pl.take(ctx, Decide(nil, e, p, now), e)
	})
	if err != nil {
		return err
	}
	// Remember every failed guid before asking for anything: a crash from
	// here on loses nothing, the ledger carries them forward.
	if err := pl.flush(ctx); err != nil {
		return err
	}
	openAtStart, shown = nil, nil

	toSend := queue.Len()
	if p.MaxRedeliveries > 0 {
		toSend = min(toSend, p.MaxRedeliveries)
	}
	log.Info("planned", "events", rep.Events, "failed", rep.Failed, "due", toSend,
		"waiting", rep.Waiting, "pending", rep.Pending, "exhausted", rep.Exhausted, "expired", rep.Expired)
	if rep.Foreign += crawl.foreignOK; rep.Foreign > 0 {
		log.Warn("another redeliverer is active on this hook: GitHub lists redeliveries this state did not ask for; events may be redelivered twice",
			"hook", t.String(), "foreign_redeliveries", rep.Foreign)
	}

	if r.DryRun {
		n := 0
		return queue.Each(func(e LedgerEntry) error {
			if n++; n > toSend {
				rep.Deferred++
				r.addItem(rep, item(e, VerdictDeferred, nil))
				return nil
			}
			rep.Redelivered++
			r.addItem(rep, item(e, VerdictRedeliver, nil))
			return nil
		})
	}

	probe := r.Probe && toSend > firstProbe
	if probe && r.ProbeIfDown && crawl.receiverUp() {
		probe = false
		log.Debug("no receiver probe: the newest deliveries listed show the receiver taking them",
			"checked", crawl.newestSeen, "failed", crawl.newestFailed)
	}
	if err := newDispatcher(r, t, newServerClock(now), rep, toSend, probe).run(ctx, queue); err != nil {
		return err
	}

	// The bookkeeping is done even when a deadline ended the requests: the
	// listing was complete, and what was not sent is in the ledger.
	bctx := context.WithoutCancel(ctx)
	next := cp
	if crawl.complete {
		var held string
		next, held = NextCheckpoint(p, cp, hasCP, crawl.cutoff, crawl.newest, crawl.firstTime)
		if held != "" {
			rep.CheckpointHeld = held
			log.Warn("checkpoint held back", "reason", held)
		}
		if next != cp || !hasCP {
			if err := r.Store.SetCheckpoint(bctx, key, next); err != nil {
				return fmt.Errorf("recording the checkpoint: %w", err)
			}
		}
	}
	if _, err := r.Store.Prune(bctx, key, PruneBefore(p, next, now)); err != nil {
		return fmt.Errorf("pruning the ledger: %w", err)
	}
	return nil
}

// openBatch is how many open ledger entries one read takes.
const openBatch = 1000

// eachOpen calls fn with each open ledger entry of the target, reading
// them in batches.
func eachOpen(ctx context.Context, st Store, key string, fn func(*LedgerEntry) error) error {
	read := func(ctx context.Context, key, after string, limit int) ([]LedgerEntry, error) {
		es, err := st.OpenEntries(ctx, key, after, limit)
		if err != nil {
			return nil, fmt.Errorf("reading the ledger: %w", err)
		}
		return es, nil
	}
	return EachBatch(ctx, read, key, openBatch, func(es []LedgerEntry) error {
		for i := range es {
			if err := fn(&es[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// guidKeys is a sorted set of guids as 16-byte keys.
type guidKeys []guidKey

// openKeys is the set of the target's open ledger guids.
func openKeys(ctx context.Context, st Store, key string) (guidKeys, error) {
	var ks guidKeys
	err := eachOpen(ctx, st, key, func(e *LedgerEntry) error {
		ks = append(ks, keyOf(e.GUID))
		return nil
	})
	slices.SortFunc(ks, func(a, b guidKey) int { return bytes.Compare(a[:], b[:]) })
	return ks, err
}

// find returns the index of guid's key, if the set holds it.
func (ks guidKeys) find(guid string) (int, bool) {
	k := keyOf(guid)
	return slices.BinarySearchFunc(ks, k, func(a, b guidKey) int { return bytes.Compare(a[:], b[:]) })
}

// planning takes the Planner's decisions one guid at a time: it counts
// them into the report, writes the entries to remember in batches, and
// queues the redeliveries due.
type planning struct {
	r     *Runner
	rep   *Report
	key   string
	queue Queue
	saves []LedgerEntry
}

// saveBatch is how many ledger entries one store transaction writes.
const saveBatch = 1000

func (pl *planning) take(ctx context.Context, d Decision, prev *LedgerEntry) error {
	changed := prev == nil || prev.State != d.Entry.State
	pl.r.count(pl.rep, &d, changed)
	if d.Verdict == VerdictRecovered && prev != nil && prev.State.Open() && pl.r.OnRecovered != nil && !pl.r.DryRun {
		pl.r.OnRecovered(d.Entry)
	}
	if prev == nil || d.Entry.Seen > prev.Seen {
		// Redeliveries GitHub listed that this state did not ask for.
		pl.rep.Foreign += max(0, d.Entry.Seen-d.Entry.Requests-foreignBefore(prev))
	}
	if d.Verdict == VerdictRedeliver {
		if err := pl.queue.Push(d.Entry); err != nil {
			return fmt.Errorf("queueing the redeliveries due: %w", err)
		}
	}
	if d.Save && !pl.r.DryRun {
		pl.saves = append(pl.saves, d.Entry)
		if len(pl.saves) >= saveBatch {
			return pl.flush(ctx)
		}
	}
	return nil
}

// flush writes the entries taken so far.
func (pl *planning) flush(ctx context.Context) error {
	if len(pl.saves) == 0 {
		return nil
	}
	if err := pl.r.Store.Put(ctx, pl.key, pl.saves...); err != nil {
		return fmt.Errorf("recording %d failed events: %w", len(pl.saves), err)
	}
	pl.saves = pl.saves[:0]
	return nil
}

// foreignBefore is how many of prev's listed redeliveries were already
// counted as someone else's in an earlier run.
func foreignBefore(prev *LedgerEntry) int {
	if prev == nil {
		return 0
	}
	return max(0, prev.Seen-prev.Requests)
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
		r.addItem(rep, item(d.Entry, VerdictDeferred, nil))
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
		r.addItem(rep, item(d.Entry, d.Verdict, nil))
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
