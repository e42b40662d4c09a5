package redeliver

import (
	"slices"
	"strings"
	"time"
)

// Redelivery horizons: GitHub redelivers attempts of the last 3 days on
// github.com and GHEC, 7 days on GHES (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks).
const (
	HorizonDotCom = 3 * 24 * time.Hour
	HorizonGHES   = 7 * 24 * time.Hour
)

// Policy is what a run may do. The zero value is not usable: start from
// DefaultPolicy.
type Policy struct {
	// MaxAttempts caps redeliveries per guid across all runs.
	MaxAttempts int
	// RetryBase spaces the redeliveries of one guid: the n-th (n ≥ 1) is
	// followed by the next no sooner than RetryBase × 2^(n-1).
	RetryBase time.Duration
	// Horizon is how old an attempt GitHub still redelivers.
	Horizon time.Duration
	// FirstWindow is how far back the first run looks (no checkpoint yet).
	FirstWindow time.Duration
	// Overlap re-reads this much before the checkpoint, for attempts GitHub
	// recorded late; the ledger makes re-seen attempts harmless.
	Overlap time.Duration
	// PendingGrace is how long a redelivery we asked for may take to show
	// as a new attempt before we stop waiting for it.
	PendingGrace time.Duration
	// Since, when set, overrides the checkpoint; SinceAgo does the same
	// relative to GitHub's clock at the start of the run.
	Since    time.Time
	SinceAgo time.Duration
	// MaxRedeliveries caps redeliveries per target per run (0: no cap).
	MaxRedeliveries int
	// Events and ExcludeEvents filter by "event" or "event.action".
	Events        []string
	ExcludeEvents []string
}

// DefaultPolicy is the policy of a run with no flags.
func DefaultPolicy() Policy {
	return Policy{
		MaxAttempts:  5,
		RetryBase:    time.Hour,
		Horizon:      HorizonDotCom,
		FirstWindow:  24 * time.Hour,
		Overlap:      10 * time.Minute,
		PendingGrace: 15 * time.Minute,
	}
}

// Validate names the first field of p that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 1:
		return Errorf(EInvalid, "max-attempts must be at least 1, got %d", p.MaxAttempts)
	case p.RetryBase < 0:
		return Errorf(EInvalid, "retry-base must not be negative, got %s", p.RetryBase)
	case p.Horizon <= 0:
		return Errorf(EInvalid, "horizon must be positive, got %s", p.Horizon)
	case p.FirstWindow <= 0:
		return Errorf(EInvalid, "first window must be positive, got %s", p.FirstWindow)
	case p.Overlap < 0:
		return Errorf(EInvalid, "overlap must not be negative, got %s", p.Overlap)
	case p.PendingGrace < 0:
		return Errorf(EInvalid, "pending grace must not be negative, got %s", p.PendingGrace)
	case p.MaxRedeliveries < 0:
		return Errorf(EInvalid, "max-redeliveries must not be negative, got %d", p.MaxRedeliveries)
	}
	for _, e := range append(slices.Clone(p.Events), p.ExcludeEvents...) {
		if err := ValidateEventName(e); err != nil {
			return err
		}
	}
	return nil
}

// ValidateEventName checks an "event" or "event.action" filter entry.
func ValidateEventName(s string) error {
	ev, act, hasAct := strings.Cut(s, ".")
	if !eventName(ev) || (hasAct && !eventName(act)) {
		return Errorf(EInvalid, "event %q: want an event name like push or issues.opened (lowercase letters, digits, _)", s)
	}
	if _, known := KnownEvents[ev]; !known {
		return Errorf(EInvalid, "event %q: unknown webhook event %q", s, ev)
	}
	return nil
}

func eventName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Wants reports whether the filters let an event with this action through.
func (p Policy) Wants(event, action string) bool {
	match := func(list []string) bool {
		for _, f := range list {
			if f == event || (action != "" && f == event+"."+action) {
				return true
			}
		}
		return false
	}
	if len(p.Events) > 0 && !match(p.Events) {
		return false
	}
	return !match(p.ExcludeEvents)
}

// spacing is the wait after the n-th redelivery before the next one.
func (p Policy) spacing(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := p.RetryBase
	for i := 1; i < n && d < 365*24*time.Hour; i++ {
		d *= 2
	}
	return d
}
