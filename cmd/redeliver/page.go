package main

import (
	"context"
	"iter"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/serve"
	"github.com/redeliver/redeliver/statuspage"
)

// servePage is the status page of `redeliver serve`: what the state holds
// and what the service knows now, with actions applied between a target's
// polls.
type servePage struct {
	store redeliver.Store
	now   func() time.Time
	svc   atomic.Pointer[serve.Service]
	// source is swapped on SIGHUP, with the targets.
	source atomic.Pointer[statuspage.StoreSource]
}

// newServePage makes the page's handler; setTargets and setService
// complete it before it serves.
func newServePage(store redeliver.Store, now func() time.Time, token string, log *slog.Logger) (*servePage, *statuspage.Handler, error) {
	p := &servePage{store: store, now: now}
	p.setTargets(nil)
	h, err := statuspage.New(statuspage.Options{Source: p, Actor: p, Token: token, Refresh: 30 * time.Second, Logger: log})
	if err != nil {
		return nil, nil, redeliver.Wrap(redeliver.EInternal, err, "status page")
	}
	return p, h, nil
}

func (p *servePage) setService(svc *serve.Service) { p.svc.Store(svc) }

// setTargets shows targets first, with their policies.
func (p *servePage) setTargets(targets []serve.Target) {
	conf := make([]statuspage.Configured, len(targets))
	for i, t := range targets {
		conf[i] = statuspage.Configured{Target: t.Target, Policy: t.Policy}
	}
	p.source.Store(&statuspage.StoreSource{Store: p.store, Configured: conf, Live: p.live, Now: p.now})
}

// Targets implements statuspage.Source.
func (p *servePage) Targets(ctx context.Context) ([]statuspage.TargetStatus, error) {
	return p.source.Load().Targets(ctx)
}

// Target implements statuspage.Source.
func (p *servePage) Target(ctx context.Context, key string) (statuspage.TargetStatus, iter.Seq2[statuspage.Event, error], error) {
	return p.source.Load().Target(ctx, key)
}

// live is what the service knows of the target now.
func (p *servePage) live(key string) statuspage.Live {
	svc := p.svc.Load()
	if svc == nil {
		return statuspage.Live{}
	}
	st := svc.Status()
	for _, t := range st.Targets {
		if t.Key != key {
			continue
		}
		l := statuspage.Live{LastPoll: t.LastSuccess, PollError: t.LastError,
			ReceiverSince: t.ReceiverSince, LastPing: t.LastPing, NextPing: t.NextPing}
		switch t.Receiver {
		case serve.HealthUp:
			l.Receiver = statuspage.HealthUp
		case serve.HealthDown:
			l.Receiver = statuspage.HealthDown
		}
		if t.LastReport != nil {
			l.Uncovered = t.LastReport.Uncovered
		}
		for _, b := range st.Budgets {
			if b.Credential == t.Credential && b.Limit > 0 && b.Remaining >= 0 {
				l.Budget = statuspage.Budget{Known: true, Remaining: int(b.Remaining), Limit: int(b.Limit), Reset: b.ResetAt}
			}
		}
		return l
	}
	return statuspage.Live{}
}

// policy is the configured policy of the target key; the default for a
// target only the state knows.
func (p *servePage) policy(key string) redeliver.Policy {
	for _, c := range p.source.Load().Configured {
		if c.Target.Key() == key {
			return c.Policy
		}
	}
	return redeliver.DefaultPolicy()
}

// Act implements statuspage.Actor: the action is applied between two
// polls of the target (the engine reads the ledger at a poll's start and
// writes it at its end), and the target is polled at once after it, so
// "redeliver now" is carried out now. A target the service does not watch
// (only the state knows it) is not polled: the action is applied directly.
func (p *servePage) Act(ctx context.Context, key, guid string, a redeliver.ManualAction, by string) (redeliver.LedgerEntry, error) {
	actor := &statuspage.StoreActor{Store: p.store, Policy: p.policy, Now: p.now}
	svc := p.svc.Load()
	if svc == nil {
		return actor.Act(ctx, key, guid, a, by)
	}
	var (
		e   redeliver.LedgerEntry
		ran bool
	)
	err := svc.Between(ctx, key, func(ctx context.Context) error {
		ran = true
		var err error
		e, err = actor.Act(ctx, key, guid, a, by)
		return err
	})
	if !ran && redeliver.ErrorCode(err) == redeliver.ENotFound {
		return actor.Act(ctx, key, guid, a, by)
	}
	return e, err
}
