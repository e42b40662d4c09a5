package redeliver

import "time"

// Report is what one run did for one target. Its JSON form is the stable
// `--output json` report (documented in the README); field names only grow.
type Report struct {
	Target string `json:"target"` // Target.Key()
	Name   string `json:"name"`   // Target.String()
	// Window is the span of delivered_at this run examined.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Complete is false when the listing stopped before reaching From.
	Complete bool `json:"complete"`
	// Uncovered lists spans nobody checked: the listing stopped early, or
	// the checkpoint is older than GitHub's redelivery horizon.
	Uncovered []Span `json:"uncovered,omitempty"`

	Pages    int `json:"pages"`
	Attempts int `json:"attempts"` // attempts listed in the window
	Events   int `json:"events"`   // distinct guids in the window

	Failed      int `json:"failed"`      // guids that needed a redelivery or are still being worked on
	Redelivered int `json:"redelivered"` // requests GitHub accepted in this run (would be, in a dry run)
	Waiting     int `json:"waiting"`     // failed, next attempt not yet due
	Pending     int `json:"pending"`     // asked for, not yet shown
	Deferred    int `json:"deferred"`    // due, but over --max-redeliveries or stopped early
	Recovered   int `json:"recovered"`   // ledger guids that succeeded since
	Exhausted   int `json:"exhausted"`
	Expired     int `json:"expired"`
	Filtered    int `json:"filtered"`
	Errors      int `json:"errors"` // redeliveries GitHub refused or that failed
	// Foreign counts redelivery attempts GitHub listed that this state did
	// not ask for: another redeliverer (another state, a person, a script)
	// is working on the same hook, and events may be redelivered twice.
	Foreign int `json:"foreign_redeliveries,omitempty"`
	// CheckpointHeld says why the checkpoint did not move as far as the
	// listing went (a --since after it, GitHub's clock behind it).
	CheckpointHeld string `json:"checkpoint_held,omitempty"`

	DryRun bool `json:"dry_run,omitempty"`
	// Stopped says why the run stopped early for this target, if it did.
	Stopped string `json:"stopped,omitempty"`
	// StopReason is Stopped as a code, for programs: deadline (--timeout or
	// a signal), rate_limited, store, auth, refusals, receiver or listing.
	StopReason string `json:"stop_reason,omitempty"`
	// Error is the target's fatal error, if any (the run went on with the
	// other targets).
	Error     string `json:"error,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	// Items lists what was done or found per guid (redelivered, exhausted,
	// expired, errors, and in a dry run what would be redelivered).
	Items []Item `json:"items,omitempty"`
	// ItemsOmitted counts items left out of Items to keep a large run's
	// report bounded; Runner.OnItem hears every one of them.
	ItemsOmitted int `json:"items_omitted,omitempty"`
}

// Span is a time range.
type Span struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason"`
}

// Item is one guid worth telling about.
type Item struct {
	GUID      string    `json:"guid"`
	Event     string    `json:"event"`
	Action    string    `json:"action,omitempty"`
	AttemptID int64     `json:"attempt_id"`
	Verdict   Verdict   `json:"verdict"`
	Attempts  int       `json:"redeliveries"` // redeliveries used so far
	FirstSeen time.Time `json:"first_seen"`
	Error     string    `json:"error,omitempty"`
}
