package redeliver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Plan decides every guid of one run: each one the listing showed failing or
// the ledger knows (obs), and each open ledger entry the listing did not show
// (it fell behind the checkpoint while waiting). Guids the listing showed
// delivered fine and the ledger does not know need nothing and are skipped.
// The decisions come back in a stable order (oldest first), so reports are
// reproducible whatever order the maps iterate in.
func Plan(obs map[string]*Observation, ledger map[string]*LedgerEntry, p Policy, now time.Time) []*Decision {
	var ds []*Decision
	for guid, o := range obs {
		prev := ledger[guid]
		if o.Succeeded && prev == nil {
			continue
		}
		d := Decide(o, prev, p, now)
		ds = append(ds, &d)
	}
	for guid, e := range ledger {
		if _, seen := obs[guid]; !seen && e.State.Open() {
			d := Decide(nil, e, p, now)
			ds = append(ds, &d)
		}
	}
	slices.SortFunc(ds, func(a, b *Decision) int {
		if c := a.Entry.FirstSeen.Compare(b.Entry.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Entry.GUID, b.Entry.GUID)
	})
	return ds
}

// Cutoff is the oldest delivered_at a run examines: --since when given, else
// the stored checkpoint less the overlap, else a first run's window back
// from start. start is GitHub's clock when the run began (its first page).
func Cutoff(p Policy, cp Checkpoint, hasCP bool, start time.Time) time.Time {
	switch {
	case !p.Since.IsZero():
		return p.Since
	case p.SinceAgo > 0:
		return start.Add(-p.SinceAgo)
	case hasCP:
		return cp.Time.Add(-p.Overlap)
	default:
		return start.Add(-p.FirstWindow)
	}
}

// AnchorFirstRun records Anchor(p, start) for a target that has no
// checkpoint yet, and leaves one that has alone. A run calls it for every
// target before listing any, so that one it never reaches (a deadline, a
// kill, a CI time limit) keeps the window the run began with.
func AnchorFirstRun(ctx context.Context, st Store, key string, p Policy, start time.Time) error {
	if _, ok, err := st.Checkpoint(ctx, key); err != nil || ok {
		return err
	}
	if err := st.SetCheckpoint(ctx, key, Anchor(p, start)); err != nil {
		return fmt.Errorf("anchoring the first window: %w", err)
	}
	return nil
}

// Anchor is the checkpoint that makes a target's first run look back from
// start: recorded for every target when a run begins, it keeps the window of
// a target the run never reaches (a deadline, a kill) from sliding forward.
func Anchor(p Policy, start time.Time) Checkpoint {
	return Checkpoint{Time: start.Add(-p.FirstWindow).Add(p.Overlap)}
}

// maxClockLead is how far GitHub's clock (its Date header) may run ahead
// of the newest attempt it lists for the checkpoint to follow the clock.
// Further ahead, the hook is quiet or the clock is wrong, and the
// checkpoint stays with the attempts: safe either way.
const maxClockLead = time.Hour

// NextCheckpoint is what a complete listing lets a run record, and why it
// holds back when it does. It is GitHub's clock when the run began, as
// before, when that clock agrees with the attempts listed (within an hour
// of the newest); else the newest delivered_at listed (or the cutoff), so
// a Date header running ahead cannot move the checkpoint past attempts
// nobody examined. It never moves back. A look-back chosen by --since that
// starts after the stored checkpoint leaves the span between them
// unexamined, so the checkpoint stays and the next run without --since
// covers it. RunAt always records when the run looked.
func NextCheckpoint(p Policy, prev Checkpoint, hasPrev bool, cutoff, newest, runAt time.Time) (next Checkpoint, held string) {
	if hasPrev && (p.SinceAgo > 0 || !p.Since.IsZero()) && cutoff.After(prev.Time.Add(-p.Overlap)) {
		return Checkpoint{Time: prev.Time, RunAt: runAt}, "--since starts after the stored checkpoint: the checkpoint stays, so the next run covers the span in between"
	}
	next = Checkpoint{Time: cutoff, RunAt: runAt}
	if newest.After(next.Time) {
		next.Time = newest
	}
	if !newest.IsZero() && runAt.After(next.Time) && runAt.Sub(newest) <= maxClockLead {
		next.Time = runAt
	}
	if hasPrev {
		if next.Time.Before(prev.Time) {
			next.Time = prev.Time
		}
		if runAt.Before(prev.Time) {
			held = "GitHub's clock (its Date header) is behind the stored checkpoint: it is not trusted to move it"
		}
	}
	return next, held
}

// PruneBefore is the age before which closed ledger entries may be
// forgotten: past GitHub's redelivery horizon (a day's margin), and behind
// the checkpoint, so no later listing shows their attempts again as new.
func PruneBefore(p Policy, next Checkpoint, now time.Time) time.Time {
	before := now.Add(-p.Horizon - 24*time.Hour)
	if t := next.Time.Add(-p.Overlap - slack); t.Before(before) {
		before = t
	}
	return before
}
