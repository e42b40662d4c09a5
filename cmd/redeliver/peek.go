package main

import (
	"context"
	"sync"

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
