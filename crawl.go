package redeliver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// heldObservation is a guid whose redeliveries were listed and whose
// original was not yet, with its ledger entry as the run found it.
type heldObservation struct {
	o    Observation
	prev *LedgerEntry
}

// crawlResult is what the listing gave.
type crawlResult struct {
	cutoff     time.Time // the oldest delivered_at examined
	newest     time.Time // the newest delivered_at listed
	firstTime  time.Time // GitHub's clock at the first page
	serverTime time.Time // GitHub's clock at the last page
	complete   bool
	// foreignOK counts redelivered events, delivered fine in the end, that
	// this state never asked for.
	foreignOK int
	// newestSeen and newestFailed count the newest deliveries listed (up
	// to receiverSample), originals and redeliveries alike: how the
	// receiver fared most recently.
	newestSeen, newestFailed int
}

// receiverSample is how many of the newest deliveries tell the receiver's
// health: as many as the probe needs to judge.
const receiverSample = 10

// receiverUp says whether the newest deliveries listed show the receiver
// taking them, by the probe's rule: it is down when 9 in 10 fail. Nothing
// listed tells nothing.
func (c *crawlResult) receiverUp() bool {
	return c.newestSeen > 0 && c.newestFailed*10 < c.newestSeen*9
}

// crawl lists newest first until the page that reaches the cutoff, and
// hands each guid that failed or that the ledger knows to decide as soon as
// its observation is complete, with its ledger entry (nil if none). Newest
// first, a guid's redeliveries come before its original delivery, so the
// original completes it; a guid whose original is older than the cutoff is
// complete when the listing ends. Only guids with redeliveries are held
// meanwhile, so memory does not grow with the number of failed events
// (decide passes them on to the store). The ledger is asked about each
// page's guids at once (lookup), never read whole.
func (r *Runner) crawl(ctx context.Context, t Target, cp Checkpoint, hasCP bool,
	lookup func(guids []string) (map[string]*LedgerEntry, error),
	decide func(o *Observation, prev *LedgerEntry, now time.Time) error, rep *Report) (*crawlResult, error) {
	p := r.Policy
	res := &crawlResult{}
	// The run's start: the first page, or earlier when the caller knows
	// GitHub's clock when the whole run began (several targets in turn).
	var start, first, cut time.Time
	cutoff := func(pg Page) time.Time {
		first, start = pg.ServerTime, pg.ServerTime
		if !r.Start.IsZero() && r.Start.Before(start) {
			start = r.Start
		}
		cut = Cutoff(p, cp, hasCP, start)
		return cut
	}
	// open holds the guids whose redeliveries were listed and whose
	// original was not yet; fine, as 16-byte keys, those a redelivery
	// delivered fine, so their older attempts are recognised and skipped.
	open := make(map[string]*heldObservation)
	fine := make(map[guidKey]struct{})
	names := make(map[string]string) // event and action names, interned
	intern := func(s string) string {
		if v, ok := names[s]; ok {
			return v
		}
		names[s] = s
		return s
	}
	var failed error // the first error decide returned
	finish := func(o *Observation, prev *LedgerEntry) {
		if failed == nil {
			failed = decide(o, prev, first)
		}
	}
	// take folds one attempt in; known is the page's ledger entries.
	take := func(a Attempt, known map[string]*LedgerEntry) {
		rep.Attempts++
		if res.newestSeen < receiverSample {
			res.newestSeen++
			if !a.Succeeded() {
				res.newestFailed++
			}
		}
		if h := open[a.GUID]; h != nil {
			h.o.Add(a)
			if !a.Redelivery {
				delete(open, a.GUID)
				finish(&h.o, h.prev)
			}
			return
		}
		if len(fine) > 0 {
			if _, ok := fine[keyOf(a.GUID)]; ok {
				return // an older attempt of an event a redelivery delivered
			}
		}
		prev := known[a.GUID]
		if a.Succeeded() && prev == nil {
			rep.Events++
			if a.Redelivery {
				fine[keyOf(a.GUID)] = struct{}{}
				res.foreignOK++
			}
			return // delivered fine: nothing to remember
		}
		rep.Events++
		a.Event, a.Action = intern(a.Event), intern(a.Action)
		if a.Redelivery {
			h := &heldObservation{prev: prev}
			h.o.Add(a)
			open[a.GUID] = h
			return
		}
		o := &Observation{}
		o.Add(a)
		finish(o, prev)
	}
	// A page's attempts wait in batch until the ledger has been asked
	// about their guids, all at once.
	var batch []Attempt
	var guids []string
	l, err := List(ctx, r.Source, t, cutoff, func(a Attempt) { batch = append(batch, a) }, func(pages int) error {
		guids = guids[:0]
		for _, a := range batch {
			if open[a.GUID] == nil {
				guids = append(guids, a.GUID)
			}
		}
		var known map[string]*LedgerEntry
		if len(guids) > 0 && failed == nil {
			var err error
			if known, err = lookup(guids); err != nil {
				return fmt.Errorf("reading the ledger: %w", err)
			}
		}
		for _, a := range batch {
			take(a, known)
		}
		clear(batch)
		batch = batch[:0]
		r.progress(Progress{Target: rep.Target, Pages: pages, Attempts: rep.Attempts})
		if failed != nil {
			return failed
		}
		if pages == 1 && cut.After(first) {
			return Errorf(EInvalid, "--since %s is after GitHub's clock (%s): there is nothing to examine, and a checkpoint there would skip what comes before it",
				cut.UTC().Format(time.RFC3339), first.UTC().Format(time.RFC3339))
		}
		if pages == 1 && !hasCP && !r.DryRun {
			// A first run marks where its window starts before going on: if
			// it dies, the next run looks back as far, not 24 h from its own
			// later start, which would skip the oldest part unseen.
			return AnchorFirstRun(ctx, r.Store, t.Key(), p, start)
		}
		return nil
	})
	// What was listed is told even when the listing ended in an error (an
	// interruption, a deadline): the report says how far it got.
	rep.From, rep.To, rep.Pages = l.Cutoff, l.FirstTime, l.Pages
	if err != nil {
		if l.Pages > 0 {
			rep.Uncovered = append(rep.Uncovered, Span{From: l.Cutoff, To: l.Oldest, Reason: "listing stopped before reaching the checkpoint"})
		}
		return nil, err
	}
	// Guids whose original is older than the cutoff are complete now, in
	// a stable order so reports are reproducible.
	rest := make([]*heldObservation, 0, len(open))
	for _, h := range open {
		rest = append(rest, h)
	}
	slices.SortFunc(rest, func(a, b *heldObservation) int { return strings.Compare(a.o.GUID, b.o.GUID) })
	for _, h := range rest {
		if err := decide(&h.o, h.prev, l.LastTime); err != nil {
			return nil, err
		}
	}
	res.cutoff, res.newest = l.Cutoff, l.Newest
	res.firstTime, res.serverTime, res.complete = l.FirstTime, l.LastTime, l.Complete
	rep.Complete, rep.Stopped = l.Complete, l.Stopped
	if l.Stopped != "" {
		rep.StopReason = StopListing
	}
	if !l.Complete {
		rep.Uncovered = append(rep.Uncovered, Span{From: l.Cutoff, To: l.Oldest, Reason: "listing stopped before reaching the checkpoint"})
	}
	if hasCP && (p.SinceAgo > 0 || !p.Since.IsZero()) && l.Cutoff.After(cp.Time.Add(-p.Overlap)) {
		rep.Uncovered = append(rep.Uncovered, Span{From: cp.Time.Add(-p.Overlap), To: l.Cutoff,
			Reason: "--since starts after the checkpoint: not examined by this run; the checkpoint stays so the next run without --since covers it"})
	}
	// The span past the horizon is lost only if no run examined it in time:
	// a quiet hook's checkpoint stays at its newest attempt, and the run
	// that kept it there (RunAt) did look.
	lastLook := l.Cutoff
	if hasCP && cp.RunAt.After(lastLook) && p.Since.IsZero() && p.SinceAgo == 0 {
		lastLook = cp.RunAt
	}
	if h := l.FirstTime.Add(-p.Horizon); lastLook.Before(h) {
		rep.Uncovered = append(rep.Uncovered, Span{From: l.Cutoff, To: h,
			Reason: fmt.Sprintf("older than GitHub's redelivery horizon (%s): failures there can no longer be redelivered", p.Horizon)})
	}
	return res, nil
}
