package redeliver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// putRecorder is a Store whose Put records each call's entries, and holds
// the first one until released so that others queue up behind it.
type putRecorder struct {
	Store
	mu      sync.Mutex
	calls   [][]string
	durable map[string]bool
	hold    chan struct{}
	fail    error
}

func (s *putRecorder) Put(_ context.Context, _ string, es ...LedgerEntry) error {
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var gs []string
	for _, e := range es {
		gs = append(gs, e.GUID)
		if s.fail == nil {
			s.durable[e.GUID] = true
		}
	}
	s.calls = append(s.calls, gs)
	return s.fail
}

// Writes that arrive while one commits go out together in the next, and
// each put returns only once its own entry is written.
func TestGroupWriterCommitsTogether(t *testing.T) {
	st := &putRecorder{durable: map[string]bool{}, hold: make(chan struct{})}
	w := &groupWriter{st: st, key: "k"}
	ctx := context.Background()
	first := make(chan error)
	go func() { first <- w.put(ctx, LedgerEntry{GUID: "g0"}) }()
	// g0's commit is held: the others wait behind it, in one group.
	for !w.isBusy() {
	}
	var wg sync.WaitGroup
	const n = 20
	for i := 1; i <= n; i++ {
		g := fmt.Sprint("g", i)
		wg.Go(func() {
			if err := w.put(ctx, LedgerEntry{GUID: g}); err != nil {
				t.Error(err)
			}
			st.mu.Lock()
			ok := st.durable[g]
			st.mu.Unlock()
			if !ok {
				t.Errorf("put of %s returned before it was written", g)
			}
		})
	}
	for w.waiting() < n {
	}
	close(st.hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(st.calls) != 2 || len(st.calls[1]) != n {
		t.Errorf("commits %v; want g0 alone, then the %d others together", st.calls, n)
	}
}

// A failed commit fails every put in it.
func TestGroupWriterTellsEveryoneTheError(t *testing.T) {
	boom := errors.New("disk full")
	st := &putRecorder{durable: map[string]bool{}, fail: boom}
	w := &groupWriter{st: st, key: "k"}
	if err := w.put(context.Background(), LedgerEntry{GUID: "g"}); !errors.Is(err, boom) {
		t.Fatalf("put = %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.put(ctx, LedgerEntry{GUID: "h"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("put after cancel = %v", err)
	}
}

func (w *groupWriter) isBusy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.busy
}

func (w *groupWriter) waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}
