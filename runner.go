package redeliver

import (
	"context"
	"fmt"
	"log/slog"
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
	Probe  bool
	Logger *slog.Logger
	// OnProgress, when set, hears about each page listed and each request.
	OnProgress func(Progress)
	// OnItem, when set, hears every item of the report, including those
	// left out of Report.Items once MaxItems is reached.
	OnItem func(Item)
	// Start, when set, is GitHub's clock when the whole run began: a target
	// without a checkpoint takes its first window back from it rather than
	// from its own first page, so targets reached late lose nothing.
	Start time.Time
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
	stored, err := r.Store.Entries(ctx, key)
	if err != nil {
		return fmt.Errorf("reading the ledger: %w", err)
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

	decisions := Plan(crawl.obs, ledger, p, now)
	crawl.obs = nil // the decisions hold what is needed from here on
	due := Order(decisions, p.MaxRedeliveries)

	var saves []LedgerEntry
	for _, d := range decisions {
		prev := ledger[d.Entry.GUID]
		changed := prev == nil || prev.State != d.Entry.State
		r.count(rep, d, changed)
		if prev == nil || d.Entry.Seen > prev.Seen {
			// Redeliveries GitHub listed that this state did not ask for.
			rep.Foreign += max(0, d.Entry.Seen-d.Entry.Requests-foreignBefore(prev))
		}
		if d.Save {
			saves = append(saves, d.Entry)
		}
	}
	rep.Foreign += crawl.foreignOK
	log.Info("planned", "events", rep.Events, "failed", rep.Failed, "due", len(due),
		"waiting", rep.Waiting, "pending", rep.Pending, "exhausted", rep.Exhausted, "expired", rep.Expired)
	if rep.Foreign > 0 {
		log.Warn("another redeliverer is active on this hook: GitHub lists redeliveries this state did not ask for; events may be redelivered twice",
			"hook", t.String(), "foreign_redeliveries", rep.Foreign)
	}

	if r.DryRun {
		for _, d := range due {
			r.addItem(rep, item(d.Entry, VerdictRedeliver, nil))
		}
		rep.Redelivered = len(due)
		return nil
	}

	// Remember every failed guid before asking for anything: a crash from
	// here on loses nothing, the ledger carries them forward.
	if len(saves) > 0 {
		if err := r.Store.Put(ctx, key, saves...); err != nil {
			return fmt.Errorf("recording %d failed events: %w", len(saves), err)
		}
	}
	saves, decisions, ledger, stored = nil, nil, nil, nil

	if err := newDispatcher(r, t, clock, rep, len(due)).run(ctx, due); err != nil {
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
