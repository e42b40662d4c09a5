package redeliver

import (
	"context"
	"slices"
	"strings"
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

	LedgerLookup
}

// LedgerLookup reads a target's ledger a part at a time, so that a run's
// memory does not grow with the ledger: a run asks for the guids of each
// page it lists, then walks the open entries in batches.
type LedgerLookup interface {
	// Lookup returns the target's entries among guids, in guid order;
	// guids the ledger does not hold are left out.
	Lookup(ctx context.Context, key string, guids []string) ([]LedgerEntry, error)
	// OpenEntries returns up to limit open entries (failed or pending) of
	// the target whose guid sorts after after, in the store's own guid
	// order: the last guid of one batch, passed as after, gives the next.
	OpenEntries(ctx context.Context, key, after string, limit int) ([]LedgerEntry, error)
	// LostEntries is OpenEntries for the entries lost for good (exhausted
	// or expired), which alerts tell about.
	LostEntries(ctx context.Context, key, after string, limit int) ([]LedgerEntry, error)
	// EntriesAfter is OpenEntries for entries in any state: the whole
	// ledger a batch at a time, as the status page shows it.
	EntriesAfter(ctx context.Context, key, after string, limit int) ([]LedgerEntry, error)
	// Counts returns how many entries the target has in each state (a
	// state with none may be left out).
	Counts(ctx context.Context, key string) (map[State]int, error)
}

// Replacer is a Store shared by several processes that can replace an
// entry only if it is still as the caller read it. A status-page action on
// one replica must not write back a copy read before the replica polling
// the target recorded a redelivery: the event would look due again and be
// redelivered twice. A store that one process holds alone does not need it
// (the process serializes actions with its own polls).
type Replacer interface {
	// Replace writes next for target key in place of prev if the stored
	// entry of prev.GUID is still as prev was read (its update time, and
	// what a redelivery changes); it reports whether it wrote.
	Replace(ctx context.Context, key string, prev, next LedgerEntry) (bool, error)
}

// BatchRead is one of LedgerLookup's batch reads: OpenEntries, LostEntries
// or EntriesAfter.
type BatchRead func(ctx context.Context, key, after string, limit int) ([]LedgerEntry, error)

// EachBatch calls fn with each batch that read gives of target key's
// entries, limit at a time, each after the last guid of the one before,
// until a batch comes short; it returns the first error of read or fn.
func EachBatch(ctx context.Context, read BatchRead, key string, limit int, fn func([]LedgerEntry) error) error {
	for after := ""; ; {
		es, err := read(ctx, key, after, limit)
		if err != nil {
			return err
		}
		if err := fn(es); err != nil {
			return err
		}
		if len(es) < limit {
			return nil
		}
		after = es[len(es)-1].GUID
	}
}

// LookupIn answers LedgerLookup's Lookup from a whole ledger, for stores
// that hold theirs in memory.
func LookupIn(entries []LedgerEntry, guids []string) []LedgerEntry {
	want := make(map[string]bool, len(guids))
	for _, g := range guids {
		want[g] = true
	}
	var out []LedgerEntry
	for _, e := range entries {
		if want[e.GUID] {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b LedgerEntry) int { return strings.Compare(a.GUID, b.GUID) })
	return out
}

// OpenIn answers LedgerLookup's OpenEntries from a whole ledger.
func OpenIn(entries []LedgerEntry, after string, limit int) []LedgerEntry {
	return batchIn(entries, State.Open, after, limit)
}

// LostIn answers LedgerLookup's LostEntries from a whole ledger.
func LostIn(entries []LedgerEntry, after string, limit int) []LedgerEntry {
	return batchIn(entries, State.Lost, after, limit)
}

// AfterIn answers LedgerLookup's EntriesAfter from a whole ledger.
func AfterIn(entries []LedgerEntry, after string, limit int) []LedgerEntry {
	return batchIn(entries, func(State) bool { return true }, after, limit)
}

// CountIn answers LedgerLookup's Counts from a whole ledger.
func CountIn(entries []LedgerEntry) map[State]int {
	counts := map[State]int{}
	for _, e := range entries {
		counts[e.State]++
	}
	return counts
}

// batchIn is the batch of entries in the states keep takes after the guid
// after, in guid order.
func batchIn(entries []LedgerEntry, keep func(State) bool, after string, limit int) []LedgerEntry {
	var out []LedgerEntry
	for _, e := range entries {
		if keep(e.State) && e.GUID > after {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b LedgerEntry) int { return strings.Compare(a.GUID, b.GUID) })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
