package serve

import (
	"context"
	"time"

	"github.com/redeliver/redeliver"
)

// Pinger asks GitHub to send a hook a ping event (githubapi.Client does).
// When the service's Redeliverer is also a Pinger, a receiver seen failing
// is probed with pings instead of redeliveries of users' events.
type Pinger interface {
	Ping(ctx context.Context, t redeliver.Target) (time.Time, error)
}

const (
	pingEvent      = "ping"
	defaultPingMin = 30 * time.Second
	defaultPingMax = 2 * time.Minute
	// pingCheck is how soon after a ping the listing is read again: the
	// ping's delivery is listed once the receiver answered (or GitHub gave
	// up on it, after 10 s on github.com; a later poll sees it then).
	pingCheck = 5 * time.Second
)

func (s Schedule) pingMin() time.Duration {
	if s.PingMin == 0 {
		return defaultPingMin
	}
	return s.PingMin
}

func (s Schedule) pingMax() time.Duration {
	if s.PingMax == 0 {
		return max(defaultPingMax, s.pingMin())
	}
	return s.PingMax
}

// canPing says whether w's receiver is probed with pings; s.mu is held.
// GitHub has no ping for an App's hook.
func (s *Service) canPing(w *watch) bool {
	_, ok := s.redel.(Pinger)
	return ok && w.t.Kind != redeliver.KindApp && !w.pingBroken
}

// nextPing is when w's hook is next pinged (the poll after it, to be
// exact), or zero when it is not: its receiver is not seen failing, or
// GitHub cannot ping it; s.mu is held.
func (s *Service) nextPing(w *watch) time.Time {
	if w.health != HealthDown || !s.canPing(w) {
		return time.Time{}
	}
	since := w.evidenceAt
	if w.lastPing.After(since) {
		since = w.lastPing
	}
	return since.Add(w.pingEvery)
}

// maybePing pings w's hook when its receiver is seen failing and nothing
// newer than the last evidence (a delivery, or the last ping) has come for
// the ping interval, unless the credential's budget is stretched. A ping
// costs one billed call, and reading its delivery one more.
func (s *Service) maybePing(ctx context.Context, w *watch) {
	s.mu.Lock()
	now, next := s.clock.Now(), s.nextPing(w)
	due := !next.IsZero() && !s.stopping && !now.Before(next)
	if due {
		if b := s.budgets[w.credential]; b != nil && b.wait(now) > 0 {
			s.log.Debug("ping skipped: the API budget is stretched", "target", w.key)
			due = false
		}
	}
	t := w.t.Target
	s.mu.Unlock()
	if !due {
		return
	}
	_, err := s.redel.(Pinger).Ping(ctx, t)

	s.mu.Lock()
	defer s.mu.Unlock()
	w.lastPing = s.clock.Now()
	if err != nil {
		s.m.pings.WithLabelValues(w.key, "error").Inc()
		switch redeliver.ErrorCode(err) {
		case redeliver.EInvalid, redeliver.ENotFound, redeliver.EAuth:
			w.pingBroken = true
			s.log.Warn("GitHub refused to ping the hook: probing the failing receiver with redeliveries instead",
				"target", w.key, "error", err)
		default:
			s.log.Warn("ping failed", "target", w.key, "error", err)
		}
		return
	}
	s.m.pings.WithLabelValues(w.key, "ok").Inc()
	w.pinged = true
	w.pingEvery = min(w.pingEvery*2, s.cfg.Schedule.pingMax())
	s.log.Info("pinged the failing receiver's hook", "target", w.key, "next_ping_after", w.pingEvery)
}
