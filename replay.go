package redeliver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Selection says which deliveries a replay redelivers: by guid, by attempt
// id, or by a window of delivered_at with optional filters. Exactly one of
// the three ways is used.
type Selection struct {
	GUIDs []string
	IDs   []int64
	// Since and Until bound the window (GitHub's clock); SinceAgo and
	// UntilAgo do the same relative to GitHub's clock at the first page.
	// An unset Until is now.
	Since, Until       time.Time
	SinceAgo, UntilAgo time.Duration
	// Events ("push", "issues.opened") and StatusCodes filter the window.
	Events      []string
	StatusCodes []int
	// Again replays deliveries the ledger shows replayed already.
	Again bool
}

// byWindow reports whether the selection is a time window.
func (s Selection) byWindow() bool { return len(s.GUIDs) == 0 && len(s.IDs) == 0 }

// Validate names the first thing wrong with the selection.
func (s Selection) Validate() error {
	window := !s.Since.IsZero() || s.SinceAgo > 0
	switch {
	case !s.byWindow() && window:
		return Errorf(EInvalid, "give either --guid/--delivery-id or --since, not both")
	case !s.byWindow() && (len(s.Events) > 0 || len(s.StatusCodes) > 0):
		return Errorf(EInvalid, "--events and --status-code filter a --since window; --guid and --delivery-id name deliveries themselves")
	case s.byWindow() && !window:
		return Errorf(EInvalid, "say what to replay: --guid, --delivery-id or --since")
	case !s.byWindow() && (!s.Until.IsZero() || s.UntilAgo > 0):
		return Errorf(EInvalid, "--until bounds a --since window; --guid and --delivery-id name deliveries themselves")
	}
	for _, c := range s.StatusCodes {
		if c < 0 || c > 599 {
			return Errorf(EInvalid, "--status-code %d: want an HTTP status code (0 for no response)", c)
		}
	}
	for _, id := range s.IDs {
		if id <= 0 {
			return Errorf(EInvalid, "--delivery-id %d: want a positive delivery id", id)
		}
	}
	for _, g := range s.GUIDs {
		if strings.TrimSpace(g) == "" {
			return Errorf(EInvalid, "--guid: empty")
		}
	}
	for _, e := range s.Events {
		if err := ValidateEventName(e); err != nil {
			return err
		}
	}
	return nil
}

// bounds are the window [from, to] at GitHub's clock now; for guids and
// ids, from is the horizon's edge and to is now.
func (s Selection) bounds(now time.Time, horizon time.Duration) (from, to time.Time) {
	from, to = now.Add(-horizon), now
	if !s.byWindow() {
		return from, to
	}
	from = s.Since
	if s.SinceAgo > 0 {
		from = now.Add(-s.SinceAgo)
	}
	if !s.Until.IsZero() {
		to = s.Until
	} else if s.UntilAgo > 0 {
		to = now.Add(-s.UntilAgo)
	}
	return from, to
}

// checkWindow refuses a window GitHub cannot redeliver in full: it starts
// past the horizon, or ends before it starts.
func (s Selection) checkWindow(now time.Time, horizon time.Duration) error {
	if !s.byWindow() {
		return nil
	}
	from, to := s.bounds(now, horizon)
	switch {
	case to.Before(from):
		return Errorf(EInvalid, "--until %s is before --since %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	case from.Before(now.Add(-horizon)):
		return Errorf(EInvalid, "--since %s reaches past GitHub's redelivery horizon (%s: nothing older than %s can be redelivered); nothing was sent",
			from.Format(time.RFC3339), horizonText(horizon), now.Add(-horizon).Format(time.RFC3339))
	}
	return nil
}

// horizonText says a horizon in days when it is whole days.
func horizonText(h time.Duration) string {
	if h%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", h/(24*time.Hour))
	}
	return h.String()
}

