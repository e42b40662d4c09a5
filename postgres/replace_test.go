package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/statuspage"
)

func openReplaceStore(t *testing.T) *postgres.Store {
	t.Helper()
	pgtest.Require(t)
	st, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// failedEntry is an event redelivered once, whose redelivery failed.
func failedEntry() redeliver.LedgerEntry {
	return redeliver.LedgerEntry{GUID: "g1", Event: "push", FirstSeen: t0.Add(-time.Hour), AttemptID: 7,
		AttemptAt: t0.Add(-time.Hour), Requests: 1, LastRequest: t0.Add(-30 * time.Minute),
		State: redeliver.StateFailed, Updated: t0.Add(-30 * time.Minute)}
}

// redelivered is e as the replica polling its target leaves it after
// redelivering it again: asked for, not yet shown.
func redelivered(e redeliver.LedgerEntry) redeliver.LedgerEntry {
	e.Requests++
	e.LastRequest, e.Updated, e.State = t0, t0, redeliver.StatePending
	return e
}

// Replace writes only over the entry as it was read.
func TestReplaceOnlyWhatWasRead(t *testing.T) {
	ctx := context.Background()
	st := openReplaceStore(t)
	read := failedEntry()
	if err := st.Put(ctx, key, read); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, key, redelivered(read)); err != nil { // another replica, meanwhile
		t.Fatal(err)
	}
	stale, err := redeliver.Apply(read, redeliver.ManualRedeliverNow, "someone", redeliver.DefaultPolicy(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Replace(ctx, key, read, stale); err != nil || ok {
		t.Fatalf("Replace over an entry written since it was read: ok %v, err %v; want false, nil", ok, err)
	}
	got, err := st.Lookup(ctx, key, []string{"g1"})
	if err != nil || len(got) != 1 || got[0].State != redeliver.StatePending || got[0].Force {
		t.Fatalf("after the refused Replace: %+v, %v; want the other replica's pending entry", got, err)
	}
	fresh := got[0]
	given, err := redeliver.Apply(fresh, redeliver.ManualGiveUp, "someone", redeliver.DefaultPolicy(), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Replace(ctx, key, fresh, given); err != nil || !ok {
		t.Fatalf("Replace over the entry as read: ok %v, err %v; want true, nil", ok, err)
	}
	if got, _ := st.Lookup(ctx, key, []string{"g1"}); len(got) != 1 || got[0].State != redeliver.StateExhausted {
		t.Fatalf("after Replace: %+v; want exhausted", got)
	}
}

// racingStore is the store as a status page on one replica sees it while
// another replica redelivers the event: the first read returns the entry
// as it was, and the other replica's write lands right after it.
type racingStore struct {
	*postgres.Store
	raced bool
}

func (r *racingStore) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	es, err := r.Store.Lookup(ctx, key, guids)
	if err == nil && !r.raced && len(es) == 1 {
		r.raced = true
		err = r.Store.Put(ctx, key, redelivered(es[0]))
	}
	return es, err
}

// A "redeliver now" read before another replica redelivered the event
// does not write the event back as failed and due (which redelivers it a
// second time): the action reads it again and is refused, as the event is
// pending. Before Replace, the stale copy overwrote the redelivery.
func TestActDoesNotUndoAnotherReplicasRedelivery(t *testing.T) {
	ctx := context.Background()
	st := openReplaceStore(t)
	if err := st.Put(ctx, key, failedEntry()); err != nil {
		t.Fatal(err)
	}
	actor := &statuspage.StoreActor{Store: &racingStore{Store: st}, Now: func() time.Time { return t0.Add(time.Second) }}
	_, err := actor.Act(ctx, key, "g1", redeliver.ManualRedeliverNow, "someone")
	if redeliver.ErrorCode(err) != redeliver.EConflict {
		t.Fatalf("Act: %v; want a conflict (the event is pending now)", err)
	}
	got, err := st.Lookup(ctx, key, []string{"g1"})
	if err != nil || len(got) != 1 || got[0].State != redeliver.StatePending || got[0].Force || got[0].Requests != 2 {
		t.Fatalf("the entry after the action: %+v, %v; want the other replica's redelivery kept (pending, 2 requests, not forced)", got, err)
	}
}
