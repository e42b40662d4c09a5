package redeliver

import (
	"strings"
	"time"
)

// ManualAction is something a person asks for one ledger entry, from the
// status page. Actions only change the entry; the engine does the rest on its
// next pass over the target, so every redelivery still goes through the
// Planner, the pacing and the ledger's crash-safe intent.
type ManualAction string

// The manual actions.
const (
	// ManualRedeliverNow makes a failed event due at once: it skips the
	// spacing between attempts but still counts toward MaxAttempts.
	ManualRedeliverNow ManualAction = "redeliver-now"
	// ManualGiveUp marks an open event exhausted: nothing more is asked.
	ManualGiveUp ManualAction = "give-up"
	// ManualRetry grants an exhausted event one more redelivery, due at once.
	ManualRetry ManualAction = "retry-exhausted"
	// ManualReplay records a redelivery asked on purpose by `replay`,
	// whatever the delivery's status; it is not a status-page action.
	ManualReplay ManualAction = "replay"
)

// Valid reports whether a is one of the known actions.
func (a ManualAction) Valid() bool {
	switch a {
	case ManualRedeliverNow, ManualGiveUp, ManualRetry:
		return true
	}
	return false
}

// Label is the action as a button says it.
func (a ManualAction) Label() string {
	switch a {
	case ManualRedeliverNow:
		return "redeliver now"
	case ManualGiveUp:
		return "give up"
	case ManualRetry:
		return "retry exhausted"
	case ManualReplay:
		return "replay"
	}
	return string(a)
}

// Allowed lists the actions that apply to e under policy p at now (GitHub's
// clock), in the order a page shows them.
func Allowed(e LedgerEntry, p Policy, now time.Time) []ManualAction {
	var out []ManualAction
	for _, a := range []ManualAction{ManualRedeliverNow, ManualRetry, ManualGiveUp} {
		if _, err := Apply(e, a, "", p, now); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// Apply returns e as it stands after action a, asked by by (a name for the
// record, never a secret) at now, GitHub's clock. It returns an EInvalid
// error for an unknown action and an EConflict error saying why when the
// action does not apply to the entry as it stands; e is never changed.
//
//   - redeliver now: only for a failed event that has attempts left and is
//     within the horizon; it skips the spacing once.
//   - give up: for a failed or pending event; it becomes exhausted.
//   - retry exhausted: for an exhausted event within the horizon; it gets
//     exactly one more redelivery, due at once.
func Apply(e LedgerEntry, a ManualAction, by string, p Policy, now time.Time) (LedgerEntry, error) {
	if !a.Valid() {
		return e, Errorf(EInvalid, "action %q: want %s, %s or %s", string(a), ManualRedeliverNow, ManualGiveUp, ManualRetry)
	}
	expired := !e.AttemptAt.IsZero() && now.Sub(e.AttemptAt) > p.Horizon
	switch a {
	case ManualRedeliverNow:
		switch {
		case e.State != StateFailed:
			return e, Errorf(EConflict, "event %s is %s: only a failed event can be redelivered now", e.GUID, e.State)
		case e.Used() >= p.MaxAttempts+e.Granted:
			return e, Errorf(EConflict, "event %s has used its %d redeliveries: retry it once it is exhausted", e.GUID, p.MaxAttempts+e.Granted)
		case expired:
			return e, Errorf(EConflict, "event %s is past GitHub's redelivery horizon", e.GUID)
		}
		e.Force = true
	case ManualGiveUp:
		if !e.State.Open() {
			return e, Errorf(EConflict, "event %s is already %s", e.GUID, e.State)
		}
		e.State, e.Force = StateExhausted, false
	case ManualRetry:
		switch {
		case e.State != StateExhausted:
			return e, Errorf(EConflict, "event %s is %s: only an exhausted event can be retried", e.GUID, e.State)
		case expired:
			return e, Errorf(EConflict, "event %s is past GitHub's redelivery horizon", e.GUID)
		}
		e.Granted = max(e.Granted, e.Used()+1-p.MaxAttempts)
		e.State, e.Force = StateFailed, true
	}
	e.Manual, e.ManualBy, e.ManualAt, e.Updated = a, cleanName(by), now, now
	return e, nil
}

// cleanName keeps a recorded name short and on one line.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	return s
}
