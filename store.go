package redeliver

import (
	"context"
	"time"
)

// Checkpoint is how far back a target's attempts have been examined.
type Checkpoint struct {
	// Time: every attempt GitHub listed with delivered_at at or after Time
	// has been folded into the ledger. It is GitHub's clock, never ours.
	Time time.Time
	// RunAt is GitHub's clock when the run that wrote it listed the first page.
	RunAt time.Time
}

// Store keeps per-target checkpoints and the per-guid ledger between runs.
// Implementations: sqlite (the default) and actionsvar (the docs script's
// repository variable). Keys are Target.Key().
type Store interface {
	// Lock takes the store's exclusive run lock, waiting up to wait. It
	// returns an EConflict error naming the holder when the wait runs out.
	Lock(ctx context.Context, wait time.Duration) (unlock func() error, err error)
	// Checkpoint returns the target's checkpoint; ok is false on its first run.
	Checkpoint(ctx context.Context, key string) (cp Checkpoint, ok bool, err error)
	// SetCheckpoint records the target's new checkpoint.
	SetCheckpoint(ctx context.Context, key string, cp Checkpoint) error
	// Entries returns every ledger entry of the target.
	Entries(ctx context.Context, key string) ([]LedgerEntry, error)
	// Put writes entries (insert or replace by guid) in one transaction:
	// when it returns nil they survive a crash.
	Put(ctx context.Context, key string, entries ...LedgerEntry) error
	// Prune forgets the target's closed entries whose newest attempt is
	// older than before: GitHub can no longer redeliver them anyway.
	Prune(ctx context.Context, key string, before time.Time) (int, error)
	// Targets lists the keys the store knows.
	Targets(ctx context.Context) ([]string, error)
	// Close releases the store.
	Close() error
}
