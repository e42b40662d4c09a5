package redeliver

import (
	"slices"
	"time"
)

// The Planner: pure functions of (what the listing showed, the ledger, the
// policy, GitHub's clock). No HTTP, no database, no clock of its own. This is
// where the subtle rules live; planner_test.go reads as their specification.

// slack absorbs GitHub's whole-second delivered_at when matching a request we
// made at a given server time with the attempt it produced.
const slack = 2 * time.Second

// Observation is what one run's listing showed of one guid. It holds a few
// numbers per guid, never the attempts themselves.
type Observation struct {
	GUID      string
	Event     string
	Action    string
	Attempts  int
	Succeeded bool
	Oldest    time.Time // oldest delivered_at seen
	NewestID  int64     // newest attempt id seen: the one to redeliver
	NewestAt  time.Time
	// Redeliveries are the redelivery attempts seen (id and time), oldest
	// last; a guid rarely has more than a handful.
	Redeliveries []Seen
}

// Seen is one listed redelivery attempt.
type Seen struct {
	ID int64
	At time.Time
}

// Add folds one attempt of the guid into the observation.
func (o *Observation) Add(a Attempt) {
	if o.Attempts == 0 {
		o.GUID, o.Oldest = a.GUID, a.DeliveredAt
	}
	o.Attempts++
	if o.Event == "" {
		o.Event, o.Action = a.Event, a.Action
	}
	if a.Succeeded() {
		o.Succeeded = true
	}
	if a.DeliveredAt.Before(o.Oldest) {
		o.Oldest = a.DeliveredAt
	}
	if a.ID > o.NewestID {
		o.NewestID, o.NewestAt = a.ID, a.DeliveredAt
	}
	if a.Redelivery && !slices.ContainsFunc(o.Redeliveries, func(s Seen) bool { return s.ID == a.ID }) {
		o.Redeliveries = append(o.Redeliveries, Seen{ID: a.ID, At: a.DeliveredAt})
	}
}

// lastRedelivery is the time of the newest redelivery attempt seen.
func (o *Observation) lastRedelivery() time.Time {
	var t time.Time
	if o == nil {
		return t
	}
	for _, s := range o.Redeliveries {
		if s.At.After(t) {
			t = s.At
		}
	}
	return t
}

// Verdict is what the Planner decided for one guid in this run.
type Verdict string

// Verdicts. Only VerdictRedeliver leads to a request.
const (
	VerdictRedeliver Verdict = "redeliver" // ask GitHub now
	VerdictWait      Verdict = "wait"      // failed, next attempt not due yet (spacing)
	VerdictPending   Verdict = "pending"   // our request has not shown as an attempt yet
	VerdictRecovered Verdict = "recovered" // an attempt succeeded
	VerdictExhausted Verdict = "exhausted" // max attempts used
	VerdictExpired   Verdict = "expired"   // past the redelivery horizon
	VerdictFiltered  Verdict = "filtered"  // excluded by --events/--exclude-events
	VerdictDeferred  Verdict = "deferred"  // due, but this run's cap was reached
)

// Decision is the Planner's answer for one guid: the verdict and the ledger
// entry as it should be stored after it.
type Decision struct {
	Verdict Verdict
	Entry   LedgerEntry
	// Due is when a waiting guid may be redelivered next.
	Due time.Time
	// Save says whether Entry must be written to the store.
	Save bool
}

