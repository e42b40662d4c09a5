package ghfake

import (
	"context"
	"sync"
)

// asyncPool performs redeliveries in the background (Options.RedeliveryWorkers),
// as GitHub does after answering 202: the new attempt appears in the list
// once the receiver has been sent the payload. Enqueueing is O(1), whatever
// the backlog.
type asyncPool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	items   []queued // FIFO from head
	head    int
	pending int           // queued + in flight
	idle    chan struct{} // closed while pending == 0
	closed  bool
	wg      sync.WaitGroup
}

// startPool starts n workers.
func (s *Server) startPool(n int) {
	p := &asyncPool{idle: make(chan struct{})}
	close(p.idle)
	p.cond = sync.NewCond(&p.mu)
	s.pool = p
	for range n {
		p.wg.Add(1)
		go s.worker(p)
	}
}

func (p *asyncPool) push(q queued) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.items = append(p.items, q)
	p.pending++
	if p.pending == 1 {
		p.idle = make(chan struct{})
	}
	p.cond.Signal()
}

// pop waits for the next item; ok is false once the pool is closed.
func (p *asyncPool) pop() (q queued, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head == len(p.items) && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return q, false
	}
	q = p.items[p.head]
	p.items[p.head] = queued{}
	p.head++
	switch {
	case p.head == len(p.items):
		p.items, p.head = p.items[:0], 0
	case p.head >= 1024 && p.head*2 >= len(p.items):
		// Keep memory proportional to the backlog, in amortized O(1).
		n := copy(p.items, p.items[p.head:])
		clear(p.items[n:])
		p.items, p.head = p.items[:n], 0
	}
	return q, true
}

func (p *asyncPool) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending--
	if p.pending == 0 {
		close(p.idle)
	}
}

func (p *asyncPool) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (s *Server) worker(p *asyncPool) {
	defer p.wg.Done()
	for {
		q, ok := p.pop()
		if !ok {
			return
		}
		if q.do != nil {
			q.do()
		} else {
			s.performRedelivery(q)
		}
		p.done()
	}
}

// WaitIdle blocks until every redelivery accepted so far has been performed
// and recorded by the background workers (Options.RedeliveryWorkers), or
// ctx ends. Redeliveries queued under DeferRedeliveries wait for
// ProcessRedeliveries instead; without workers WaitIdle returns at once.
func (s *Server) WaitIdle(ctx context.Context) error {
	if s.pool == nil {
		return nil
	}
	s.pool.mu.Lock()
	idle := s.pool.idle
	s.pool.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Quiesce is WaitIdle without a deadline.
func (s *Server) Quiesce() { _ = s.WaitIdle(context.Background()) }
