package redeliver

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// planner_test.go is the specification of the Planner. Each table row states
// one rule in its name; a row fails if the rule is broken.
//
// Every row runs against DefaultPolicy() unless it says otherwise:
// MaxAttempts 5, RetryBase 1h (then 2h, 4h, 8h), Horizon 3 days (github.com),
// PendingGrace 15m. "now" is GitHub's clock, specNow.

// specID is an attempt id as GitHub issues them today: above 2^53, where a
// float64 can no longer tell specID from specID+1.
const specID int64 = 3804004623172239366

// g1 is the guid of the single-guid rows.
const g1 = "0b989ba4-242f-11e5-81e1-c7b6966d2516"

var (
	specNow = time.Date(2025, time.June, 2, 12, 0, 0, 0, time.UTC)
	// origAt is when g1 was first delivered (and failed), 30 hours ago.
	origAt = tMinus(30 * time.Hour)
)

const (
	sec    = time.Second
	minute = time.Minute
	hour   = time.Hour
	day    = 24 * time.Hour
)

// tMinus is GitHub's clock d before specNow.
func tMinus(d time.Duration) time.Time { return specNow.Add(-d) }

// statusFor is the status text GitHub writes for a receiver's answer.
func statusFor(code int) string {
	switch {
	case code == 0:
		return "failed to connect to host"
	case code >= 200 && code < 300:
		return "OK"
	}
	return "Invalid HTTP Response: " + strconv.Itoa(code)
}

// orig is g1's original delivery, a push, answered with code (0: no
// connection).
func orig(id int64, at time.Time, code int) Attempt {
	return Attempt{ID: id, GUID: g1, DeliveredAt: at, Status: statusFor(code), StatusCode: code, Event: "push"}
}

// redel is a redelivery attempt of g1.
func redel(id int64, at time.Time, code int) Attempt {
	a := orig(id, at, code)
	a.Redelivery = true
	return a
}

// withStatus overrides the status text GitHub wrote.
func withStatus(status string, a Attempt) Attempt {
	a.Status = status
	return a
}

// asEvent makes a an attempt of another event.
func asEvent(event, action string, a Attempt) Attempt {
	a.Event, a.Action = event, action
	return a
}

// observed folds attempts (given newest first, as GitHub lists them) into
// one observation, as the Runner does.
func observed(as ...Attempt) *Observation {
	o := &Observation{}
	for _, a := range as {
		o.Add(a)
	}
	return o
}

// g1Entry is g1's ledger entry after a first run saw its failed original;
// mods adjust it.
func g1Entry(mods ...func(*LedgerEntry)) *LedgerEntry {
	e := &LedgerEntry{
		GUID: g1, Event: "push",
		FirstSeen: origAt, AttemptID: specID, AttemptAt: origAt,
		State: StateFailed, Updated: tMinus(29 * hour),
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

// requested: GitHub accepted n redeliveries from us, the latest at last.
func requested(n int, last time.Time) func(*LedgerEntry) {
	return func(e *LedgerEntry) { e.Requests, e.LastRequest = n, last }
}

// listed: GitHub listed n redeliveries, the newest with id mark.
func listed(n int, mark int64) func(*LedgerEntry) {
	return func(e *LedgerEntry) { e.Seen, e.SeenMark = n, mark }
}

// newestAttempt: the newest attempt known is id, delivered at.
func newestAttempt(id int64, at time.Time) func(*LedgerEntry) {
	return func(e *LedgerEntry) { e.AttemptID, e.AttemptAt = id, at }
}

func inState(s State) func(*LedgerEntry) { return func(e *LedgerEntry) { e.State = s } }

// intentAt: a run recorded its intent to redeliver at t, then died.
func intentAt(t time.Time) func(*LedgerEntry) { return func(e *LedgerEntry) { e.IntentAt = t } }

// decideRow is one rule of Decide.
type decideRow struct {
	name   string
	obs    *Observation  // nil: the guid is not in this run's listing
	prev   *LedgerEntry  // nil: the ledger has no entry for it
	policy func(*Policy) // changes to DefaultPolicy()
	now    time.Time     // zero: specNow

	want  Verdict
	state State
	due   time.Time // zero unless want is VerdictWait
	save  bool
	check func(t *testing.T, e LedgerEntry) // further rules on the stored entry
}

func runDecide(t *testing.T, rows []decideRow) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			p := DefaultPolicy()
			if r.policy != nil {
				r.policy(&p)
			}
			now := r.now
			if now.IsZero() {
				now = specNow
			}
			var before LedgerEntry
			if r.prev != nil {
				before = *r.prev
			}

			d := Decide(r.obs, r.prev, p, now)

			if d.Verdict != r.want {
				t.Errorf("verdict = %s, want %s", d.Verdict, r.want)
			}
			if d.Entry.State != r.state {
				t.Errorf("entry state = %s, want %s", d.Entry.State, r.state)
			}
			if !d.Due.Equal(r.due) {
				t.Errorf("due = %s, want %s", fmtTime(d.Due), fmtTime(r.due))
			}
			if d.Save != r.save {
				t.Errorf("save = %v, want %v", d.Save, r.save)
			}
			if d.Entry.GUID != g1 {
				t.Errorf("entry guid = %q, want %q", d.Entry.GUID, g1)
			}
			// Rules every decision keeps.
			switch {
			case d.Save && !d.Entry.Updated.Equal(now):
				t.Errorf("saved entry's Updated = %s, want now (%s)", fmtTime(d.Entry.Updated), fmtTime(now))
			case !d.Save && r.prev != nil && d.Entry != *r.prev:
				t.Errorf("entry changed but is not saved:\n got %+v\nprev %+v", d.Entry, *r.prev)
			}
			if r.prev != nil && *r.prev != before {
				t.Errorf("Decide modified the ledger entry it was given:\n got %+v\nwant %+v", *r.prev, before)
			}
			if d.Verdict == VerdictRedeliver {
				if d.Entry.AttemptID == 0 {
					t.Errorf("redeliver decision without an attempt id")
				}
				if !d.Entry.IntentAt.IsZero() {
					t.Errorf("redeliver decision still carries intent %s", fmtTime(d.Entry.IntentAt))
				}
			}
			if r.check != nil {
				r.check(t, d.Entry)
			}
		})
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return t.Sub(specNow).String() + " from now"
}

// The check helpers below name the entry fields a rule is about.

func wantAttempt(id int64, at time.Time) func(*testing.T, LedgerEntry) {
	return func(t *testing.T, e LedgerEntry) {
		t.Helper()
		if e.AttemptID != id || !e.AttemptAt.Equal(at) {
			t.Errorf("attempt to redeliver = %d at %s, want %d at %s", e.AttemptID, fmtTime(e.AttemptAt), id, fmtTime(at))
		}
	}
}

func wantCounts(requests, seen int) func(*testing.T, LedgerEntry) {
	return func(t *testing.T, e LedgerEntry) {
		t.Helper()
		if e.Requests != requests || e.Seen != seen {
			t.Errorf("Requests, Seen = %d, %d, want %d, %d", e.Requests, e.Seen, requests, seen)
		}
	}
}

