package serve

import (
	"context"
	"sync"
	"time"

	"github.com/redeliver/redeliver"
)

// passLock keeps a target's polls and the changes made between them (a
// person's action on the status page) from overlapping: the engine reads
// the ledger at the start of a poll and writes it back at the end.
type passLock struct{ sync.Mutex }

// Between runs f for the target key between two of its polls: it waits
// for a poll in flight to end and holds the next one back until f returns.
// Then the target's next poll is made due now, so that what f changed (an
// action on an event) takes effect at once. ENotFound when the service
// does not watch key.
func (s *Service) Between(ctx context.Context, key string, f func(context.Context) error) error {
	s.mu.Lock()
	w, ok := s.targets[key]
	s.mu.Unlock()
	if !ok || w.removed {
		return redeliver.Errorf(redeliver.ENotFound, "the service does not watch target %s", key)
	}
	w.pass.Lock()
	err := f(ctx)
	w.pass.Unlock()
	s.PollNow(key)
	return err
}

// PollNow makes the target's next poll due now (a poll in flight is not
// repeated: the one after it follows its schedule). It reports whether the
// service watches key.
func (s *Service) PollNow(key string) bool {
	s.mu.Lock()
	w, ok := s.targets[key]
	if ok && !w.removed && !w.running {
		w.due = s.clock.Now()
	}
	s.mu.Unlock()
	if ok {
		s.poke()
	}
	return ok && !w.removed
}

// SetOnIdle makes the scheduler call f each time it waits with no poll in
// flight: a simulation on a fake clock (the fleet benchmark) moves the
// clock then. Call it before Run; f runs on the scheduler's goroutine.
func (s *Service) SetOnIdle(f func()) {
	s.mu.Lock()
	s.onIdle = f
	s.mu.Unlock()
}

// NextDue is when the earliest poll not in flight is due (zero: none).
func (s *Service) NextDue() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, w := range s.targets {
		if !w.running && !w.removed && (next.IsZero() || w.due.Before(next)) {
			next = w.due
		}
	}
	return next
}
