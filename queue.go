package redeliver

import (
	"cmp"
	"slices"
)

// Queue holds one run's due redeliveries, one per guid, until they are
// sent in fair order (see Order). A run with a large backlog spills it to
// disk (Runner.Spill) so that memory stays flat whatever its size.
type Queue interface {
	// Push adds entries, replacing any with the same guid.
	Push(entries ...LedgerEntry) error
	// Len is how many guids the queue holds.
	Len() int
	// Each calls fn with every entry in fair order until fn returns an error.
	Each(fn func(LedgerEntry) error) error
	// Close releases what the queue holds (a spill file).
	Close() error
}

// fairer is the fair order: what a person asked for first (a status page's
// "redeliver now"), then never-requested, then the least recently
// requested; among equals the oldest first, as it is closest to the horizon.
func fairer(a, b LedgerEntry) int {
	if a.Force != b.Force {
		if a.Force {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(min(a.Used(), 1), min(b.Used(), 1)); c != 0 {
		return c
	}
	if c := a.LastRequest.Compare(b.LastRequest); c != 0 {
		return c
	}
	if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
		return c
	}
	return cmp.Compare(a.GUID, b.GUID)
}

// DefaultSpillAt is how many due guids a run keeps in memory before it
// moves them to a spill queue: under a MiB. More would only make the
// heap's peak higher, as the collector lets the heap grow to twice what is
// live; the disk queue costs little beside the requests it holds.
const DefaultSpillAt = 2000

// memQueue keeps the queue in memory, and moves it into a spill queue made
// by spill once it holds more than spillAt guids.
type memQueue struct {
	entries []LedgerEntry
	index   map[string]int
	spillAt int
	spill   func() (Queue, error)
	disk    Queue
	pending []LedgerEntry // for disk, written in batches
}

// spillBatch is how many entries one write to the spill queue takes.
const spillBatch = 1000

// flush writes the pending entries to the spill queue.
func (q *memQueue) flush() error {
	if len(q.pending) == 0 {
		return nil
	}
	if err := q.disk.Push(q.pending...); err != nil {
		return err // kept: Each tries again and reports it
	}
	q.pending = q.pending[:0]
	return nil
}

func newMemQueue(spillAt int, spill func() (Queue, error)) *memQueue {
	if spillAt <= 0 {
		spillAt = DefaultSpillAt
	}
	return &memQueue{index: map[string]int{}, spillAt: spillAt, spill: spill}
}

func (q *memQueue) Push(entries ...LedgerEntry) error {
	if q.disk != nil {
		q.pending = append(q.pending, entries...)
		if len(q.pending) >= spillBatch {
			return q.flush()
		}
		return nil
	}
	for _, e := range entries {
		if i, ok := q.index[e.GUID]; ok {
			q.entries[i] = e
			continue
		}
		q.index[e.GUID] = len(q.entries)
		q.entries = append(q.entries, e)
	}
	if q.spill == nil || len(q.entries) <= q.spillAt {
		return nil
	}
	disk, err := q.spill()
	if err != nil {
		return err
	}
	for es := range slices.Chunk(q.entries, spillBatch) {
		if err := disk.Push(es...); err != nil {
			disk.Close()
			return err
		}
	}
	q.disk, q.entries, q.index = disk, nil, nil
	return nil
}

func (q *memQueue) Len() int {
	if q.disk != nil {
		if q.flush() != nil {
			return q.disk.Len() + len(q.pending) // an upper bound; Each reports the error
		}
		return q.disk.Len()
	}
	return len(q.entries)
}

func (q *memQueue) Each(fn func(LedgerEntry) error) error {
	if q.disk != nil {
		if err := q.flush(); err != nil {
			return err
		}
		return q.disk.Each(fn)
	}
	slices.SortFunc(q.entries, fairer)
	for i, e := range q.entries {
		q.index[e.GUID] = i
	}
	for _, e := range q.entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (q *memQueue) Close() error {
	q.entries, q.index = nil, nil
	if q.disk != nil {
		return q.disk.Close()
	}
	return nil
}