// SelectReplay picks from attempts (a listing, newest first) the ones a
// replay redelivers, one per guid, newest first: for a guid its newest
// attempt; for an id that attempt; for a window each guid's newest attempt
// in it that passes the filters. It refuses (EInvalid) a guid or id that is
// older than the horizon or not listed. now is GitHub's clock.
func SelectReplay(attempts []Attempt, s Selection, now time.Time, horizon time.Duration) ([]Attempt, error) {
	if err := s.checkWindow(now, horizon); err != nil {
		return nil, err
	}
	edge := now.Add(-horizon)
	tooOld := func(what string, a Attempt) error {
		return Errorf(EInvalid, "%s was delivered at %s, past GitHub's redelivery horizon (%s: nothing older than %s can be redelivered); nothing was sent",
			what, a.DeliveredAt.Format(time.RFC3339), horizonText(horizon), edge.Format(time.RFC3339))
	}
	var out []Attempt
	taken := map[string]bool{}
	take := func(a Attempt) {
		if !taken[a.GUID] {
			taken[a.GUID] = true
			out = append(out, a)
		}
	}
	if !s.byWindow() {
		newest := map[string]Attempt{}
		byID := map[int64]Attempt{}
		for _, a := range attempts {
			if n, ok := newest[a.GUID]; !ok || a.DeliveredAt.After(n.DeliveredAt) || (a.DeliveredAt.Equal(n.DeliveredAt) && a.ID > n.ID) {
				newest[a.GUID] = a
			}
			byID[a.ID] = a
		}
		var picked []Attempt
		for _, g := range s.GUIDs {
			a, ok := newest[g]
			if !ok {
				return nil, Errorf(EInvalid, "--guid %s: no delivery of it in the last %s (GitHub's redelivery horizon); nothing was sent", g, horizonText(horizon))
			}
			if a.DeliveredAt.Before(edge) {
				return nil, tooOld("--guid "+g, a)
			}
			picked = append(picked, a)
		}
		for _, id := range s.IDs {
			a, ok := byID[id]
			if !ok {
				return nil, Errorf(EInvalid, "--delivery-id %d: no such delivery in the last %s (GitHub's redelivery horizon); nothing was sent", id, horizonText(horizon))
			}
			if a.DeliveredAt.Before(edge) {
				return nil, tooOld(fmt.Sprintf("--delivery-id %d", id), a)
			}
			picked = append(picked, a)
		}
		slices.SortStableFunc(picked, func(a, b Attempt) int { return b.DeliveredAt.Compare(a.DeliveredAt) })
		for _, a := range picked {
			take(a)
		}
		return out, nil
	}
	from, to := s.bounds(now, horizon)
	filter := Policy{Events: s.Events}
	seen := map[string]bool{}
	for _, a := range attempts { // newest first: the first of a guid is its newest
		if a.DeliveredAt.Before(from) || a.DeliveredAt.After(to) || seen[a.GUID] {
			continue
		}
		seen[a.GUID] = true
		if !filter.Wants(a.Event, a.Action) {
			continue
		}
		if len(s.StatusCodes) > 0 && !slices.Contains(s.StatusCodes, a.StatusCode) {
			continue
		}
		take(a)
	}
	return out, nil
}

// ReplayFailure is a delivery GitHub would not redeliver.
type ReplayFailure struct {
	Attempt Attempt
	Error   string
}

// ReplayReport is what a replay chose and did.
type ReplayReport struct {
	Target string
	// From and To are the window looked at, in GitHub's clock.
	From, To time.Time
	// Selected are the deliveries to replay, newest first; Already those
	// the ledger shows replayed since From, left alone without Again.
	Selected []Attempt
	Already  []Attempt
	// Replayed counts the requests GitHub accepted; Failed those it
	// refused; Stopped says why the replay ended early, if it did.
	Replayed int
	Failed   []ReplayFailure
	Stopped  string
	Sent     bool

	again  bool
	clock  time.Time // GitHub's clock at the listing's last page
	ledger map[string]LedgerEntry
}

