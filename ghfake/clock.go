package ghfake

import (
	"sync"
	"time"
)

// DefaultStart is the emulator clock's start time when Options.Clock is nil.
var DefaultStart = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// Clock is the emulator's notion of "now": delivered_at, the redelivery horizon,
// token and JWT expiry, the primary rate-limit window and the Date header all
// read it, so a test moves every one of them with a single Advance.
//
// A clock made by NewClock stands still until told to move; one made by
// NewRunningClock also moves with wall time (for the stand-alone server);
// one made by NewFuncClock reads another clock, such as the fake clock of a
// service under test, so that the service and the emulator share one time.
type Clock struct {
	mu      sync.Mutex
	t       time.Time // frozen time, or the time at anchor for a running clock
	anchor  time.Time // wall time at which t was set; zero for a frozen clock
	running bool
	fn      func() time.Time // NewFuncClock: now is fn() + offset
	offset  time.Duration
}

// NewFuncClock returns a clock that reads now. Advance and Set shift it by
// an offset from now, which keeps moving as now does.
func NewFuncClock(now func() time.Time) *Clock { return &Clock{fn: now} }

// NewClock returns a clock frozen at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// NewRunningClock returns a clock that starts at t and then advances with wall time.
func NewRunningClock(t time.Time) *Clock {
	return &Clock{t: t, anchor: time.Now(), running: true}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	if c.fn != nil {
		c.mu.Lock()
		off := c.offset
		c.mu.Unlock()
		return c.fn().Add(off) // outside the lock: fn may be anyone's
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return c.t.Add(time.Since(c.anchor))
	}
	return c.t
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.offset += d
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	if c.fn != nil {
		now := c.fn()
		c.mu.Lock()
		c.offset = t.Sub(now)
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	if c.running {
		c.anchor = time.Now()
	}
}
