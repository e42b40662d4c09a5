package redeliver

import (
	"sync"
	"time"
)

// serverClock is GitHub's clock as last seen in an answer's Date header.
// An intent stamped with it is never later than the attempt GitHub records
// for the request, which is what reconciliation relies on; the runner's own
// wall clock never leaks in.
type serverClock struct {
	mu   sync.Mutex
	last time.Time
}

func newServerClock(t time.Time) *serverClock { return &serverClock{last: t} }

// Now is the latest reading.
func (c *serverClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Observe takes a fresh reading from an answer's Date header.
func (c *serverClock) Observe(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.last) {
		c.last = t
	}
}
