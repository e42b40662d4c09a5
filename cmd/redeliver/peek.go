package main

import (
	"context"
	"sync"
	"time"

	"github.com/redeliver/redeliver"
)

// peekedSource hands the Runner the first page of a hook's deliveries that
// the run asked for before it began, so no page is asked for twice. That
// first answer is what shows the credentials work, the hook is there and
// whether GitHub limits rates: checks that would otherwise cost calls of
// their own (GET /rate_limit, the org's hook list) on every run.
type peekedSource struct {
	redeliver.Source
	mu    sync.Mutex
	pages map[string]redeliver.Page
}

// peek lists t's first page and keeps it for the Runner.
func (p *peekedSource) peek(ctx context.Context, t redeliver.Target) error {
	pg, err := p.Source.ListAttempts(ctx, t, "")
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pages == nil {
		p.pages = map[string]redeliver.Page{}
	}
	p.pages[t.Key()] = pg
	return nil
}

// ListAttempts serves a kept first page once, and asks GitHub for the rest.
func (p *peekedSource) ListAttempts(ctx context.Context, t redeliver.Target, cursor string) (redeliver.Page, error) {
	if cursor == "" {
		p.mu.Lock()
		pg, ok := p.pages[t.Key()]
		delete(p.pages, t.Key())
		p.mu.Unlock()
		if ok {
			return pg, nil
		}
	}
	return p.Source.ListAttempts(ctx, t, cursor)
}

// forget drops the kept pages: the Runner asks GitHub again.
func (p *peekedSource) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages = nil
}

// size guesses how many attempts a target's listing will go through, from
// its kept first page: the page's pace over a day when more pages follow,
// the page alone when none does; -1 without a kept page. Only an order is
// made of it: the biggest targets begin first, so that a config's largest
// hook is not left to last (longest first is the classic rule for
// finishing a set of jobs soonest on a few workers).
func (p *peekedSource) size(key string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	pg, ok := p.pages[key]
	switch {
	case !ok:
		return -1
	case pg.Next == "" || len(pg.Attempts) == 0:
		return float64(len(pg.Attempts))
	}
	span := max(pg.ServerTime.Sub(pg.Attempts[len(pg.Attempts)-1].DeliveredAt), time.Second)
	return max(float64(len(pg.Attempts))*float64(24*time.Hour)/float64(span), float64(len(pg.Attempts)+1))
}
