// Package statuspage serves redeliver's status page: an overview of every
// target, a page per target with a chart of its failures and the events in
// its ledger, and the manual actions a person can take on an event. Pages
// are rendered on the server (html/template, SVG charts, embedded assets)
// and work without JavaScript.
package statuspage

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"slices"
	"time"

	"github.com/redeliver/redeliver"
)

// Source is what the page shows. StoreSource reads it from a redeliver.Store;
// a long-running process fills the live part.
type Source interface {
	// Targets returns every target's overview, in the order to show them.
	Targets(ctx context.Context) ([]TargetStatus, error)
	// Target returns one target's overview and its ledger's events, to be
	// read once, in no particular order (a ledger can hold hundreds of
	// thousands: the page keeps what it shows, not all of them); an
	// ENotFound error for a key it does not know.
	Target(ctx context.Context, key string) (TargetStatus, iter.Seq2[Event, error], error)
}

// Actor carries out a person's action on one event of a target.
type Actor interface {
	// Act applies action a to the event guid of target key, asked by by,
	// and returns the entry as stored. Errors carry a code: ENotFound for an
	// unknown target or guid, EConflict when the action does not apply to
	// the event as it stands (the message says why), EInvalid for an
	// unknown action.
	Act(ctx context.Context, key, guid string, a redeliver.ManualAction, by string) (redeliver.LedgerEntry, error)
}

// TargetStatus is one target as the overview shows it.
type TargetStatus struct {
	Key  string // redeliver.Target.Key()
	Name string // redeliver.Target.String(), or the key for a target only the state knows
	// Checkpoint is how far back the target's attempts have been examined.
	Checkpoint    redeliver.Checkpoint
	HasCheckpoint bool
	Counts        Counts
	Live          Live
	// Policy is the target's policy; actions and next-due times follow it.
	Policy redeliver.Policy
	// Now is GitHub's clock as best known (the page's reference time).
	Now time.Time
}

// Counts are a target's ledger entries per state. Waiting is the part of
// Failed whose next attempt is not yet due.
type Counts struct {
	Failed, Waiting, Pending, Recovered, Exhausted, Expired int
}

// Live is what only a running process knows of a target. The zero value
// means "not known": the page says so rather than guessing.
type Live struct {
	LastPoll  time.Time // GitHub's clock at the last successful poll
	PollError string    // the last poll's error, if it failed (never a secret)
	// Budget is the API budget of the target's credential.
	Budget Budget
	// Receiver is the receiver's health as the listing shows it.
	Receiver Health
	// ReceiverSince is when Receiver was first seen as it is.
	ReceiverSince time.Time
	// LastPing and NextPing are when the hook was last pinged and will be
	// next (zero: never, or not while the receiver is not seen failing).
	LastPing, NextPing time.Time
	// Uncovered are spans of time nobody checked (coverage gaps).
	Uncovered []redeliver.Span
}

// Budget is an API rate-limit budget.
type Budget struct {
	Known     bool
	Remaining int
	Limit     int
	Reset     time.Time
}

// Health is a receiver's health as the newest deliveries show it.
type Health string

// Receiver health.
const (
	HealthUnknown Health = ""
	HealthUp      Health = "up"   // the newest delivery succeeded
	HealthDown    Health = "down" // recent deliveries all failed
)

// Event is one ledger entry as the target page shows it.
type Event struct {
	redeliver.LedgerEntry
	// Due is when a waiting event may be redelivered next (zero: now, or never).
	Due time.Time
	// Allowed are the actions a person may take on it now.
	Allowed []redeliver.ManualAction
	// Max is the redeliveries it may have in all (policy plus granted).
	Max int
}

// Configured is a target the process was configured with.
type Configured struct {
	Target redeliver.Target
	Policy redeliver.Policy
}

// StoreSource is a Source over a redeliver.Store. Targets that only the
// store knows (no longer configured) are shown with the default policy.
type StoreSource struct {
	Store redeliver.Store
	// Configured are the targets of the configuration, shown first.
	Configured []Configured
	// Live returns what a running process knows of a target; nil: nothing.
	Live func(key string) Live
	// Now is GitHub's clock as best known; nil: time.Now.
	Now func() time.Time
}

var _ Source = (*StoreSource)(nil)

func (s *StoreSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// targets returns the configured targets and then those only the store knows.
func (s *StoreSource) targets(ctx context.Context) ([]TargetStatus, error) {
	keys, err := s.Store.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []TargetStatus
	seen := map[string]bool{}
	for _, c := range s.Configured {
		k := c.Target.Key()
		if !seen[k] {
			seen[k] = true
			out = append(out, TargetStatus{Key: k, Name: c.Target.String(), Policy: c.Policy})
		}
	}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, TargetStatus{Key: k, Name: k, Policy: redeliver.DefaultPolicy()})
		}
	}
	return out, nil
}

