package redeliver

import "time"

// State is where a failed event stands in the ledger.
type State string

// Ledger states. Failed and Pending are open: the engine keeps carrying the
// guid forward. Recovered, Exhausted and Expired are final.
const (
	StateFailed    State = "failed"    // failed, waiting for its next redelivery
	StatePending   State = "pending"   // redelivery asked for; its attempt has not shown yet
	StateRecovered State = "recovered" // some attempt succeeded
	StateExhausted State = "exhausted" // max attempts used, all failed
	StateExpired   State = "expired"   // past GitHub's redelivery horizon
)

// Open reports whether the engine still has work for a guid in state s.
func (s State) Open() bool { return s == StateFailed || s == StatePending }

// Lost says the event is lost for good: exhausted or expired.
func (s State) Lost() bool { return s == StateExhausted || s == StateExpired }

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StateFailed, StatePending, StateRecovered, StateExhausted, StateExpired:
		return true
	}
	return false
}

// LedgerEntry is what the state store remembers of one failed event (one
// guid of one target). It is enough to redeliver the event without seeing it
// in the listing again, which is how a guid waiting for its next attempt
// survives falling behind the checkpoint.
type LedgerEntry struct {
	GUID   string
	Event  string
	Action string
	// FirstSeen is the oldest delivered_at seen for the guid (the original
	// delivery, as far as we know): the fairness order's tie-breaker.
	FirstSeen time.Time
	// AttemptID is the newest attempt known: the one to redeliver, since the
	// horizon counts from the attempt that is redelivered.
	AttemptID int64
	AttemptAt time.Time
	// Requests is how many redeliveries the guid had, by anyone, as of our
	// latest request GitHub accepted, ours included: each of our requests
	// counts on top of what GitHub listed before it (see countRequest).
	Requests int
	// LastRequest is GitHub's clock when it accepted our latest request.
	LastRequest time.Time
	// IntentAt is set, in GitHub's clock, just before a request is sent and
	// cleared once GitHub answers. One left set means a run died in between:
	// the next run reconciles it against the attempts GitHub lists.
	IntentAt time.Time
	// Seen counts redeliveries GitHub lists for the guid (ours and anyone
	// else's); SeenMark is the newest such attempt id already counted, so
	// attempts re-read in the overlap are not counted twice.
	Seen     int
	SeenMark int64
	State    State
	// Updated is GitHub's clock at the entry's last change.
	Updated time.Time

	// What a person asked for on the status page (see actions.go).
	// Granted is how many redeliveries above the policy's MaxAttempts were
	// granted by "retry exhausted"; Force skips the spacing once, until our
	// next request is counted; Manual, ManualBy and ManualAt tell the last
	// such action, who asked and when.
	Granted  int
	Force    bool
	Manual   ManualAction
	ManualBy string
	ManualAt time.Time
}

// Used is the number of redeliveries the guid has had, as far as anyone can
// tell: ours, or more if GitHub lists more (another tool, or a lost state).
func (e LedgerEntry) Used() int { return max(e.Requests, e.Seen) }

// countRequest records one more redelivery of ours: on top of every
// redelivery known so far, so that others' redeliveries listed before ours
// are not hidden by the max in Used.
func (e *LedgerEntry) countRequest() { e.Requests, e.Force = e.Used()+1, false }
