// Package mock holds fakes of the root package's interfaces built from
// function fields, for the paths the real parts cannot reach on demand: a
// store failing mid-write, GitHub refusing the credentials half-way. Each
// fake wraps a real implementation and overrides only the calls a test sets.
package mock

import (
	"context"
	"time"

	"github.com/redeliver/redeliver"
)

// Source is a redeliver.Source whose ListAttemptsFn, when set, answers
// instead of the wrapped Source.
type Source struct {
	redeliver.Source
	ListAttemptsFn func(ctx context.Context, t redeliver.Target, cursor string) (redeliver.Page, error)
}

// ListAttempts calls ListAttemptsFn or the wrapped Source.
func (s *Source) ListAttempts(ctx context.Context, t redeliver.Target, cursor string) (redeliver.Page, error) {
	if s.ListAttemptsFn != nil {
		return s.ListAttemptsFn(ctx, t, cursor)
	}
	return s.Source.ListAttempts(ctx, t, cursor)
}

// Redeliverer is a redeliver.Redeliverer whose RedeliverFn, when set,
// answers instead of the wrapped Redeliverer.
type Redeliverer struct {
	redeliver.Redeliverer
	RedeliverFn func(ctx context.Context, t redeliver.Target, attemptID int64) (time.Time, error)
}

// Redeliver calls RedeliverFn or the wrapped Redeliverer.
func (r *Redeliverer) Redeliver(ctx context.Context, t redeliver.Target, attemptID int64) (time.Time, error) {
	if r.RedeliverFn != nil {
		return r.RedeliverFn(ctx, t, attemptID)
	}
	return r.Redeliverer.Redeliver(ctx, t, attemptID)
}

// Store is a redeliver.Store whose function fields, when set, answer
// instead of the wrapped Store; the others pass through.
type Store struct {
	redeliver.Store
	CheckpointFn    func(ctx context.Context, key string) (redeliver.Checkpoint, bool, error)
	SetCheckpointFn func(ctx context.Context, key string, cp redeliver.Checkpoint) error
	EntriesFn       func(ctx context.Context, key string) ([]redeliver.LedgerEntry, error)
	LookupFn        func(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error)
	OpenEntriesFn   func(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error)
	PutFn           func(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error
	PruneFn         func(ctx context.Context, key string, before time.Time) (int, error)
}

// Checkpoint calls CheckpointFn or the wrapped Store.
func (s *Store) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	if s.CheckpointFn != nil {
		return s.CheckpointFn(ctx, key)
	}
	return s.Store.Checkpoint(ctx, key)
}

// SetCheckpoint calls SetCheckpointFn or the wrapped Store.
func (s *Store) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	if s.SetCheckpointFn != nil {
		return s.SetCheckpointFn(ctx, key, cp)
	}
	return s.Store.SetCheckpoint(ctx, key, cp)
}

// Entries calls EntriesFn or the wrapped Store.
func (s *Store) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	if s.EntriesFn != nil {
		return s.EntriesFn(ctx, key)
	}
	return s.Store.Entries(ctx, key)
}

// Lookup calls LookupFn, or answers from EntriesFn when only that is set,
// or calls the wrapped Store.
func (s *Store) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	switch {
	case s.LookupFn != nil:
		return s.LookupFn(ctx, key, guids)
	case s.EntriesFn != nil:
		es, err := s.EntriesFn(ctx, key)
		if err != nil {
			return nil, err
		}
		return redeliver.LookupIn(es, guids), nil
	}
	return s.Store.Lookup(ctx, key, guids)
}

// OpenEntries calls OpenEntriesFn, or answers from EntriesFn when only
// that is set, or calls the wrapped Store.
func (s *Store) OpenEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	switch {
	case s.OpenEntriesFn != nil:
		return s.OpenEntriesFn(ctx, key, after, limit)
	case s.EntriesFn != nil:
		es, err := s.EntriesFn(ctx, key)
		if err != nil {
			return nil, err
		}
		return redeliver.OpenIn(es, after, limit), nil
	}
	return s.Store.OpenEntries(ctx, key, after, limit)
}

// EntriesAfter answers from EntriesFn when it is set, or calls the
// wrapped Store.
func (s *Store) EntriesAfter(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return fromEntries(ctx, s, key, func(es []redeliver.LedgerEntry) []redeliver.LedgerEntry { return redeliver.AfterIn(es, after, limit) },
		func() ([]redeliver.LedgerEntry, error) { return s.Store.EntriesAfter(ctx, key, after, limit) })
}

// Counts answers from EntriesFn when it is set, or calls the wrapped
// Store.
func (s *Store) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	return fromEntries(ctx, s, key, redeliver.CountIn,
		func() (map[redeliver.State]int, error) { return s.Store.Counts(ctx, key) })
}

// LostEntries answers from EntriesFn when it is set, or calls the wrapped
// Store.
func (s *Store) LostEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return fromEntries(ctx, s, key, func(es []redeliver.LedgerEntry) []redeliver.LedgerEntry { return redeliver.LostIn(es, after, limit) },
		func() ([]redeliver.LedgerEntry, error) { return s.Store.LostEntries(ctx, key, after, limit) })
}

// fromEntries answers a read from the whole ledger EntriesFn gives, when
// it is set, or calls wrapped.
func fromEntries[T any](ctx context.Context, s *Store, key string, from func([]redeliver.LedgerEntry) T, wrapped func() (T, error)) (T, error) {
	if s.EntriesFn == nil {
		return wrapped()
	}
	es, err := s.EntriesFn(ctx, key)
	if err != nil {
		var zero T
		return zero, err
	}
	return from(es), nil
}

// Put calls PutFn or the wrapped Store.
func (s *Store) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	if s.PutFn != nil {
		return s.PutFn(ctx, key, entries...)
	}
	return s.Store.Put(ctx, key, entries...)
}

// Prune calls PruneFn or the wrapped Store.
func (s *Store) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	if s.PruneFn != nil {
		return s.PruneFn(ctx, key, before)
	}
	return s.Store.Prune(ctx, key, before)
}