// Targets implements Source.
func (s *StoreSource) Targets(ctx context.Context) ([]TargetStatus, error) {
	ts, err := s.targets(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ts {
		if err := s.fillCounts(ctx, &ts[i]); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// fillCounts reads the target's checkpoint, counts and live state into t
// without reading its ledger whole: the overview refreshes every target
// every half minute, and a receiver down for a day on a busy hook leaves
// hundreds of thousands of events open. The store counts the states; only
// the failed entries are read, a batch at a time, to tell the waiting ones.
func (s *StoreSource) fillCounts(ctx context.Context, t *TargetStatus) error {
	if err := s.fillFacts(ctx, t); err != nil {
		return err
	}
	counts, err := s.Store.Counts(ctx, t.Key)
	if err != nil {
		return err
	}
	t.Counts = Counts{Failed: counts[redeliver.StateFailed], Pending: counts[redeliver.StatePending],
		Recovered: counts[redeliver.StateRecovered], Exhausted: counts[redeliver.StateExhausted], Expired: counts[redeliver.StateExpired]}
	if t.Counts.Failed == 0 {
		return nil
	}
	return redeliver.EachBatch(ctx, s.Store.OpenEntries, t.Key, countBatch, func(es []redeliver.LedgerEntry) error {
		for _, e := range es {
			if e.State == redeliver.StateFailed && !EventOf(e, t.Policy, t.Now).Due.IsZero() {
				t.Counts.Waiting++
			}
		}
		return nil
	})
}

// countBatch is how many ledger entries one read for the page takes.
const countBatch = 1000

// Target implements Source: the ledger is read a batch at a time, as the
// events are.
func (s *StoreSource) Target(ctx context.Context, key string) (TargetStatus, iter.Seq2[Event, error], error) {
	ts, err := s.targets(ctx)
	if err != nil {
		return TargetStatus{}, nil, err
	}
	i := slices.IndexFunc(ts, func(t TargetStatus) bool { return t.Key == key })
	if i < 0 {
		return TargetStatus{}, nil, redeliver.Errorf(redeliver.ENotFound, "no target %q", key)
	}
	t := ts[i]
	if err := s.fillCounts(ctx, &t); err != nil {
		return t, nil, err
	}
	events := func(yield func(Event, error) bool) {
		err := redeliver.EachBatch(ctx, s.Store.EntriesAfter, key, countBatch, func(es []redeliver.LedgerEntry) error {
			for _, e := range es {
				if !yield(EventOf(e, t.Policy, t.Now), nil) {
					return errStopped
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopped) {
			yield(Event{}, err)
		}
	}
	return t, events, nil
}

// errStopped ends a walk of the ledger its reader stopped.
var errStopped = errors.New("stopped")

// fillFacts reads the target's checkpoint and live state into t.
func (s *StoreSource) fillFacts(ctx context.Context, t *TargetStatus) error {
	cp, ok, err := s.Store.Checkpoint(ctx, t.Key)
	if err != nil {
		return err
	}
	t.Checkpoint, t.HasCheckpoint = cp, ok
	if s.Live != nil {
		t.Live = s.Live(t.Key)
	}
	t.Now = s.now()
	return nil
}

// EventOf is a ledger entry as the page shows it under policy p at now.
func EventOf(e redeliver.LedgerEntry, p redeliver.Policy, now time.Time) Event {
	ev := Event{LedgerEntry: e, Max: p.MaxAttempts + e.Granted, Allowed: redeliver.Allowed(e, p, now)}
	if e.State == redeliver.StateFailed {
		ev.Due = redeliver.Decide(nil, &e, p, now).Due
	}
	return ev
}

// Newer orders events newest first (by first delivery, then guid).
func Newer(a, b Event) int {
	if c := b.FirstSeen.Compare(a.FirstSeen); c != 0 {
		return c
	}
	return cmp.Compare(a.GUID, b.GUID)
}

// maxReplaceTries bounds how often an action reads an entry again because
// another process wrote it in between.
const maxReplaceTries = 5

// StoreActor is an Actor that applies actions to a redeliver.Store's ledger
// with redeliver.Apply. It does not redeliver anything itself: After, when
// set, runs once the entry is stored (a process with an engine starts the
// target's next pass there, so "redeliver now" happens now).
//
// The engine must not hold the target's entries in memory across an action:
// a process that runs passes concurrently serializes Act with them. On a
// store several processes share (a redeliver.Replacer), the entry is
// written only over what was read, and read again otherwise.
type StoreActor struct {
	Store  redeliver.Store
	Policy func(key string) redeliver.Policy
	// Now is GitHub's clock as best known; nil: time.Now.
	Now   func() time.Time
	After func(ctx context.Context, key string, e redeliver.LedgerEntry) error
}

// Act implements Actor.
func (a *StoreActor) Act(ctx context.Context, key, guid string, act redeliver.ManualAction, by string) (redeliver.LedgerEntry, error) {
	if !act.Valid() {
		_, err := redeliver.Apply(redeliver.LedgerEntry{}, act, by, redeliver.DefaultPolicy(), time.Time{})
		return redeliver.LedgerEntry{}, err
	}
	p := redeliver.DefaultPolicy()
	if a.Policy != nil {
		p = a.Policy(key)
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	// On a store replicas share, the entry is written back only if no one
	// wrote it since it was read (the replica polling the target may have
	// just redelivered the event); otherwise it is read again.
	replacer, shared := a.Store.(redeliver.Replacer)
	var e redeliver.LedgerEntry
	for try := 1; ; try++ {
		found, err := a.Store.Lookup(ctx, key, []string{guid})
		if err != nil {
			return redeliver.LedgerEntry{}, err
		}
		if len(found) == 0 {
			return redeliver.LedgerEntry{}, redeliver.Errorf(redeliver.ENotFound, "target %s has no event %s in its ledger", key, guid)
		}
		prev := found[0]
		if e, err = redeliver.Apply(prev, act, by, p, now); err != nil {
			return prev, err
		}
		if !shared {
			if err := a.Store.Put(ctx, key, e); err != nil {
				return prev, err
			}
			break
		}
		ok, err := replacer.Replace(ctx, key, prev, e)
		if err != nil {
			return prev, err
		}
		if ok {
			break
		}
		if try == maxReplaceTries {
			return prev, redeliver.Errorf(redeliver.EConflict, "event %s of target %s changed %d times while the action was applied; try again", guid, key, try)
		}
	}
	if a.After != nil {
		if err := a.After(ctx, key, e); err != nil {
			return e, err
		}
	}
	return e, nil
}