// errWalked ends a listing that has gone far enough back.
var errWalked = errors.New("listing walked far enough")

// Replay redelivers the selected deliveries of t on purpose, whatever their
// status, through the pacer; with send false it only reports what it would
// do. It is SelectReplayFrom followed by Send.
func Replay(ctx context.Context, src Source, rd Redeliverer, st Store, t Target, p Policy, sel Selection, pacer *Pacer, send bool) (*ReplayReport, error) {
	rep, err := SelectReplayFrom(ctx, src, st, t, p, sel)
	if err != nil || !send {
		return rep, err
	}
	return rep, rep.Send(ctx, rd, st, t, pacer)
}

// SelectReplayFrom lists t's attempts newest first, back to the window's
// start (or the horizon for guids and ids), and chooses what a replay
// redelivers; those the ledger in st shows replayed since the window's
// start go to Already unless sel.Again. It only reads. A selection reaching
// past p.Horizon is refused with an EInvalid error.
func SelectReplayFrom(ctx context.Context, src Source, st Store, t Target, p Policy, sel Selection) (*ReplayReport, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	rep := &ReplayReport{Target: t.Key(), again: sel.Again}
	var attempts []Attempt
	var refused error
	var walkTo time.Time
	want := map[string]bool{}
	wantID := map[int64]bool{}
	for _, g := range sel.GUIDs {
		want[g] = true
	}
	for _, id := range sel.IDs {
		wantID[id] = true
	}
	l, err := List(ctx, src, t, func(first Page) time.Time {
		rep.From, rep.To = sel.bounds(first.ServerTime, p.Horizon)
		if refused = sel.checkWindow(first.ServerTime, p.Horizon); refused != nil || sel.byWindow() {
			return rep.From
		}
		// Guids and ids: every attempt is kept, so one just past the
		// horizon is told as too old rather than as missing.
		walkTo = rep.From
		return time.Time{}
	}, func(a Attempt) {
		attempts = append(attempts, a)
		delete(wantID, a.ID)
		if !a.DeliveredAt.Before(walkTo) {
			delete(want, a.GUID)
		}
	}, func(int) error {
		switch {
		case refused != nil:
			return refused
		case !walkTo.IsZero() && len(attempts) > 0 && attempts[len(attempts)-1].DeliveredAt.Before(walkTo):
			return errWalked
		case !walkTo.IsZero() && len(want) == 0 && len(wantID) == 0:
			return errWalked // every guid and id found: no need to read on
		}
		return nil
	})
	if err != nil && !errors.Is(err, errWalked) {
		return rep, err
	}
	if !l.Complete && l.Stopped != "" && err == nil {
		return rep, Errorf(EInternal, "listing deliveries of %s: %s", t, l.Stopped)
	}
	rep.clock = l.LastTime
	chosen, err := SelectReplay(attempts, sel, l.FirstTime, p.Horizon)
	if err != nil {
		return rep, err
	}
	rep.Selected = chosen
	return rep, rep.dropReplayed(ctx, st, t)
}

// dropReplayed moves to Already the selected deliveries the ledger shows
// replayed since From, unless asked again.
func (rep *ReplayReport) dropReplayed(ctx context.Context, st Store, t Target) error {
	entries, err := st.Entries(ctx, t.Key())
	if err != nil {
		return fmt.Errorf("%w: reading the ledger of %s: %w", errStore, t.Key(), err)
	}
	rep.ledger = make(map[string]LedgerEntry, len(entries))
	for _, e := range entries {
		rep.ledger[e.GUID] = e
	}
	var keep []Attempt
	for _, a := range rep.Selected {
		if e, ok := rep.ledger[a.GUID]; ok && !rep.again && replayedSince(e, rep.From) {
			rep.Already = append(rep.Already, a)
			continue
		}
		keep = append(keep, a)
	}
	rep.Selected = keep
	return nil
}

