package sqlite_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// The disk queue gives entries back in the Planner's fair order, one per
// guid, and leaves no file behind.
func TestQueueOrderAndReplace(t *testing.T) {
	dir := t.TempDir()
	q, err := sqlite.NewQueue(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var in []redeliver.LedgerEntry
	for i := range 50 {
		e := redeliver.LedgerEntry{GUID: fmt.Sprintf("g%02d", i), AttemptID: int64(i), FirstSeen: t0.Add(-time.Duration(i%7) * time.Minute), State: redeliver.StateFailed}
		e.Force = i == 17 // a person's "redeliver now": first
		if i%3 == 0 {
			e.Requests, e.LastRequest = 1, t0.Add(time.Duration(i%5)*time.Second)
		}
		in = append(in, e)
	}
	if err := q.Push(in[:30]...); err != nil {
		t.Fatal(err)
	}
	if err := q.Push(in[20:]...); err != nil { // 20–29 again: replaced, not added
		t.Fatal(err)
	}
	if q.Len() != 50 {
		t.Fatalf("Len = %d, want 50", q.Len())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left in the queue's directory: %v", ents)
	}
	var got []string
	if err := q.Each(func(e redeliver.LedgerEntry) error { got = append(got, e.GUID); return nil }); err != nil {
		t.Fatal(err)
	}
	// The in-memory order (Order) is the reference.
	var ds []*redeliver.Decision
	for _, e := range in {
		ds = append(ds, &redeliver.Decision{Verdict: redeliver.VerdictRedeliver, Entry: e})
	}
	var want []string
	for _, d := range redeliver.Order(ds, 0) {
		want = append(want, d.Entry.GUID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}
