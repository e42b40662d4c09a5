package redeliver

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// Pacer spaces mutating requests. Its default is GitHub's best practice:
// one at a time, at least a second apart (FACTS.md §9). When GitHub or the
// receiver pushes back, Slow halves the pace for the rest of the run.
type Pacer struct {
	mu  sync.Mutex
	lim *rate.Limiter
}

// NewPacer allows perSecond requests a second (≤ 0: unlimited).
func NewPacer(perSecond float64) *Pacer {
	l := rate.Limit(perSecond)
	if perSecond <= 0 {
		l = rate.Inf
	}
	return &Pacer{lim: rate.NewLimiter(l, 1)}
}

// Wait blocks until the next request may go.
func (p *Pacer) Wait(ctx context.Context) error { return p.lim.Wait(ctx) }

// Slow halves the pace; an unlimited pacer drops to 10 a second.
func (p *Pacer) Slow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lim.Limit()
	if l == rate.Inf {
		p.lim.SetLimit(10)
		return
	}
	p.lim.SetLimit(l / 2)
}

// Rate is the current pace in requests a second (0: unlimited).
func (p *Pacer) Rate() float64 {
	if l := p.lim.Limit(); l != rate.Inf {
		return float64(l)
	}
	return 0
}