// Decide applies the policy to one guid. obs is nil when the guid was not in
// this run's listing (the ledger carries it); prev is nil when the ledger has
// no entry for it; they are never both nil. now is GitHub's clock.
func Decide(obs *Observation, prev *LedgerEntry, p Policy, now time.Time) Decision {
	var e LedgerEntry
	if prev != nil {
		e = *prev
	} else {
		e = LedgerEntry{GUID: obs.GUID, State: StateFailed}
	}
	if obs != nil {
		merge(&e, obs)
	}
	d := Decision{Entry: e}
	finish := func(v Verdict, s State) Decision {
		d.Verdict = v
		d.Entry.State = s
		d.Save = prev == nil || d.Entry != *prev
		if d.Save {
			d.Entry.Updated = now
		}
		return d
	}

	if obs != nil && obs.Succeeded {
		d.Entry.IntentAt = time.Time{}
		return finish(VerdictRecovered, StateRecovered)
	}
	switch e.State {
	case StateRecovered:
		return finish(VerdictRecovered, StateRecovered)
	case StateExhausted:
		return finish(VerdictExhausted, StateExhausted)
	case StateExpired:
		return finish(VerdictExpired, StateExpired)
	}
	if prev == nil && !p.Wants(e.Event, e.Action) {
		d.Verdict, d.Entry.State = VerdictFiltered, StateFailed
		return d // never stored: the filter may change
	}

	// A run died between recording its intent and hearing GitHub's answer.
	if !d.Entry.IntentAt.IsZero() {
		switch {
		case !obs.lastRedelivery().Before(d.Entry.IntentAt.Add(-slack)):
			// GitHub took it: the attempt is there.
			// The attempt it made is already counted in Seen.
			d.Entry.Requests = max(d.Entry.Requests+1, d.Entry.Seen)
			d.Entry.LastRequest = d.Entry.IntentAt
			d.Entry.IntentAt = time.Time{}
			d.Entry.Force = false
			d.Entry.State = StatePending
		case now.Sub(d.Entry.IntentAt) < p.PendingGrace:
			// It may yet show up (GitHub redelivers asynchronously): asking
			// again now could redeliver twice.
			return finish(VerdictPending, StatePending)
		default:
			// Long enough: the request never reached GitHub.
			d.Entry.IntentAt = time.Time{}
		}
	}

	if d.Entry.State == StatePending {
		if d.Entry.LastRequest.IsZero() || !obs.lastRedelivery().Before(d.Entry.LastRequest.Add(-slack)) {
			d.Entry.State = StateFailed // our redelivery showed, and failed
		} else if now.Sub(d.Entry.LastRequest) < p.PendingGrace {
			return finish(VerdictPending, StatePending)
		} else {
			d.Entry.State = StateFailed // never showed; it still counts as used
		}
	}

	used := d.Entry.Used()
	if used >= p.MaxAttempts+d.Entry.Granted {
		return finish(VerdictExhausted, StateExhausted)
	}
	if now.Sub(d.Entry.AttemptAt) > p.Horizon {
		return finish(VerdictExpired, StateExpired)
	}
	if used > 0 && !d.Entry.Force { // a person's "redeliver now" skips the spacing
		last := d.Entry.LastRequest
		// A redelivery GitHub listed (ours or anyone's) is the guid's newest
		// attempt, so AttemptAt dates it even when this run did not list it.
		if d.Entry.Seen > 0 && d.Entry.AttemptAt.After(last) {
			last = d.Entry.AttemptAt
		}
		if t := obs.lastRedelivery(); t.After(last) {
			last = t
		}
		if due := last.Add(p.spacing(used)); now.Before(due) {
			d.Due = due
			return finish(VerdictWait, StateFailed)
		}
	}
	return finish(VerdictRedeliver, StateFailed)
}

// merge folds an observation into a ledger entry.
func merge(e *LedgerEntry, o *Observation) {
	if e.Event == "" {
		e.Event, e.Action = o.Event, o.Action
	}
	if e.FirstSeen.IsZero() || o.Oldest.Before(e.FirstSeen) {
		e.FirstSeen = o.Oldest
	}
	if o.NewestID > e.AttemptID {
		e.AttemptID, e.AttemptAt = o.NewestID, o.NewestAt
	}
	mark := e.SeenMark
	for _, s := range o.Redeliveries {
		if s.ID > mark {
			e.Seen++
			e.SeenMark = max(e.SeenMark, s.ID)
		}
	}
}

// Order puts the guids due for redelivery in fair order and applies the
// run's cap: those a person forced first, then never-requested, then the least recently requested; among
// equals the oldest first, as it is closest to the horizon. Decisions over
// the cap become VerdictDeferred. It returns the redeliveries to make.
func Order(ds []*Decision, maxRedeliveries int) []*Decision {
	var due []*Decision
	for _, d := range ds {
		if d.Verdict == VerdictRedeliver {
			due = append(due, d)
		}
	}
	slices.SortStableFunc(due, func(a, b *Decision) int { return fairer(a.Entry, b.Entry) })
	if maxRedeliveries > 0 && len(due) > maxRedeliveries {
		for _, d := range due[maxRedeliveries:] {
			d.Verdict = VerdictDeferred
		}
		due = due[:maxRedeliveries]
	}
	return due
}
