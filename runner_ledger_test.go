package redeliver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// lookupOnly is the SQLite store with its whole-ledger read forbidden: a
// run must look up only what it lists, a page at a time.
type lookupOnly struct {
	redeliver.Store
	t       *testing.T
	lookups int
	most    int
}

func (s *lookupOnly) Entries(context.Context, string) ([]redeliver.LedgerEntry, error) {
	s.t.Error("the run read the whole ledger")
	return nil, nil
}

func (s *lookupOnly) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	s.lookups++
	s.most = max(s.most, len(guids))
	return s.Store.Lookup(ctx, key, guids)
}

// A ledger larger than one batch of open entries, most of them behind the
// checkpoint: the run decides each open one exactly once, whether the
// listing shows it or not, without ever reading the ledger whole.
func TestRunnerReadsTheLedgerInParts(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	ctx := context.Background()
	p := redeliver.DefaultPolicy()
	key := f.target.Key()

	// 2,500 open entries waiting for their next attempt (asked for a
	// minute ago), 500 closed ones, and 3 guids the listing shows: one
	// the ledger has open, one it has recovered, one new.
	var es []redeliver.LedgerEntry
	for i := range 3000 {
		e := redeliver.LedgerEntry{GUID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), Event: "issues",
			AttemptID: int64(1000 + i), AttemptAt: t0.Add(-5 * time.Hour), FirstSeen: t0.Add(-5 * time.Hour),
			Requests: 1, Seen: 1, LastRequest: t0.Add(-time.Minute), State: redeliver.StateFailed, Updated: t0.Add(-time.Minute)}
		if i >= 2500 {
			e.State = redeliver.StateRecovered
		}
		es = append(es, e)
	}
	if err := f.store.Put(ctx, key, es...); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: t0.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{
		{GUID: es[7].GUID, At: t0.Add(-30 * time.Minute), StatusCode: 200, Redelivery: true},
		{GUID: es[2600].GUID, At: t0.Add(-20 * time.Minute), StatusCode: 503},
		{GUID: "new-guid", At: t0.Add(-10 * time.Minute), StatusCode: 200},
	})

	st := &lookupOnly{Store: f.store, t: t}
	rep := f.run(t, p, func(r *redeliver.Runner) { r.Store = st })
	if rep.Waiting != 2499 || rep.Recovered != 1 || rep.Redelivered != 0 {
		t.Errorf("waiting %d recovered %d redelivered %d; want 2499, 1, 0", rep.Waiting, rep.Recovered, rep.Redelivered)
	}
	if st.lookups == 0 || st.most > 100 {
		t.Errorf("%d lookups of at most %d guids; want one per page of at most 100", st.lookups, st.most)
	}
	if e := f.entry(t, es[7].GUID); e.State != redeliver.StateRecovered {
		t.Errorf("the guid the listing showed delivered: %s, want recovered", e.State)
	}
}
