package redeliver

import (
	"strings"
	"testing"
)

// planner_actions_test.go specifies what a person's action on the status page
// does to a ledger entry (Apply), and how the Planner honours it (Decide).

// forced: a person pressed "redeliver now".
func forced(e *LedgerEntry) { e.Force = true }

// granted: "retry exhausted" granted n redeliveries above MaxAttempts.
func granted(n int) func(*LedgerEntry) { return func(e *LedgerEntry) { e.Granted = n } }

func TestDecideHonoursManualActions(t *testing.T) {
	runDecide(t, []decideRow{
		{
			name: "redeliver now skips the spacing: asked 10m ago, due in 50m, forced → redeliver",
			prev: g1Entry(requested(1, tMinus(10*minute)), listed(1, specID+1),
				newestAttempt(specID+1, tMinus(10*minute)), forced),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "without the force the same entry waits for its spacing",
			prev: g1Entry(requested(1, tMinus(10*minute)), listed(1, specID+1),
				newestAttempt(specID+1, tMinus(10*minute))),
			want: VerdictWait, state: StateFailed, due: tMinus(10 * minute).Add(hour), save: false,
		},
		{
			name: "redeliver now still counts toward max attempts: 5 used, forced → exhausted",
			prev: g1Entry(requested(5, tMinus(10*minute)), forced),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
		{
			name: "redeliver now does not beat the horizon: original 4 days old → expired",
			prev: g1Entry(newestAttempt(specID, tMinus(4*day)), forced),
			want: VerdictExpired, state: StateExpired, save: true,
		},
		{
			name: "a forced request still pending is not asked twice",
			prev: g1Entry(requested(1, tMinus(5*minute)), inState(StatePending), forced),
			want: VerdictPending, state: StatePending, save: false,
		},
		{
			name: "retry exhausted: 5 used, 1 granted, forced → one more redelivery now",
			prev: g1Entry(requested(5, tMinus(10*minute)), granted(1), forced),
			want: VerdictRedeliver, state: StateFailed, save: false,
		},
		{
			name: "the granted attempt used: 6 used, 1 granted → exhausted again",
			prev: g1Entry(requested(6, tMinus(10*minute)), granted(1)),
			want: VerdictExhausted, state: StateExhausted, save: true,
		},
		{
			name: "give up is final: exhausted stays exhausted while failures keep showing",
			obs:  observed(redel(specID+5, tMinus(minute), 503), orig(specID, origAt, 503)),
			prev: g1Entry(inState(StateExhausted), func(e *LedgerEntry) { e.Manual = ManualGiveUp }),
			want: VerdictExhausted, state: StateExhausted, save: true,
			check: func(t *testing.T, e LedgerEntry) {
				if e.Manual != ManualGiveUp {
					t.Errorf("the record of who gave up was lost: %+v", e)
				}
			},
		},
		{
			name: "an event given up that then succeeds is recovered",
			obs:  observed(redel(specID+5, tMinus(minute), 200), orig(specID, origAt, 503)),
			prev: g1Entry(inState(StateExhausted), func(e *LedgerEntry) { e.Manual = ManualGiveUp }),
			want: VerdictRecovered, state: StateRecovered, save: true,
		},
		{
			name: "a run that died after recording a forced request's intent: GitHub took it, the force is spent",
			obs:  observed(redel(specID+1, tMinus(9*minute), 503), orig(specID, origAt, 503)),
			prev: g1Entry(requested(1, tMinus(2*hour)), listed(1, specID),
				intentAt(tMinus(10*minute)), forced),
			want: VerdictWait, state: StateFailed, due: tMinus(9 * minute).Add(2 * hour), save: true,
			check: func(t *testing.T, e LedgerEntry) {
				if e.Force {
					t.Error("force still set after the forced request was counted")
				}
			},
		},
	})
}

func TestCountRequestSpendsTheForce(t *testing.T) {
	e := *g1Entry(forced)
	e.countRequest()
	if e.Force || e.Requests != 1 {
		t.Fatalf("after a counted request: Force=%v Requests=%d, want false 1", e.Force, e.Requests)
	}
}

func TestOrderPutsForcedFirst(t *testing.T) {
	never := &Decision{Verdict: VerdictRedeliver, Entry: LedgerEntry{GUID: "a", FirstSeen: tMinus(day)}}
	asked := &Decision{Verdict: VerdictRedeliver, Entry: LedgerEntry{GUID: "b", Requests: 2, LastRequest: tMinus(hour), FirstSeen: tMinus(2 * day), Force: true}}
	got := Order([]*Decision{never, asked}, 1)
	if len(got) != 1 || got[0] != asked || never.Verdict != VerdictDeferred {
		t.Fatalf("Order with cap 1 = %v; want the forced one first and the other deferred", got)
	}
}

func TestApply(t *testing.T) {
	p := DefaultPolicy()
	now := specNow
	type row struct {
		name    string
		entry   *LedgerEntry
		action  ManualAction
		wantErr string // error code; "" when it applies
		check   func(t *testing.T, e LedgerEntry)
	}
	recorded := func(a ManualAction) func(t *testing.T, e LedgerEntry) {
		return func(t *testing.T, e LedgerEntry) {
			t.Helper()
			if e.Manual != a || e.ManualBy != "ops" || !e.ManualAt.Equal(now) || !e.Updated.Equal(now) {
				t.Errorf("action not recorded with who and when: %+v", e)
			}
		}
	}
	rows := []row{
		{name: "redeliver now on a failed event forces it", entry: g1Entry(requested(1, tMinus(10*minute))), action: ManualRedeliverNow,
			check: func(t *testing.T, e LedgerEntry) {
				recorded(ManualRedeliverNow)(t, e)
				if !e.Force || e.State != StateFailed || e.Requests != 1 {
					t.Errorf("got %+v, want forced, failed, requests unchanged", e)
				}
			}},
		{name: "redeliver now on a pending event is refused: one is on its way", entry: g1Entry(inState(StatePending)), action: ManualRedeliverNow, wantErr: EConflict},
		{name: "redeliver now on an exhausted event is refused: retry it instead", entry: g1Entry(inState(StateExhausted)), action: ManualRedeliverNow, wantErr: EConflict},
		{name: "redeliver now with every attempt used is refused", entry: g1Entry(requested(5, tMinus(hour))), action: ManualRedeliverNow, wantErr: EConflict},
		{name: "redeliver now past the horizon is refused", entry: g1Entry(newestAttempt(specID, tMinus(4*day))), action: ManualRedeliverNow, wantErr: EConflict},
		{name: "redeliver now on a recovered event is refused", entry: g1Entry(inState(StateRecovered)), action: ManualRedeliverNow, wantErr: EConflict},
		{name: "give up marks a failed event exhausted", entry: g1Entry(forced), action: ManualGiveUp,
			check: func(t *testing.T, e LedgerEntry) {
				recorded(ManualGiveUp)(t, e)
				if e.State != StateExhausted || e.Force {
					t.Errorf("got %+v, want exhausted and no force", e)
				}
			}},
		{name: "give up on a pending event", entry: g1Entry(inState(StatePending)), action: ManualGiveUp},
		{name: "give up on an expired event is refused", entry: g1Entry(inState(StateExpired)), action: ManualGiveUp, wantErr: EConflict},
		{name: "retry exhausted grants exactly one more", entry: g1Entry(requested(5, tMinus(hour)), inState(StateExhausted)), action: ManualRetry,
			check: func(t *testing.T, e LedgerEntry) {
				recorded(ManualRetry)(t, e)
				if e.Granted != 1 || e.State != StateFailed || !e.Force {
					t.Errorf("got %+v, want granted 1, failed, forced", e)
				}
				if d := Decide(nil, &e, p, now); d.Verdict != VerdictRedeliver {
					t.Errorf("the Planner says %s for the retried event, want redeliver", d.Verdict)
				}
				e.countRequest()
				if d := Decide(nil, &e, p, now); d.Verdict != VerdictPending && d.Verdict != VerdictExhausted {
					t.Errorf("after the granted request the Planner says %s", d.Verdict)
				}
			}},
		{name: "retry of an event given up early reopens it without a grant", entry: g1Entry(requested(1, tMinus(hour)), inState(StateExhausted)), action: ManualRetry,
			check: func(t *testing.T, e LedgerEntry) {
				if e.Granted != 0 || e.State != StateFailed {
					t.Errorf("got %+v, want no grant, failed", e)
				}
			}},
		{name: "retry twice grants one more each time", entry: g1Entry(requested(6, tMinus(hour)), granted(1), inState(StateExhausted)), action: ManualRetry,
			check: func(t *testing.T, e LedgerEntry) {
				if e.Granted != 2 {
					t.Errorf("granted = %d, want 2", e.Granted)
				}
			}},
		{name: "retry of a failed event is refused", entry: g1Entry(), action: ManualRetry, wantErr: EConflict},
		{name: "retry past the horizon is refused", entry: g1Entry(newestAttempt(specID, tMinus(4*day)), inState(StateExhausted)), action: ManualRetry, wantErr: EConflict},
		{name: "an unknown action is invalid input", entry: g1Entry(), action: "delete", wantErr: EInvalid},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			before := *r.entry
			got, err := Apply(*r.entry, r.action, "ops", p, now)
			if code := ErrorCode(err); code != r.wantErr {
				t.Fatalf("error = %v (code %q), want code %q", err, code, r.wantErr)
			}
			if err != nil && got != before {
				t.Errorf("a refused action changed the entry: %+v", got)
			}
			if r.check != nil {
				r.check(t, got)
			}
		})
	}
}

func TestAllowedFollowsApply(t *testing.T) {
	p := DefaultPolicy()
	cases := map[State][]ManualAction{
		StateFailed:    {ManualRedeliverNow, ManualGiveUp},
		StatePending:   {ManualGiveUp},
		StateExhausted: {ManualRetry},
		StateRecovered: nil,
		StateExpired:   nil,
	}
	for s, want := range cases {
		got := Allowed(*g1Entry(inState(s)), p, specNow)
		if len(got) != len(want) {
			t.Errorf("%s: allowed %v, want %v", s, got, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: allowed %v, want %v", s, got, want)
			}
		}
	}
}

func TestApplyKeepsRecordedNamesShort(t *testing.T) {
	e, err := Apply(*g1Entry(), ManualGiveUp, "  a\nb"+strings.Repeat("x", 100), DefaultPolicy(), specNow)
	if err != nil {
		t.Fatal(err)
	}
	if len([]rune(e.ManualBy)) != 64 || e.ManualBy[:2] != "ab" {
		t.Errorf("ManualBy = %q, want control characters dropped and 64 runes at most", e.ManualBy)
	}
}
