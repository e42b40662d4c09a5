package statuspage

import (
	"sync"

	"github.com/redeliver/redeliver"
)

// LiveBoard holds what a running process knows of each target, for
// StoreSource.Live: the loop of each target writes its part, the page reads
// a copy. The zero value is ready to use and safe for concurrent use.
type LiveBoard struct {
	mu sync.Mutex
	m  map[string]Live
}

// Update changes the target's live state with f, under the board's lock.
func (b *LiveBoard) Update(key string, f func(*Live)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]Live{}
	}
	l := b.m[key]
	f(&l)
	b.m[key] = l
}

// Get returns a copy of the target's live state (the zero Live when unknown).
func (b *LiveBoard) Get(key string) Live {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.m[key]
	l.Uncovered = append([]redeliver.Span(nil), l.Uncovered...)
	return l
}
