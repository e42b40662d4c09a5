package main

import (
	"context"
	"time"

	"github.com/redeliver/redeliver"
)

// emptyStore stands for a state file that does not exist yet, in a dry run
// or `status`, which must not create it. Writing to it is a bug.
type emptyStore struct{}

func (emptyStore) Lock(context.Context, time.Duration) (func() error, error) {
	return func() error { return nil }, nil
}
func (emptyStore) Checkpoint(context.Context, string) (redeliver.Checkpoint, bool, error) {
	return redeliver.Checkpoint{}, false, nil
}
func (emptyStore) SetCheckpoint(context.Context, string, redeliver.Checkpoint) error {
	return redeliver.Errorf(redeliver.EInternal, "read-only state")
}
func (emptyStore) Entries(context.Context, string) ([]redeliver.LedgerEntry, error) { return nil, nil }
func (emptyStore) Lookup(context.Context, string, []string) ([]redeliver.LedgerEntry, error) {
	return nil, nil
}
func (emptyStore) OpenEntries(context.Context, string, string, int) ([]redeliver.LedgerEntry, error) {
	return nil, nil
}
func (emptyStore) LostEntries(context.Context, string, string, int) ([]redeliver.LedgerEntry, error) {
	return nil, nil
}
func (emptyStore) EntriesAfter(context.Context, string, string, int) ([]redeliver.LedgerEntry, error) {
	return nil, nil
}
func (emptyStore) Counts(context.Context, string) (map[redeliver.State]int, error) {
	return map[redeliver.State]int{}, nil
}
func (emptyStore) Put(context.Context, string, ...redeliver.LedgerEntry) error {
	return redeliver.Errorf(redeliver.EInternal, "read-only state")
}
func (emptyStore) Prune(context.Context, string, time.Time) (int, error) { return 0, nil }
func (emptyStore) Targets(context.Context) ([]string, error)             { return nil, nil }
func (emptyStore) Close() error                                          { return nil }