func wantIntent(at time.Time) func(*testing.T, LedgerEntry) {
	return func(t *testing.T, e LedgerEntry) {
		t.Helper()
		if !e.IntentAt.Equal(at) {
			t.Errorf("IntentAt = %s, want %s", fmtTime(e.IntentAt), fmtTime(at))
		}
	}
}

func wantLastRequest(at time.Time) func(*testing.T, LedgerEntry) {
	return func(t *testing.T, e LedgerEntry) {
		t.Helper()
		if !e.LastRequest.Equal(at) {
			t.Errorf("LastRequest = %s, want %s", fmtTime(e.LastRequest), fmtTime(at))
		}
	}
}

func wantAll(checks ...func(*testing.T, LedgerEntry)) func(*testing.T, LedgerEntry) {
	return func(t *testing.T, e LedgerEntry) {
		t.Helper()
		for _, c := range checks {
			c(t, e)
		}
	}
}

func TestAttemptSucceeded(t *testing.T) {
	for _, r := range []struct {
		name   string
		status string
		code   int
		want   bool
	}{
		{"status OK with 200 is a success", "OK", 200, true},
		{"201 is a success whatever the status text", "Created", 201, true},
		{"202 is a success whatever the status text", "Accepted", 202, true},
		{"204 is a success", "No Content", 204, true},
		{"299 is a success", "", 299, true},
		{"status OK alone is a success", "OK", 0, true},
		{"301 redirect is a failure", "Invalid HTTP Response: 301", 301, false},
		{"302 redirect is a failure", "Invalid HTTP Response: 302", 302, false},
		{"400 is a failure", "Invalid HTTP Response: 400", 400, false},
		{"404 is a failure", "Invalid HTTP Response: 404", 404, false},
		{"422 is a failure", "Invalid HTTP Response: 422", 422, false},
		{"500 is a failure", "Invalid HTTP Response: 500", 500, false},
		{"503 is a failure", "Invalid HTTP Response: 503", 503, false},
		{"status code 0 (failed to connect to host) is a failure", "failed to connect to host", 0, false},
		{"status code 0 (timed out) is a failure", "timed out", 0, false},
		{"199 is a failure", "Invalid HTTP Response: 199", 199, false},
	} {
		t.Run(r.name, func(t *testing.T) {
			a := Attempt{ID: specID, GUID: g1, Status: r.status, StatusCode: r.code}
			if got := a.Succeeded(); got != r.want {
				t.Errorf("Attempt{Status: %q, StatusCode: %d}.Succeeded() = %v, want %v", r.status, r.code, got, r.want)
			}
		})
	}
}

func TestObservationAdd(t *testing.T) {
	for _, r := range []struct {
		name     string
		attempts []Attempt // in the order they are folded
		want     Observation
	}{
		{
			name:     "the first attempt names the guid and its event",
			attempts: []Attempt{asEvent("issues", "opened", orig(specID, origAt, 500))},
			want: Observation{GUID: g1, Event: "issues", Action: "opened", Attempts: 1,
				Oldest: origAt, NewestID: specID, NewestAt: origAt},
		},
		{
			name: "ids above 2^53 that differ by one are compared exactly: the higher is the newest",
			attempts: []Attempt{
				orig(specID, origAt, 500),
				redel(specID+1, tMinus(29*hour), 500),
			},
			want: Observation{GUID: g1, Event: "push", Attempts: 2, Oldest: origAt,
				NewestID: 3804004623172239367, NewestAt: tMinus(29 * hour),
				Redeliveries: []Seen{{ID: 3804004623172239367, At: tMinus(29 * hour)}}},
		},
		{
			name: "the newest attempt is the highest id, whatever the listing order",
			attempts: []Attempt{
				redel(specID+2, tMinus(28*hour), 500),
				orig(specID, origAt, 500),
				redel(specID+1, tMinus(29*hour), 500),
			},
			want: Observation{GUID: g1, Event: "push", Attempts: 3, Oldest: origAt,
				NewestID: specID + 2, NewestAt: tMinus(28 * hour),
				Redeliveries: []Seen{{ID: specID + 2, At: tMinus(28 * hour)}, {ID: specID + 1, At: tMinus(29 * hour)}}},
		},
		{
			name: "the oldest delivered_at is kept",
			attempts: []Attempt{
				redel(specID+1, tMinus(29*hour), 500),
				orig(specID, origAt, 500),
			},
			want: Observation{GUID: g1, Event: "push", Attempts: 2, Oldest: origAt,
				NewestID: specID + 1, NewestAt: tMinus(29 * hour),
				Redeliveries: []Seen{{ID: specID + 1, At: tMinus(29 * hour)}}},
		},
		{
			name: "one successful attempt among failures marks the guid succeeded",
			attempts: []Attempt{
				redel(specID+2, tMinus(28*hour), 500),
				redel(specID+1, tMinus(29*hour), 200),
				orig(specID, origAt, 0),
			},
			want: Observation{GUID: g1, Event: "push", Attempts: 3, Succeeded: true, Oldest: origAt,
				NewestID: specID + 2, NewestAt: tMinus(28 * hour),
				Redeliveries: []Seen{{ID: specID + 2, At: tMinus(28 * hour)}, {ID: specID + 1, At: tMinus(29 * hour)}}},
		},
		{
			name:     "a 202 with another status text marks the guid succeeded",
			attempts: []Attempt{withStatus("Accepted", orig(specID, origAt, 202))},
			want: Observation{GUID: g1, Event: "push", Attempts: 1, Succeeded: true, Oldest: origAt,
				NewestID: specID, NewestAt: origAt},
		},
		{
			name: "3xx, 4xx, 5xx and status code 0 do not mark the guid succeeded",
			attempts: []Attempt{
				redel(specID+3, tMinus(27*hour), 0),
				redel(specID+2, tMinus(28*hour), 503),
				redel(specID+1, tMinus(29*hour), 404),
				orig(specID, origAt, 301),
			},
			want: Observation{GUID: g1, Event: "push", Attempts: 4, Oldest: origAt,
				NewestID: specID + 3, NewestAt: tMinus(27 * hour),
				Redeliveries: []Seen{{specID + 3, tMinus(27 * hour)}, {specID + 2, tMinus(28 * hour)}, {specID + 1, tMinus(29 * hour)}}},
		},
		{
			name: "a redelivery listed twice (pages shifting under the cursor) is recorded once",
			attempts: []Attempt{
				redel(specID+1, tMinus(29*hour), 500),
				redel(specID+1, tMinus(29*hour), 500),
				orig(specID, origAt, 500),
			},
			want: Observation{GUID: g1, Event: "push", Attempts: 3, Oldest: origAt,
				NewestID: specID + 1, NewestAt: tMinus(29 * hour),
				Redeliveries: []Seen{{ID: specID + 1, At: tMinus(29 * hour)}}},
		},
		{
			name:     "the original attempt is not a redelivery",
			attempts: []Attempt{orig(specID, origAt, 500)},
			want: Observation{GUID: g1, Event: "push", Attempts: 1, Oldest: origAt,
				NewestID: specID, NewestAt: origAt},
		},
		{
			name: "the first attempt with an event names it; later ones do not change it",
			attempts: []Attempt{
				asEvent("issues", "closed", redel(specID+1, tMinus(29*hour), 500)),
				asEvent("", "", orig(specID, origAt, 500)),
			},
			want: Observation{GUID: g1, Event: "issues", Action: "closed", Attempts: 2, Oldest: origAt,
				NewestID: specID + 1, NewestAt: tMinus(29 * hour),
				Redeliveries: []Seen{{ID: specID + 1, At: tMinus(29 * hour)}}},
		},
		{
			name: "an attempt without an event does not blank the event already known",
			attempts: []Attempt{
				asEvent("", "", redel(specID+1, tMinus(29*hour), 500)),
				asEvent("issues", "closed", orig(specID, origAt, 500)),
			},
			want: Observation{GUID: g1, Event: "issues", Action: "closed", Attempts: 2, Oldest: origAt,
				NewestID: specID + 1, NewestAt: tMinus(29 * hour),
				Redeliveries: []Seen{{ID: specID + 1, At: tMinus(29 * hour)}}},
		},
	} {
		t.Run(r.name, func(t *testing.T) {
			got := observed(r.attempts...)
			if !equalObservation(*got, r.want) {
				t.Errorf("observation:\n got %+v\nwant %+v", *got, r.want)
			}
		})
	}
}