// Send asks GitHub to redeliver each selected delivery once, through the
// pacer (nil: one a second). Each request is recorded in st as any
// redelivery is: an intent (Manual replay, ManualAt and IntentAt in
// GitHub's clock) before the request and the outcome after it, so that the
// same replay run again after a crash counts it as asked. The ledger is
// read again first: what another replay asked meanwhile goes to Already.
func (rep *ReplayReport) Send(ctx context.Context, rd Redeliverer, st Store, t Target, pacer *Pacer) error {
	if err := rep.dropReplayed(ctx, st, t); err != nil {
		return err
	}
	rep.Sent = true
	if pacer == nil {
		pacer = NewPacer(1)
	}
	clock := newServerClock(rep.clock)
	for _, a := range rep.Selected {
		if err := pacer.Wait(ctx); err != nil {
			rep.Stopped = "interrupted; run the same replay again to send the rest"
			return nil
		}
		prev, had := rep.ledger[a.GUID]
		err := replayOne(ctx, rd, st, t, a, prev, had, clock)
		switch {
		case err == nil:
			rep.Replayed++
		case errors.Is(err, errStore), ErrorCode(err) == EAuth:
			rep.Stopped = err.Error()
			return err
		case errors.Is(err, ErrOutcomeUnknown), ctx.Err() != nil, ErrorCode(err) == ERateLimited:
			rep.Failed = append(rep.Failed, ReplayFailure{Attempt: a, Error: err.Error()})
			rep.Stopped = "stopped: " + err.Error() + "; run the same replay again to send the rest"
			return nil
		default:
			rep.Failed = append(rep.Failed, ReplayFailure{Attempt: a, Error: err.Error()})
		}
	}
	return nil
}

// replayedSince reports whether the ledger shows a replay of the entry's
// guid asked at or after from.
func replayedSince(e LedgerEntry, from time.Time) bool {
	if e.Manual != ManualReplay {
		return false
	}
	return !e.ManualAt.Before(from) || (!e.IntentAt.IsZero() && !e.IntentAt.Before(from))
}

// replayOne records the intent, asks GitHub to redeliver attempt a, and
// records the outcome, as the Runner does for a failed event (see
// redeliverOne). The guid's entry is reopened as pending: the next run
// sees how the redelivery fared.
func replayOne(ctx context.Context, rd Redeliverer, st Store, t Target, a Attempt, prev LedgerEntry, had bool, clock *serverClock) error {
	key := t.Key()
	e := prev
	if !had {
		e = LedgerEntry{GUID: a.GUID, Event: a.Event, Action: a.Action, FirstSeen: a.DeliveredAt, State: StateFailed}
		if a.Succeeded() {
			e.State = StateRecovered
		}
		prev = e
	}
	if a.ID > e.AttemptID {
		e.AttemptID, e.AttemptAt = a.ID, a.DeliveredAt
	}
	now := clock.Now()
	e.IntentAt, e.Updated = now, now
	e.Manual, e.ManualBy, e.ManualAt = ManualReplay, "replay", now
	e.State = StatePending
	if err := st.Put(ctx, key, e); err != nil {
		return fmt.Errorf("%w: recording the intent to replay %s: %w", errStore, a.GUID, err)
	}
	at, err := rd.Redeliver(ctx, t, a.ID)
	switch {
	case err == nil:
		clock.Observe(at)
		e.countRequest()
		e.LastRequest = at
		e.IntentAt = time.Time{}
	case errors.Is(err, ErrOutcomeUnknown), ctx.Err() != nil:
		// Keep the intent: the next run finds out from GitHub's listing,
		// and a replay run again counts it as asked.
		return err
	default:
		// Not redelivered: the entry stands as before, and a replay run
		// again may ask once more.
		e = prev
	}
	e.Updated = clock.Now()
	if perr := st.Put(context.WithoutCancel(ctx), key, e); perr != nil {
		return fmt.Errorf("%w: recording the outcome of replaying %s: %w", errStore, a.GUID, perr)
	}
	return err
}
