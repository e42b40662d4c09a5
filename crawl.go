package redeliver

import (
	"context"
	"fmt"
	"time"
)

// crawlResult is what the listing gave.
type crawlResult struct {
	obs        map[string]*Observation
	cutoff     time.Time // the oldest delivered_at examined
	newest     time.Time // the newest delivered_at listed
	firstTime  time.Time // GitHub's clock at the first page
	serverTime time.Time // GitHub's clock at the last page: "now" for the plan
	complete   bool
	// foreignOK counts redelivered events, delivered fine in the end, that
	// this state never asked for.
	foreignOK int
}

// crawl lists newest first until the page that reaches the cutoff, folding
// attempts into per-guid observations.
func (r *Runner) crawl(ctx context.Context, t Target, cp Checkpoint, hasCP bool, known func(guid string) bool, rep *Report) (*crawlResult, error) {
	p := r.Policy
	res := &crawlResult{obs: make(map[string]*Observation)}
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
			if a.Redelivery {
				res.foreignOK++
			}
			return
		}
		a.Event, a.Action = intern(a.Event), intern(a.Action)
		o := &Observation{}
		o.Add(a)
		res.obs[a.GUID] = o
		rep.Events++
	}, func(pages int) error {
		r.progress(Progress{Target: rep.Target, Pages: pages, Attempts: rep.Attempts})
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
	if err != nil {
		return nil, err
	}
	res.cutoff, res.newest = l.Cutoff, l.Newest
	res.firstTime, res.serverTime, res.complete = l.FirstTime, l.LastTime, l.Complete
	rep.From, rep.To, rep.Pages, rep.Complete, rep.Stopped = l.Cutoff, l.FirstTime, l.Pages, l.Complete, l.Stopped
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