func equalObservation(a, b Observation) bool {
	return a.GUID == b.GUID && a.Event == b.Event && a.Action == b.Action &&
		a.Attempts == b.Attempts && a.Succeeded == b.Succeeded &&
		a.Oldest.Equal(b.Oldest) && a.NewestID == b.NewestID && a.NewestAt.Equal(b.NewestAt) &&
		slices.EqualFunc(a.Redeliveries, b.Redeliveries, func(x, y Seen) bool { return x.ID == y.ID && x.At.Equal(y.At) })
}

// TestDecideRecovered: a guid is recovered once any attempt succeeded.
func TestDecideRecovered(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "an OK redelivery recovers a new failed guid",
			obs:  observed(redel(specID+1, tMinus(29*hour), 200), orig(specID, origAt, 500)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "a 201 with a status text other than OK recovers",
			obs:  observed(withStatus("Created", redel(specID+1, tMinus(29*hour), 201)), orig(specID, origAt, 500)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "a 202 with a status text other than OK recovers",
			obs:  observed(withStatus("Accepted", redel(specID+1, tMinus(29*hour), 202)), orig(specID, origAt, 500)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "any successful attempt recovers, not only the newest",
			obs:  observed(redel(specID+2, tMinus(20*hour), 500), redel(specID+1, tMinus(29*hour), 200), orig(specID, origAt, 500)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "a failed guid waiting in the ledger is recovered by a later OK attempt",
			prev: g1Entry(requested(1, tMinus(3*hour)), listed(1, specID+1), newestAttempt(specID+1, tMinus(3*hour))),
			obs:  observed(redel(specID+2, tMinus(10*minute), 200), redel(specID+1, tMinus(3*hour), 500)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "an exhausted guid is recovered by a later OK attempt",
			prev: g1Entry(inState(StateExhausted), requested(5, tMinus(2*hour)), listed(5, specID+5), newestAttempt(specID+5, tMinus(2*hour))),
			obs:  observed(redel(specID+6, tMinus(10*minute), 200)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "a pending guid whose redelivery succeeded is recovered",
			prev: g1Entry(inState(StatePending), requested(1, tMinus(10*minute))),
			obs:  observed(redel(specID+1, tMinus(10*minute-sec), 200), orig(specID, origAt, 500)),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "recovery clears an intent left by a run that died",
			prev: g1Entry(intentAt(tMinus(10 * minute))),
			obs:  observed(redel(specID+1, tMinus(10*minute-sec), 200)),
			want: VerdictRecovered, state: StateRecovered, save: true,
			check: wantIntent(time.Time{}),
		},
		{
			name: "a recovered guid stays recovered, unsaved, when its failed attempts are re-read",
			prev: g1Entry(inState(StateRecovered)),
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictRecovered, state: StateRecovered, save: false,
		},
	})
}

// TestDecideFirstFailure: a guid failing for the first time, with no ledger
// entry, is redelivered at once, by its newest attempt.
func TestDecideFirstFailure(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "a first failure (500) with no ledger entry is redelivered and saved",
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAll(wantAttempt(specID, origAt), wantCounts(0, 0), func(t *testing.T, e LedgerEntry) {
				if e.Event != "push" || !e.FirstSeen.Equal(origAt) {
					t.Errorf("event, first seen = %q, %s; want push, %s", e.Event, fmtTime(e.FirstSeen), fmtTime(origAt))
				}
			}),
		},
		{
			name: "a 3xx is a failure and is redelivered",
			obs:  observed(orig(specID, origAt, 302)),
			want: VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name: "a 4xx is a failure and is redelivered",
			obs:  observed(orig(specID, origAt, 404)),
			want: VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name: "status code 0 (failed to connect to host) is a failure and is redelivered",
			obs:  observed(orig(specID, origAt, 0)),
			want: VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name: "the newest attempt id is the one redelivered, exactly, above 2^53",
			obs:  observed(redel(specID+1, tMinus(5*hour), 500), orig(specID, origAt, 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAttempt(3804004623172239367, tMinus(5*hour)),
		},
		{
			name: "several failed attempts of one guid make one decision, on the newest",
			obs: observed(
				redel(specID+3, tMinus(5*hour), 0),
				redel(specID+2, tMinus(10*hour), 503),
				redel(specID+1, tMinus(20*hour), 500),
				orig(specID, origAt, 500),
			),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAll(wantAttempt(specID+3, tMinus(5*hour)), wantCounts(0, 3)),
		},
	})
}

// TestDecideMaxAttempts: a guid is redelivered at most MaxAttempts times
// (5), counting ours (Requests) or GitHub's listing (Seen), whichever is
// higher; then it is exhausted for good.
func TestDecideMaxAttempts(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "five of our redeliveries exhaust the guid",
			prev: g1Entry(requested(5, tMinus(20*hour))),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
		{
			name: "four of our redeliveries leave one more, once due",
			prev: g1Entry(requested(4, tMinus(9*hour))),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "five redeliveries listed by GitHub exhaust a new guid (another tool, a lost ledger)",
			obs: observed(
				redel(specID+5, tMinus(1*hour), 500), redel(specID+4, tMinus(2*hour), 500),
				redel(specID+3, tMinus(3*hour), 500), redel(specID+2, tMinus(4*hour), 500),
				redel(specID+1, tMinus(5*hour), 500), orig(specID, origAt, 500),
			),
			want: VerdictExhausted, state: StateExhausted, save: true,
			check: wantCounts(0, 5),
		},
		{
			name: "ours and GitHub's count the same redeliveries: the higher is used, not the sum",
			prev: g1Entry(requested(3, tMinus(5*hour)), listed(3, specID+3)),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "GitHub's count is used when it is higher than ours",
			prev: g1Entry(requested(2, tMinus(20*hour)), listed(5, specID+5)),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
		{
			name: "our count is used when it is higher than GitHub's",
			prev: g1Entry(requested(5, tMinus(20*hour)), listed(2, specID+2)),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
		{
			name: "redeliveries re-read in the overlap (id ≤ SeenMark) are not counted twice",
			prev: g1Entry(requested(4, tMinus(9*hour)), listed(4, specID+4), newestAttempt(specID+4, tMinus(9*hour))),
			obs:  observed(redel(specID+4, tMinus(9*hour), 500), redel(specID+3, tMinus(13*hour), 500)),
			want: VerdictRedeliver, state: StateFailed, save: false,
			check: wantCounts(4, 4),
		},
		{
			name: "a redelivery newer than SeenMark is counted, and can exhaust the guid",
			prev: g1Entry(requested(4, tMinus(9*hour)), listed(4, specID+4), newestAttempt(specID+4, tMinus(9*hour))),
			obs:  observed(redel(specID+5, tMinus(30*minute), 500), redel(specID+4, tMinus(9*hour), 500)),
			want: VerdictExhausted, state: StateExhausted, save: true,
			check: wantAll(wantCounts(4, 5), func(t *testing.T, e LedgerEntry) {
				if e.SeenMark != specID+5 {
					t.Errorf("SeenMark = %d, want %d", e.SeenMark, specID+5)
				}
			}),
		},
		{
			name: "exhaustion is final: a later run keeps the guid exhausted and does not save it again",
			prev: g1Entry(inState(StateExhausted), requested(5, tMinus(20*hour))),
			want: VerdictExhausted, state: StateExhausted, save: false,
		},
		{
			name: "exhaustion is final when the guid is re-read in the listing",
			prev: g1Entry(inState(StateExhausted), requested(5, tMinus(20*hour))),
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictExhausted, state: StateExhausted, save: false,
		},
		{
			name:   "exhaustion is final even when a later run allows more attempts",
			prev:   g1Entry(inState(StateExhausted), requested(5, tMinus(20*hour))),
			policy: func(p *Policy) { p.MaxAttempts = 10 },
			want:   VerdictExhausted, state: StateExhausted, save: false,
		},
		{
			name:   "--max-attempts 1: one redelivery exhausts the guid",
			prev:   g1Entry(requested(1, tMinus(20*hour))),
			policy: func(p *Policy) { p.MaxAttempts = 1 },
			want:   VerdictExhausted, state: StateExhausted, save: true,
		},
	})
}

// TestDecideSpacing: after the n-th redelivery (n ≥ 1) the next is due
// RetryBase × 2^(n-1) after the later of our LastRequest and the newest
// listed redelivery.
func TestDecideSpacing(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "after the 1st redelivery the next waits RetryBase (1h), Due set exactly",
			prev: g1Entry(requested(1, tMinus(30*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(30 * minute).Add(hour), save: false,
		},
		{
			name: "after the 1st redelivery, one second before due it still waits",
			prev: g1Entry(requested(1, tMinus(hour-sec))),
			want: VerdictWait, state: StateFailed, due: specNow.Add(sec), save: false,
		},
		{
			name: "after the 1st redelivery, exactly RetryBase later it is redelivered",
			prev: g1Entry(requested(1, tMinus(hour))),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "after the 2nd redelivery the next waits 2 × RetryBase",
			prev: g1Entry(requested(2, tMinus(90*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(90 * minute).Add(2 * hour), save: false,
		},
		{
			name: "after the 2nd redelivery, 2 × RetryBase later it is redelivered",
			prev: g1Entry(requested(2, tMinus(2*hour))),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "after the 3rd redelivery the next waits 4 × RetryBase",
			prev: g1Entry(requested(3, tMinus(3*hour))),
			want: VerdictWait, state: StateFailed, due: tMinus(3 * hour).Add(4 * hour), save: false,
		},
		{
			name: "after the 3rd redelivery, 4 × RetryBase later it is redelivered",
			prev: g1Entry(requested(3, tMinus(4*hour))),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "after the 4th redelivery the next waits 8 × RetryBase",
			prev: g1Entry(requested(4, tMinus(7*hour))),
			want: VerdictWait, state: StateFailed, due: tMinus(7 * hour).Add(8 * hour), save: false,
		},
		{
			name:   "spacing scales with --retry-base",
			prev:   g1Entry(requested(2, tMinus(50*minute))),
			policy: func(p *Policy) { p.RetryBase = 30 * minute },
			want:   VerdictWait, state: StateFailed, due: tMinus(50 * minute).Add(hour), save: false,
		},
		{
			name:   "RetryBase 0 spaces nothing",
			prev:   g1Entry(requested(1, tMinus(sec))),
			policy: func(p *Policy) { p.RetryBase = 0 },
			want:   VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "spacing counts from a listed redelivery newer than our request",
			prev: g1Entry(requested(1, tMinus(3*hour)), listed(1, specID+1), newestAttempt(specID+1, tMinus(3*hour))),
			obs:  observed(redel(specID+2, tMinus(30*minute), 500), redel(specID+1, tMinus(3*hour), 500)),
			// two redeliveries now: 2h after the newer one
			want: VerdictWait, state: StateFailed, due: tMinus(30 * minute).Add(2 * hour), save: true,
			check: wantCounts(1, 2),
		},
		{
			name: "spacing counts from our request when it is newer than the listed redeliveries",
			prev: g1Entry(requested(2, tMinus(hour)), listed(1, specID+1), newestAttempt(specID+1, tMinus(5*hour))),
			obs:  observed(redel(specID+1, tMinus(5*hour), 500)),
			want: VerdictWait, state: StateFailed, due: tMinus(hour).Add(2 * hour), save: false,
		},
		{
			name: "a new guid with redeliveries listed by GitHub is spaced from the newest of them",
			obs:  observed(redel(specID+1, tMinus(20*minute), 500), orig(specID, origAt, 500)),
			want: VerdictWait, state: StateFailed, due: tMinus(20 * minute).Add(hour), save: true,
			check: wantCounts(0, 1),
		},
		{
			// The redelivery was listed by an earlier run and is behind the
			// checkpoint now; the ledger still knows it was the newest attempt.
			name: "spacing counts from a redelivery listed in an earlier run when the guid is carried forward",
			prev: g1Entry(listed(1, specID+1), newestAttempt(specID+1, tMinus(30*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(30 * minute).Add(hour), save: false,
		},
	})
}

// TestDecideHorizon: GitHub redelivers attempts of the last Policy.Horizon
// (3 days on github.com, 7 on GHES), counted from the newest attempt.
func TestDecideHorizon(t *testing.T) {
	ghes := func(p *Policy) { p.Horizon = HorizonGHES }
	runDecide(t, []decideRow{
		{
			name: "github.com: a newest attempt older than 3 days is expired, never redelivered",
			obs:  observed(orig(specID, tMinus(3*day+sec), 500)),
			want: VerdictExpired, state: StateExpired, save: true,
		},
		{
			name: "github.com: a newest attempt just inside 3 days is redelivered",
			obs:  observed(orig(specID, tMinus(3*day-sec), 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "GHES: a newest attempt 6 days old is still redelivered",
			obs:    observed(orig(specID, tMinus(6*day), 500)),
			policy: ghes,
			want:   VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "GHES: a newest attempt just inside 7 days is redelivered",
			obs:    observed(orig(specID, tMinus(7*day-sec), 500)),
			policy: ghes,
			want:   VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "GHES: a newest attempt older than 7 days is expired",
			obs:    observed(orig(specID, tMinus(7*day+sec), 500)),
			policy: ghes,
			want:   VerdictExpired, state: StateExpired, save: true,
		},
		{
			name: "the horizon counts from the newest attempt, not the original",
			obs:  observed(redel(specID+1, tMinus(2*day), 500), orig(specID, tMinus(4*day), 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAttempt(specID+1, tMinus(2*day)),
		},
		{
			name: "a guid carried forward from the ledger expires once its newest attempt passes the horizon",
			prev: g1Entry(requested(1, tMinus(3*day)), newestAttempt(specID+1, tMinus(3*day+sec))),
			want: VerdictExpired, state: StateExpired, save: true,
		},
		{
			// The Runner stores expired when GitHub refuses a redelivery within
			// an hour of the horizon; the guid must not be asked for again.
			name: "expiry is final even for a guid GitHub refused just inside the horizon",
			prev: g1Entry(inState(StateExpired), requested(1, tMinus(3*hour)), newestAttempt(specID+1, tMinus(3*day-50*minute))),
			want: VerdictExpired, state: StateExpired, save: false,
		},
		{
			name: "expiry is final: a later run keeps the guid expired without saving it",
			prev: g1Entry(inState(StateExpired), requested(1, tMinus(4*day)), newestAttempt(specID+1, tMinus(4*day))),
			want: VerdictExpired, state: StateExpired, save: false,
		},
	})
}

// TestDecideCarryForward: a guid in the ledger that this run's listing does
// not show (obs nil) is decided from the ledger alone.
func TestDecideCarryForward(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "a waiting guid absent from the listing is redelivered once due, by the stored AttemptID",
			prev: g1Entry(requested(1, tMinus(2*hour)), listed(1, specID+1), newestAttempt(specID+1, tMinus(2*hour))),
			want: VerdictRedeliver, state: StateFailed, save: false,
			check: wantAttempt(specID+1, tMinus(2*hour)),
		},
		{
			name: "a waiting guid absent from the listing waits, Due from the ledger, until due",
			prev: g1Entry(requested(1, tMinus(10*minute)), listed(1, specID+1), newestAttempt(specID+1, tMinus(10*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(10 * minute).Add(hour), save: false,
		},
		{
			name: "a failure saved by a run that died before asking is redelivered by the next run",
			prev: g1Entry(),
			want: VerdictRedeliver, state: StateFailed, save: false,
			check: wantAttempt(specID, origAt),
		},
	})
}

// TestDecidePending: after GitHub accepted a request (state pending,
// LastRequest T), the guid waits for a redelivery attempt at or after T − 2 s
// for up to PendingGrace (15m).
func TestDecidePending(t *testing.T) {
	T := tMinus(5 * minute) // our request, 5 minutes ago
	runDecide(t, []decideRow{
		{
			name: "no attempt since our request, within PendingGrace: pending, no second request",
			prev: g1Entry(inState(StatePending), requested(1, T)),
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictPending, state: StatePending, save: false,
		},
		{
			name: "no attempt since our request, absent from the listing, within PendingGrace: pending",
			prev: g1Entry(inState(StatePending), requested(1, T)),
			want: VerdictPending, state: StatePending, save: false,
		},
		{
			name: "a redelivery older than our latest request is not its answer: pending",
			prev: g1Entry(inState(StatePending), requested(2, T), listed(1, specID+1), newestAttempt(specID+1, tMinus(2*hour))),
			obs:  observed(redel(specID+1, tMinus(2*hour), 500)),
			want: VerdictPending, state: StatePending, save: false,
		},
		{
			name: "our redelivery showed and failed: failed, and spacing applies from it",
			prev: g1Entry(inState(StatePending), requested(1, T)),
			obs:  observed(redel(specID+1, T.Add(sec), 500), orig(specID, origAt, 500)),
			want: VerdictWait, state: StateFailed, due: T.Add(sec).Add(hour), save: true,
			check: wantAll(wantCounts(1, 1), wantAttempt(specID+1, T.Add(sec))),
		},
		{
			name: "an attempt 2 s before our request (GitHub's whole seconds) is its answer",
			prev: g1Entry(inState(StatePending), requested(1, T)),
			obs:  observed(redel(specID+1, T.Add(-2*sec), 500)),
			want: VerdictWait, state: StateFailed, due: T.Add(hour), save: true,
			check: wantCounts(1, 1),
		},
		{
			name: "an attempt 3 s before our request is not its answer",
			prev: g1Entry(inState(StatePending), requested(1, T)),
			obs:  observed(redel(specID+1, T.Add(-3*sec), 500)),
			want: VerdictPending, state: StatePending, save: true, // Seen counted it
			check: wantCounts(1, 1),
		},
		{
			name: "not shown after PendingGrace: failed again, and the request still counts",
			prev: g1Entry(inState(StatePending), requested(1, tMinus(16*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(16 * minute).Add(hour), save: true,
			check: wantCounts(1, 0),
		},
		{
			name: "not shown after exactly PendingGrace: no longer pending",
			prev: g1Entry(inState(StatePending), requested(1, tMinus(15*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(15 * minute).Add(hour), save: true,
		},
		{
			name: "not shown, past PendingGrace and spacing: redelivered again",
			prev: g1Entry(inState(StatePending), requested(1, tMinus(2*hour))),
			want: VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name: "a request that never showed counts toward MaxAttempts: the 5th exhausts the guid",
			prev: g1Entry(inState(StatePending), requested(5, tMinus(20*minute))),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
		{
			name: "the answer to the last allowed request is awaited before exhausting",
			prev: g1Entry(inState(StatePending), requested(5, T)),
			want: VerdictPending, state: StatePending, save: false,
		},
		{
			name: "the answer to the last allowed request failed: exhausted",
			prev: g1Entry(inState(StatePending), requested(5, T), listed(4, specID+4), newestAttempt(specID+4, tMinus(9*hour))),
			obs:  observed(redel(specID+5, T.Add(sec), 500)),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
	})
}

// TestDecideCrashIntent: IntentAt set means a run died between recording
// its intent and hearing GitHub's answer; the listing tells what happened.
func TestDecideCrashIntent(t *testing.T) {
	I := tMinus(10 * minute) // the intent
	J := tMinus(5 * minute)  // a more recent intent, within PendingGrace
	runDecide(t, []decideRow{
		{
			name: "an intent whose redelivery is listed counts as our request, and is not asked again now",
			prev: g1Entry(intentAt(I)),
			obs:  observed(redel(specID+1, I.Add(sec), 500), orig(specID, origAt, 500)),
			want: VerdictWait, state: StateFailed, due: I.Add(sec).Add(hour), save: true,
			check: wantAll(wantCounts(1, 1), wantLastRequest(I), wantIntent(time.Time{})),
		},
		{
			name: "a redelivery listed 2 s before the intent (GitHub's whole seconds) is its answer",
			prev: g1Entry(intentAt(I)),
			obs:  observed(redel(specID+1, I.Add(-2*sec), 500)),
			want: VerdictWait, state: StateFailed, due: I.Add(hour), save: true,
			check: wantAll(wantCounts(1, 1), wantLastRequest(I), wantIntent(time.Time{})),
		},
		{
			name: "a redelivery listed 3 s before the intent is not its answer: pending",
			prev: g1Entry(intentAt(J)),
			obs:  observed(redel(specID+1, J.Add(-3*sec), 500)),
			want: VerdictPending, state: StatePending, save: true,
			check: wantAll(wantCounts(0, 1), wantIntent(J)),
		},
		{
			name: "no redelivery listed yet, within PendingGrace: pending, intent kept, no request",
			prev: g1Entry(intentAt(J)),
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictPending, state: StatePending, save: true,
			check: wantAll(wantCounts(0, 0), wantIntent(J)),
		},
		{
			name: "no redelivery listed after exactly PendingGrace: intent cleared and redelivered",
			prev: g1Entry(intentAt(tMinus(15 * minute))),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantIntent(time.Time{}),
		},
		{
			name: "absent from the listing, within PendingGrace: pending",
			prev: g1Entry(intentAt(J)),
			want: VerdictPending, state: StatePending, save: true,
			check: wantIntent(J),
		},
		{
			name: "no redelivery listed for longer than PendingGrace: intent cleared and redelivered",
			prev: g1Entry(intentAt(tMinus(20 * minute))),
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAll(wantCounts(0, 0), wantIntent(time.Time{})),
		},
		{
			name: "absent from the listing for longer than PendingGrace: intent cleared and redelivered",
			prev: g1Entry(intentAt(tMinus(20 * minute))),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAll(wantCounts(0, 0), wantIntent(time.Time{})),
		},
		{
			name: "an intent kept in state pending (outcome unknown) is reconciled the same way",
			prev: g1Entry(inState(StatePending), intentAt(I)),
			obs:  observed(redel(specID+1, I.Add(sec), 500)),
			want: VerdictWait, state: StateFailed, due: I.Add(sec).Add(hour), save: true,
			check: wantAll(wantCounts(1, 1), wantLastRequest(I), wantIntent(time.Time{})),
		},
		{
			name: "an intent on top of earlier requests adds one and spaces from it",
			prev: g1Entry(requested(2, tMinus(3*hour)), listed(2, specID+2), newestAttempt(specID+2, tMinus(3*hour)), intentAt(I)),
			obs:  observed(redel(specID+3, I.Add(sec), 500)),
			want: VerdictWait, state: StateFailed, due: I.Add(sec).Add(4 * hour), save: true,
			check: wantAll(wantCounts(3, 3), wantLastRequest(I)),
		},
		{
			name: "an intent answered on the last allowed request exhausts the guid",
			prev: g1Entry(requested(4, tMinus(9*hour)), listed(4, specID+4), newestAttempt(specID+4, tMinus(9*hour)), intentAt(I)),
			obs:  observed(redel(specID+5, I.Add(sec), 500)),
			want: VerdictExhausted, state: StateExhausted, save: true,
			check: wantCounts(5, 5),
		},
		{
			name: "an intent whose redelivery succeeded: recovered, intent cleared",
			prev: g1Entry(intentAt(I)),
			obs:  observed(redel(specID+1, I.Add(sec), 200)),
			want: VerdictRecovered, state: StateRecovered, save: true,
			check: wantIntent(time.Time{}),
		},
	})
}

// TestDecideFilters: --events and --exclude-events match "event" or
// "event.action"; they keep new guids out of the ledger but never drop one
// already in it.
func TestDecideFilters(t *testing.T) {
	events := func(list ...string) func(*Policy) { return func(p *Policy) { p.Events = list } }
	exclude := func(list ...string) func(*Policy) { return func(p *Policy) { p.ExcludeEvents = list } }
	issues := func(action string) *Observation {
		return observed(asEvent("issues", action, orig(specID, origAt, 500)))
	}
	runDecide(t, []decideRow{
		{
			name:   "--events push lets a new push failure through",
			obs:    observed(orig(specID, origAt, 500)),
			policy: events("push"),
			want:   VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "--events issues filters a new push failure, which is not saved",
			obs:    observed(orig(specID, origAt, 500)),
			policy: events("issues"),
			want:   VerdictFiltered, state: StateFailed, save: false,
		},
		{
			name:   "--events issues lets every issues action through",
			obs:    issues("opened"),
			policy: events("issues"),
			want:   VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "--events issues.opened lets issues.opened through",
			obs:    issues("opened"),
			policy: events("issues.opened"),
			want:   VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "--events issues.opened filters issues.closed",
			obs:    issues("closed"),
			policy: events("issues.opened"),
			want:   VerdictFiltered, state: StateFailed, save: false,
		},
		{
			name:   "--exclude-events push filters a new push failure",
			obs:    observed(orig(specID, origAt, 500)),
			policy: exclude("push"),
			want:   VerdictFiltered, state: StateFailed, save: false,
		},
		{
			name:   "--exclude-events issues.closed filters issues.closed",
			obs:    issues("closed"),
			policy: exclude("issues.closed"),
			want:   VerdictFiltered, state: StateFailed, save: false,
		},
		{
			name:   "--exclude-events issues.closed lets issues.opened through",
			obs:    issues("opened"),
			policy: exclude("issues.closed"),
			want:   VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name:   "a guid already in the ledger is not dropped by --events",
			prev:   g1Entry(requested(1, tMinus(2*hour))),
			obs:    observed(orig(specID, origAt, 500)),
			policy: events("issues"),
			want:   VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name:   "a guid already in the ledger is not dropped by --exclude-events",
			prev:   g1Entry(requested(1, tMinus(2*hour))),
			policy: exclude("push"),
			want:   VerdictRedeliver, state: StateFailed, save: false,
		},
	})
}

// TestDecideSave: Save is true for new and changed entries, false when
// nothing changed; a saved entry is stamped with GitHub's clock.
func TestDecideSave(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "a new failed guid is saved",
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
		},
		{
			name: "a re-seen exhausted guid is not saved",
			prev: g1Entry(inState(StateExhausted), requested(5, tMinus(20*hour)), listed(5, specID+5), newestAttempt(specID+5, tMinus(20*hour))),
			obs:  observed(redel(specID+5, tMinus(20*hour), 500), redel(specID+4, tMinus(22*hour), 500)),
			want: VerdictExhausted, state: StateExhausted, save: false,
		},
		{
			name: "a waiting guid re-seen with nothing new is not saved",
			prev: g1Entry(requested(1, tMinus(30*minute)), listed(1, specID+1), newestAttempt(specID+1, tMinus(30*minute))),
			obs:  observed(redel(specID+1, tMinus(30*minute), 500)),
			want: VerdictWait, state: StateFailed, due: tMinus(30 * minute).Add(hour), save: false,
		},
		{
			name: "a newer attempt seen changes the entry, which is saved",
			prev: g1Entry(requested(1, tMinus(2*hour))),
			obs:  observed(redel(specID+1, tMinus(2*hour-sec), 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: wantAttempt(specID+1, tMinus(2*hour-sec)),
		},
		{
			name: "a change of state is saved",
			prev: g1Entry(requested(5, tMinus(20*hour))),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
	})
}

// TestDecideLedgerMerge: what the listing shows is folded into the ledger
// entry without losing what the ledger already knew.
func TestDecideLedgerMerge(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "an older attempt seen later (a --since re-read) moves FirstSeen back",
			prev: g1Entry(func(e *LedgerEntry) { e.FirstSeen = tMinus(20 * hour) }),
			obs:  observed(orig(specID, origAt, 500)),
			want: VerdictRedeliver, state: StateFailed, save: true,
			check: func(t *testing.T, e LedgerEntry) {
				if !e.FirstSeen.Equal(origAt) {
					t.Errorf("FirstSeen = %s, want %s", fmtTime(e.FirstSeen), fmtTime(origAt))
				}
			},
		},
		{
			name: "a listing showing only older attempts never moves the attempt to redeliver back",
			prev: g1Entry(requested(2, tMinus(3*hour)), listed(2, specID+2), newestAttempt(specID+2, tMinus(3*hour))),
			obs:  observed(redel(specID+1, tMinus(5*hour), 500)),
			want: VerdictRedeliver, state: StateFailed, save: false,
			check: wantAttempt(specID+2, tMinus(3*hour)),
		},
		{
			name: "the ledger's event is kept",
			prev: g1Entry(requested(1, tMinus(2*hour))),
			obs:  observed(asEvent("issues", "opened", orig(specID, origAt, 500))),
			want: VerdictRedeliver, state: StateFailed, save: false,
			check: func(t *testing.T, e LedgerEntry) {
				if e.Event != "push" || e.Action != "" {
					t.Errorf("event = %q.%q, want push", e.Event, e.Action)
				}
			},
		},
	})
}

// TestDecideAcrossRuns follows one guid through consecutive runs, feeding
// each decision's entry to the next run as the store would.
func TestDecideAcrossRuns(t *testing.T) {
	p := DefaultPolicy()
	start := tMinus(2 * day)
	var (
		prev    *LedgerEntry
		nextID  = specID
		history []Attempt // every attempt of g1, newest first
	)
	deliver := func(at time.Time, redelivery bool) {
		a := orig(nextID, at, 503)
		a.Redelivery = redelivery
		nextID++
		history = append([]Attempt{a}, history...)
	}
	deliver(start, false)

	// Runs every 30 minutes; each lists the attempts of the last 40 minutes
	// (checkpoint plus overlap), so most runs carry g1 from the ledger.
	var requests []time.Time
	now := start.Add(time.Minute)
	for run := 0; run < 100; run++ {
		var window []Attempt
		for _, a := range history {
			if !a.DeliveredAt.Before(now.Add(-40 * time.Minute)) {
				window = append(window, a)
			}
		}
		var obs *Observation
		if len(window) > 0 {
			obs = observed(window...)
		}
		if obs == nil && prev == nil {
			t.Fatalf("run %d: g1 neither listed nor in the ledger", run)
		}
		d := Decide(obs, prev, p, now)
		if d.Verdict == VerdictRedeliver {
			// GitHub accepts at now and delivers 3 s later; it fails again.
			requests = append(requests, now)
			d.Entry.Requests++
			d.Entry.LastRequest = now
			d.Entry.State = StatePending
			deliver(now.Add(3*time.Second), true)
		}
		e := d.Entry
		prev = &e
		now = now.Add(30 * time.Minute)
	}

	if len(requests) != p.MaxAttempts {
		t.Fatalf("g1 was redelivered %d times, want MaxAttempts = %d: at %v", len(requests), p.MaxAttempts, requests)
	}
	for i := 1; i < len(requests); i++ {
		if gap, least := requests[i].Sub(requests[i-1]), p.spacing(i); gap < least {
			t.Errorf("redelivery %d came %s after the previous one, want at least %s", i+1, gap, least)
		}
	}
	if prev.State != StateExhausted {
		t.Errorf("final state = %s, want %s", prev.State, StateExhausted)
	}
}

// TestRunnerGroupsAttemptsByGUID: several failed attempts of one guid make
// one decision and one redelivery, of the newest attempt.
func TestRunnerGroupsAttemptsByGUID(t *testing.T) {
	a := func(id int64, guid string, ago time.Duration, redelivery bool, code int) Attempt {
		return Attempt{ID: id, GUID: guid, DeliveredAt: tMinus(ago), Redelivery: redelivery,
			Status: statusFor(code), StatusCode: code, Event: "push"}
	}
	page := Page{ServerTime: specNow, Attempts: []Attempt{ // newest first
		a(specID+6, "B", 4*hour, true, 404),
		a(specID+5, "C", 5*hour, true, 200),
		a(specID+4, "A", 6*hour, true, 0),
		a(specID+3, "C", 7*hour, false, 500),
		a(specID+2, "A", 8*hour, true, 502),
		a(specID+1, "B", 9*hour, false, 404),
		a(specID+0, "A", 10*hour, false, 500),
	}}
	r := &Runner{Source: specSource{page}, Store: specStore{}, Policy: DefaultPolicy(), DryRun: true}
	rep, err := r.Run(context.Background(), Target{Kind: KindOrg, Owner: "acme", HookID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attempts != 7 || rep.Events != 3 {
		t.Errorf("attempts, events = %d, %d; want 7, 3", rep.Attempts, rep.Events)
	}
	got := map[string][]int64{}
	for _, it := range rep.Items {
		if it.Verdict == VerdictRedeliver {
			got[it.GUID] = append(got[it.GUID], it.AttemptID)
		}
	}
	want := map[string][]int64{"A": {specID + 4}, "B": {specID + 6}}
	if rep.Redelivered != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("redelivered %d: %v; want 2: %v (one per failed guid, the newest attempt; C recovered)", rep.Redelivered, got, want)
	}
}

// specSource lists fixed pages; the cursor is the page index.
type specSource []Page

func (s specSource) ListAttempts(_ context.Context, _ Target, cursor string) (Page, error) {
	i := 0
	if cursor != "" {
		i, _ = strconv.Atoi(cursor)
	}
	p := s[i]
	if i+1 < len(s) {
		p.Next = strconv.Itoa(i + 1)
	}
	return p, nil
}

// specStore is an empty store that a dry run only reads.
type specStore struct{}

func (specStore) Lock(context.Context, time.Duration) (func() error, error) {
	return func() error { return nil }, nil
}
func (specStore) Checkpoint(context.Context, string) (Checkpoint, bool, error) {
	return Checkpoint{}, false, nil
}
func (specStore) SetCheckpoint(context.Context, string, Checkpoint) error { return nil }
func (specStore) Entries(context.Context, string) ([]LedgerEntry, error)  { return nil, nil }
func (specStore) Lookup(context.Context, string, []string) ([]LedgerEntry, error) {
	return nil, nil
}
func (specStore) OpenEntries(context.Context, string, string, int) ([]LedgerEntry, error) {
	return nil, nil
}
func (specStore) LostEntries(context.Context, string, string, int) ([]LedgerEntry, error) {
	return nil, nil
}
func (specStore) EntriesAfter(context.Context, string, string, int) ([]LedgerEntry, error) {
	return nil, nil
}
func (specStore) Counts(context.Context, string) (map[State]int, error) { return nil, nil }
func (specStore) Put(context.Context, string, ...LedgerEntry) error     { return nil }
func (specStore) Prune(context.Context, string, time.Time) (int, error) { return 0, nil }
func (specStore) Targets(context.Context) ([]string, error)             { return nil, nil }
func (specStore) Close() error                                          { return nil }

// orderItem is one decision given to Order.
type orderItem struct {
	guid      string
	verdict   Verdict
	requests  int
	seen      int
	last      time.Time
	firstSeen time.Time
}

func TestOrder(t *testing.T) {
	due := func(guid string, requests int, last, firstSeen time.Time) orderItem {
		return orderItem{guid: guid, verdict: VerdictRedeliver, requests: requests, last: last, firstSeen: firstSeen}
	}
	never := func(guid string, firstSeen time.Time) orderItem { return due(guid, 0, time.Time{}, firstSeen) }
	other := func(guid string, v Verdict) orderItem {
		return orderItem{guid: guid, verdict: v, firstSeen: tMinus(100 * hour)}
	}
	for _, r := range []struct {
		name     string
		items    []orderItem
		cap      int
		want     []string // returned, in order
		deferred []string
	}{
		{
			name:  "never-requested guids go before requested ones",
			items: []orderItem{due("a", 1, tMinus(20*hour), tMinus(30*hour)), never("b", tMinus(hour))},
			want:  []string{"b", "a"},
		},
		{
			name:  "among requested guids, the least recently requested goes first, whatever the count",
			items: []orderItem{due("a", 1, tMinus(hour), tMinus(30*hour)), due("b", 3, tMinus(5*hour), tMinus(10*hour))},
			want:  []string{"b", "a"},
		},
		{
			name:  "among never-requested guids, the oldest FirstSeen goes first",
			items: []orderItem{never("a", tMinus(hour)), never("b", tMinus(5*hour)), never("c", tMinus(3*hour))},
			want:  []string{"b", "c", "a"},
		},
		{
			name:  "among guids requested at the same time, the oldest FirstSeen goes first",
			items: []orderItem{due("a", 1, tMinus(2*hour), tMinus(5*hour)), due("b", 2, tMinus(2*hour), tMinus(20*hour))},
			want:  []string{"b", "a"},
		},
		{
			name: "a guid redelivered only by others (listed by GitHub) is not never-requested",
			items: []orderItem{
				{guid: "a", verdict: VerdictRedeliver, seen: 1, firstSeen: tMinus(30 * hour)},
				never("b", tMinus(hour)),
			},
			want: []string{"b", "a"},
		},
		{
			name:  "complete ties are broken by guid, so the order is the same every run",
			items: []orderItem{never("b", tMinus(hour)), never("a", tMinus(hour))},
			want:  []string{"a", "b"},
		},
		{
			name: "only redeliver decisions are returned; the others are left alone",
			items: []orderItem{other("w", VerdictWait), never("a", tMinus(hour)), other("p", VerdictPending),
				other("x", VerdictExhausted), other("f", VerdictFiltered)},
			want: []string{"a"},
		},
		{
			name: "the cap returns exactly MaxRedeliveries, the first in order, and defers the rest",
			items: []orderItem{
				due("r1", 1, tMinus(2*hour), tMinus(20*hour)), never("n1", tMinus(5*hour)),
				other("w", VerdictWait), due("r2", 2, tMinus(9*hour), tMinus(10*hour)),
				never("n2", tMinus(9*hour)), never("n3", tMinus(hour)),
			},
			cap:      3,
			want:     []string{"n2", "n1", "n3"},
			deferred: []string{"r2", "r1"},
		},
		{
			name:     "a cap of 1 returns the single most deserving guid",
			items:    []orderItem{due("r", 1, tMinus(2*hour), tMinus(20*hour)), never("n", tMinus(hour))},
			cap:      1,
			want:     []string{"n"},
			deferred: []string{"r"},
		},
		{
			name:  "cap 0 means no cap",
			items: []orderItem{never("a", tMinus(3*hour)), never("b", tMinus(2*hour)), never("c", tMinus(hour))},
			want:  []string{"a", "b", "c"},
		},
		{
			name:  "a cap at the number due defers nothing",
			items: []orderItem{never("a", tMinus(3*hour)), never("b", tMinus(2*hour))},
			cap:   2,
			want:  []string{"a", "b"},
		},
		{
			name:  "nothing due, nothing returned",
			items: []orderItem{other("w", VerdictWait)},
			cap:   1,
		},
	} {
		for _, reversed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reversed=%v", r.name, reversed), func(t *testing.T) {
				items := slices.Clone(r.items)
				if reversed {
					slices.Reverse(items)
				}
				var ds []*Decision
				for _, it := range items {
					ds = append(ds, &Decision{Verdict: it.verdict, Entry: LedgerEntry{GUID: it.guid,
						Requests: it.requests, Seen: it.seen, LastRequest: it.last, FirstSeen: it.firstSeen}})
				}
				out := Order(ds, r.cap)
				var got []string
				for _, d := range out {
					got = append(got, d.Entry.GUID)
				}
				if !slices.Equal(got, r.want) {
					t.Errorf("Order returned %q, want %q", got, r.want)
				}
				for i, d := range ds {
					want := items[i].verdict
					if slices.Contains(r.deferred, d.Entry.GUID) {
						want = VerdictDeferred
					}
					if d.Verdict != want {
						t.Errorf("%s: verdict %s, want %s", d.Entry.GUID, d.Verdict, want)
					}
				}
			})
		}
	}
}
