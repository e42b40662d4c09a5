// Package storetest holds the contract every redeliver.Store keeps, as
// test functions that each store's own tests run against real storage
// (a SQLite file, a PostgreSQL schema): what the engine relies on, stated
// once.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// NewState makes a fresh, empty state for one test and returns a function
// that opens a store on it. Every store it opens shares that state (two
// opens are two processes' views) and is closed when the test ends.
type NewState func(t testing.TB) (open func(t testing.TB) redeliver.Store)

// Run runs every contract test as a subtest.
func Run(t *testing.T, newState NewState) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, NewState)
	}{
		{"RoundTrip", RoundTrip},
		{"ManualFields", ManualFields},
		{"NormalizesToUTC", NormalizesToUTC},
		{"PutRejects", PutRejects},
		{"Upsert", Upsert},
		{"Lookup", Lookup},
		{"ConcurrentUse", ConcurrentUse},
		{"Prune", Prune},
		{"Checkpoint", Checkpoint},
		{"Targets", Targets},
		{"SharedState", SharedState},
		{"Lock", Lock},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newState) })
	}
}

// BigID is a real attempt id: above 2^53, where a float64 loses digits.
const BigID int64 = 3804004623172239366

// Entry is a failed ledger entry with every field set.
func Entry(guid string) redeliver.LedgerEntry {
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	return redeliver.LedgerEntry{
		GUID:        guid,
		Event:       "issues",
		Action:      "opened",
		FirstSeen:   at.Add(-time.Hour),
		AttemptID:   BigID,
		AttemptAt:   at,
		Requests:    2,
		LastRequest: at.Add(time.Minute),
		IntentAt:    at.Add(2 * time.Minute),
		Seen:        3,
		SeenMark:    BigID + 7,
		State:       redeliver.StateFailed,
		Updated:     at.Add(3 * time.Minute),
		Granted:     1,
		Force:       true,
		Manual:      redeliver.ManualRetry,
		ManualBy:    "Zoë Ops",
		ManualAt:    at.Add(4 * time.Minute),
	}
}

func one(t *testing.T, newState NewState) redeliver.Store { return newState(t)(t) }

func entries(t testing.TB, s redeliver.Store, key string) []redeliver.LedgerEntry {
	t.Helper()
	es, err := s.Entries(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// RoundTrip: every field comes back exactly, the zero time stays zero,
// instants around the epoch and the ends of the range do not drift, ids
// above 2^53 keep every digit, and targets do not see each other's entries.
func RoundTrip(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	full := Entry("full")
	zero := redeliver.LedgerEntry{GUID: "zero", State: redeliver.StatePending} // every time zero
	maxed := Entry("max")
	maxed.AttemptID, maxed.SeenMark = 1<<63-1, -1<<63
	maxed.Requests, maxed.Seen, maxed.Granted = 1<<40, 1<<40+1, 1<<40+2
	edges := Entry("edges")
	edges.FirstSeen = time.Unix(0, 0).UTC()
	edges.AttemptAt = time.Unix(-1, 999999999).UTC()
	edges.LastRequest = time.Date(1678, 1, 1, 0, 0, 0, 1, time.UTC)
	edges.Updated = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	edges.ManualAt = time.Unix(0, 1).UTC()
	if err := s.Put(ctx, "repo/acme/api/hooks/1", full, zero, maxed, edges); err != nil {
		t.Fatal(err)
	}
	got := entries(t, s, "repo/acme/api/hooks/1")
	want := []redeliver.LedgerEntry{edges, full, maxed, zero} // by guid
	if !slices.Equal(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if got[1].AttemptID != 3804004623172239366 {
		t.Errorf("attempt id = %d", got[1].AttemptID)
	}
	if got[3].FirstSeen != (time.Time{}) || got[3].ManualAt != (time.Time{}) {
		t.Errorf("zero time came back as %v, %v", got[3].FirstSeen, got[3].ManualAt)
	}
	if other := entries(t, s, "org/acme/hooks/2"); len(other) != 0 {
		t.Errorf("another target sees %d entries", len(other))
	}
}

// ManualFields: what a person asked for (Granted, Force, Manual, ManualBy,
// ManualAt) comes back exactly, set or not, and a Put that clears it
// (the engine's next request clears Force) clears it in the store too.
func ManualFields(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	at := time.Date(2025, 3, 4, 5, 7, 0, 42, time.UTC)
	acted := Entry("acted") // every manual field set
	none := Entry("none")
	none.Granted, none.Force, none.Manual, none.ManualBy, none.ManualAt = 0, false, "", "", time.Time{}
	givenUp := Entry("given-up") // an action by nobody named, not forced
	givenUp.State, givenUp.Granted, givenUp.Force = redeliver.StateExhausted, 0, false
	givenUp.Manual, givenUp.ManualBy, givenUp.ManualAt = redeliver.ManualGiveUp, "", at
	now := Entry("now") // forced, nothing granted
	now.Granted, now.Manual, now.ManualBy, now.ManualAt = 0, redeliver.ManualRedeliverNow, "ann", at.Add(time.Nanosecond)
	if err := s.Put(ctx, "k", acted, none, givenUp, now); err != nil {
		t.Fatal(err)
	}
	want := []redeliver.LedgerEntry{acted, givenUp, none, now} // by guid
	if got := entries(t, s, "k"); !slices.Equal(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// The engine's request clears Force; the record of the action stays.
	sent := acted
	sent.Force, sent.Requests = false, acted.Requests+1
	cleared := now
	cleared.Granted, cleared.Force, cleared.Manual, cleared.ManualBy, cleared.ManualAt = 0, false, "", "", time.Time{}
	if err := s.Put(ctx, "k", sent, cleared); err != nil {
		t.Fatal(err)
	}
	want = []redeliver.LedgerEntry{sent, givenUp, none, cleared}
	if got := entries(t, s, "k"); !slices.Equal(got, want) {
		t.Fatalf("after clearing:\n got %+v\nwant %+v", got, want)
	}
}

// NormalizesToUTC: times in other zones, or with a monotonic reading, come
// back as the same instant in UTC, == with t.UTC().Round(0).
func NormalizesToUTC(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	e := Entry("g")
	e.AttemptAt = time.Now() // monotonic reading
	e.FirstSeen = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -7*3600))
	e.ManualAt = time.Date(2025, 1, 2, 3, 4, 5, 7, time.FixedZone("Y", 5*3600+1800))
	if err := s.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	want := e
	want.AttemptAt, want.FirstSeen, want.ManualAt = e.AttemptAt.Round(0).UTC(), e.FirstSeen.UTC(), e.ManualAt.UTC()
	if got := entries(t, s, "k"); len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// PutRejects: an entry the store cannot keep faithfully is an EInvalid
// error, and nothing of that Put is written; an empty key is refused; an
// empty Put is fine.
func PutRejects(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	far := Entry("far")
	far.AttemptAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := Entry("bad")
	bad.State = "lost"
	farManual := Entry("far-manual")
	farManual.ManualAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, e := range map[string]redeliver.LedgerEntry{
		"no guid": {State: redeliver.StateFailed}, "bad state": bad, "year 3000": far,
		"manual action in year 3000": farManual,
	} {
		err := s.Put(ctx, "k", Entry("good"), e)
		if redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("%s: err = %v, want EInvalid", name, err)
		}
	}
	if err := s.Put(ctx, "", Entry("g")); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("empty key: err = %v", err)
	}
	if err := s.SetCheckpoint(ctx, "k", redeliver.Checkpoint{Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("checkpoint in year 3000: err = %v", err)
	}
	if got := entries(t, s, "k"); len(got) != 0 {
		t.Errorf("a refused Put wrote %d entries", len(got))
	}
	if _, ok, _ := s.Checkpoint(ctx, "k"); ok {
		t.Error("a refused SetCheckpoint wrote a checkpoint")
	}
	if err := s.Put(ctx, "k"); err != nil {
		t.Errorf("empty Put: %v", err)
	}
}

// Upsert: Put replaces an entry with the same guid and keeps the others;
// within one Put, the last entry of a guid stands.
func Upsert(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	e := Entry("g1")
	if err := s.Put(ctx, "k", e, Entry("g2")); err != nil {
		t.Fatal(err)
	}
	e.State, e.Requests, e.IntentAt = redeliver.StatePending, 3, time.Time{}
	if err := s.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	got := entries(t, s, "k")
	if len(got) != 2 || got[0] != e || got[1] != Entry("g2") {
		t.Fatalf("after upsert: %+v", got)
	}
	// The same guid twice in one Put: the last one stands.
	later := e
	later.State, later.Requests = redeliver.StateRecovered, 4
	if err := s.Put(ctx, "k", e, later); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, s, "k"); len(got) != 2 || got[0] != later {
		t.Fatalf("after a Put with one guid twice: %+v", got)
	}
}

// ConcurrentUse: the store is safe for concurrent use, and nothing is lost.
func ConcurrentUse(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	const workers, puts = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*puts*3)
	for w := range workers {
		wg.Go(func() {
			for i := range puts {
				if err := s.Put(ctx, "k", Entry(fmt.Sprintf("w%02d-%03d", w, i))); err != nil {
					errs <- err
				}
				if _, err := s.Entries(ctx, "k"); err != nil {
					errs <- err
				}
				cp := redeliver.Checkpoint{Time: time.Unix(int64(i), 0).UTC()}
				if err := s.SetCheckpoint(ctx, fmt.Sprintf("t%d", w), cp); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(entries(t, s, "k")); n != workers*puts {
		t.Fatalf("%d entries, want %d", n, workers*puts)
	}
	keys, err := s.Targets(ctx)
	if err != nil || len(keys) != workers+1 {
		t.Fatalf("targets = %v, %v", keys, err)
	}
}

// Prune: only closed entries older than the bound go, only of that target;
// the zero bound prunes nothing, a far one every closed entry.
func Prune(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	cut := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(guid string, st redeliver.State, at time.Time) redeliver.LedgerEntry {
		e := Entry(guid)
		e.State, e.AttemptAt = st, at
		return e
	}
	old, recent := cut.Add(-time.Nanosecond), cut
	es := []redeliver.LedgerEntry{
		mk("old-recovered", redeliver.StateRecovered, old),
		mk("old-exhausted", redeliver.StateExhausted, old),
		mk("old-expired", redeliver.StateExpired, old),
		mk("nil-expired", redeliver.StateExpired, time.Time{}), // older than anything
		mk("old-failed", redeliver.StateFailed, old),           // open: kept
		mk("old-pending", redeliver.StatePending, old),         // open: kept
		mk("new-recovered", redeliver.StateRecovered, recent),  // not older than cut
	}
	if err := s.Put(ctx, "a", es...); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b", es...); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, "a", cut)
	if err != nil || n != 4 {
		t.Fatalf("Prune = %d, %v; want 4", n, err)
	}
	var left []string
	for _, e := range entries(t, s, "a") {
		left = append(left, e.GUID)
	}
	if want := []string{"new-recovered", "old-failed", "old-pending"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if n := len(entries(t, s, "b")); n != len(es) {
		t.Errorf("Prune of a touched b: %d left", n)
	}
	if n, err := s.Prune(ctx, "b", time.Time{}); n != 0 || err != nil {
		t.Errorf("Prune(zero) = %d, %v", n, err)
	}
	if n, err := s.Prune(ctx, "b", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); n != 5 || err != nil {
		t.Errorf("Prune(far future) = %d, %v; want every closed entry (5)", n, err)
	}
}

// Checkpoint: none on the first run; then what was set, exactly.
func Checkpoint(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	if _, ok, err := s.Checkpoint(ctx, "k"); ok || err != nil {
		t.Fatalf("first run: ok=%v err=%v", ok, err)
	}
	for _, cp := range []redeliver.Checkpoint{
		{Time: time.Date(2025, 1, 1, 0, 0, 0, 1, time.UTC), RunAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)},
		{Time: time.Unix(0, 0).UTC()}, // zero RunAt, epoch Time
	} {
		if err := s.SetCheckpoint(ctx, "k", cp); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Checkpoint(ctx, "k")
		if !ok || err != nil || got != cp {
			t.Fatalf("Checkpoint = %+v, %v, %v; want %+v", got, ok, err, cp)
		}
	}
}

// Targets: every key with a checkpoint or an entry, once, sorted bytewise.
func Targets(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	cp := redeliver.Checkpoint{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, err := range []error{
		s.SetCheckpoint(ctx, "org/b/hooks/1", cp),
		s.SetCheckpoint(ctx, "app/1/hook", cp),
		s.Put(ctx, "org/b/hooks/1", Entry("1")),
		s.Put(ctx, "repo/a/b/hooks/2", Entry("x")), // entries, no checkpoint yet
		s.Put(ctx, "Z/upper", Entry("x")),          // bytewise: before lower case
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Z/upper", "app/1/hook", "org/b/hooks/1", "repo/a/b/hooks/2"}; !slices.Equal(keys, want) {
		t.Errorf("Targets = %v, want %v", keys, want)
	}
}

// SharedState: what one store commits, another open store on the same
// state reads at once.
func SharedState(t *testing.T, newState NewState) {
	ctx := context.Background()
	open := newState(t)
	a, b := open(t), open(t)
	if err := a.Put(ctx, "k", Entry("g1")); err != nil {
		t.Fatal(err)
	}
	cp := redeliver.Checkpoint{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := a.SetCheckpoint(ctx, "k", cp); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, b, "k"); len(got) != 1 || got[0] != Entry("g1") {
		t.Errorf("the other store reads %+v", got)
	}
	if got, ok, err := b.Checkpoint(ctx, "k"); !ok || err != nil || got != cp {
		t.Errorf("the other store's checkpoint: %+v %v %v", got, ok, err)
	}
}

// Lock: one holder at a time across stores on the same state; a second
// Lock is an EConflict error after its wait; a canceled context wins; the
// holder writes while it holds the lock; unlock is idempotent; a waiting
// Lock gets the lock once it is released.
func Lock(t *testing.T, newState NewState) {
	ctx := context.Background()
	open := newState(t)
	s1, s2 := open(t), open(t)

	unlock, err := s1.Lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Put(ctx, "k", Entry("while-locked")); err != nil {
		t.Fatalf("Put by the holder: %v", err)
	}
	if _, err = s2.Lock(ctx, 0); redeliver.ErrorCode(err) != redeliver.EConflict {
		t.Fatalf("second Lock: %v; want EConflict", err)
	}
	start := time.Now()
	if _, err := s2.Lock(ctx, 120*time.Millisecond); redeliver.ErrorCode(err) != redeliver.EConflict {
		t.Fatalf("Lock with wait: %v", err)
	}
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Errorf("Lock gave up after %s, before its wait", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s2.Lock(cctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a canceled context: %v", err)
	}

	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	unlock2, err := s2.Lock(ctx, 0)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := s1.Lock(ctx, time.Minute)
		if err == nil {
			err = u()
		}
		got <- err
	}()
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Errorf("waiting Lock: %v", err)
	}
	if n := len(entries(t, s2, "k")); n != 1 {
		t.Errorf("%d entries after the locks, want 1", n)
	}
}

// MarkStore is a Store that also remembers what alerts have told, per
// target: subject (a guid, "coverage", …) → mark. It is what package alert
// calls Marks.
type MarkStore interface {
	redeliver.Store
	// AlertMarks returns the target's marks.
	AlertMarks(ctx context.Context, key string) (map[string]string, error)
	// SetAlertMarks records marks in one transaction, replacing a
	// subject's earlier mark and keeping the others.
	SetAlertMarks(ctx context.Context, key string, at time.Time, marks map[string]string) error
}

// NewMarkState is NewState for a store that keeps alert marks.
type NewMarkState func(t testing.TB) (open func(t testing.TB) MarkStore)

// AlertMarks runs the contract of alert marks as subtests: they round-trip
// exactly, a later mark replaces a subject's earlier one and keeps the
// others, targets do not see each other's, and Prune takes the marks of
// the guids it deletes and no others.
func AlertMarks(t *testing.T, newState NewMarkState) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, NewMarkState)
	}{
		{"MarksRoundTrip", MarksRoundTrip},
		{"MarksReplace", MarksReplace},
		{"MarksPerTarget", MarksPerTarget},
		{"MarksPrune", MarksPrune},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newState) })
	}
}

// markAt is when the contract's alerts are told.
var markAt = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)

func marks(t testing.TB, s MarkStore, key string) map[string]string {
	t.Helper()
	m, err := s.AlertMarks(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func setMarks(t testing.TB, s MarkStore, key string, m map[string]string) {
	t.Helper()
	if err := s.SetAlertMarks(context.Background(), key, markAt, m); err != nil {
		t.Fatal(err)
	}
}

// MarksRoundTrip: a target without marks has none; marks come back exactly,
// to another store on the same state too; an empty set writes nothing; the
// engine rewriting an entry leaves its mark alone; an empty key is refused.
func MarksRoundTrip(t *testing.T, newState NewMarkState) {
	ctx := context.Background()
	open := newState(t)
	s, other := open(t), open(t)
	if m := marks(t, s, "k"); len(m) != 0 {
		t.Fatalf("a new target has marks %v", m)
	}
	if err := s.Put(ctx, "k", Entry("g1")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"g1":           "exhausted/5|webhook,github-issues",
		"coverage":     "2025-03-04T05:06:07.000000008Z|webhook",
		"open:webhook": "open",
		"g-ünïcode":    "expired/0|",
	}
	setMarks(t, s, "k", want)
	if got := marks(t, s, "k"); !maps.Equal(got, want) {
		t.Fatalf("marks:\n got %v\nwant %v", got, want)
	}
	if got := marks(t, other, "k"); !maps.Equal(got, want) {
		t.Errorf("another store on the state reads %v", got)
	}
	setMarks(t, s, "k", nil)
	setMarks(t, s, "k", map[string]string{})
	if err := s.Put(ctx, "k", Entry("g1")); err != nil {
		t.Fatal(err)
	}
	if got := marks(t, s, "k"); !maps.Equal(got, want) {
		t.Errorf("after an empty set and a Put of g1: %v", got)
	}
	if err := s.SetAlertMarks(ctx, "", markAt, map[string]string{"g1": "x"}); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("empty key: err = %v, want EInvalid", err)
	}
}

// MarksReplace: a subject's later mark replaces its earlier one; subjects
// not in the later set keep theirs.
func MarksReplace(t *testing.T, newState NewMarkState) {
	ctx := context.Background()
	s := newState(t)(t)
	setMarks(t, s, "k", map[string]string{"g1": "exhausted/5|webhook", "coverage": "c1|webhook"})
	if err := s.SetAlertMarks(ctx, "k", markAt.Add(time.Hour), map[string]string{
		"g1": "exhausted/6|webhook", "open:webhook": "open",
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"g1": "exhausted/6|webhook", "coverage": "c1|webhook", "open:webhook": "open"}
	if got := marks(t, s, "k"); !maps.Equal(got, want) {
		t.Fatalf("after replacing:\n got %v\nwant %v", got, want)
	}
	setMarks(t, s, "k", map[string]string{"open:webhook": "resolved"})
	want["open:webhook"] = "resolved"
	if got := marks(t, s, "k"); !maps.Equal(got, want) {
		t.Fatalf("after resolving:\n got %v\nwant %v", got, want)
	}
}

// MarksPerTarget: the same subject in two targets holds two marks; setting
// one leaves the other alone.
func MarksPerTarget(t *testing.T, newState NewMarkState) {
	s := newState(t)(t)
	setMarks(t, s, "org/acme/hooks/1", map[string]string{"g1": "a", "coverage": "ca"})
	setMarks(t, s, "repo/acme/api/hooks/2", map[string]string{"g1": "b"})
	setMarks(t, s, "org/acme/hooks/1", map[string]string{"g1": "a2"})
	if got, want := marks(t, s, "org/acme/hooks/1"), map[string]string{"g1": "a2", "coverage": "ca"}; !maps.Equal(got, want) {
		t.Errorf("first target: %v, want %v", got, want)
	}
	if got, want := marks(t, s, "repo/acme/api/hooks/2"), map[string]string{"g1": "b"}; !maps.Equal(got, want) {
		t.Errorf("second target: %v, want %v", got, want)
	}
	if got := marks(t, s, "org/acme/hooks/3"); len(got) != 0 {
		t.Errorf("a target without marks: %v", got)
	}
}

// MarksPrune: Prune takes the marks of the guids it deletes, and keeps
// those of the entries it keeps, the target's coverage mark, and every
// mark of other targets.
func MarksPrune(t *testing.T, newState NewMarkState) {
	ctx := context.Background()
	s := newState(t)(t)
	cut := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(guid string, st redeliver.State, at time.Time) redeliver.LedgerEntry {
		e := Entry(guid)
		e.State, e.AttemptAt = st, at
		return e
	}
	old := cut.Add(-time.Hour)
	es := []redeliver.LedgerEntry{
		mk("old-exhausted", redeliver.StateExhausted, old), // pruned
		mk("old-expired", redeliver.StateExpired, old),     // pruned
		mk("old-failed", redeliver.StateFailed, old),       // open: kept
		mk("new-exhausted", redeliver.StateExhausted, cut), // not older than cut
	}
	all := map[string]string{
		"old-exhausted": "exhausted/5|webhook", "old-expired": "expired/2|webhook",
		"old-failed": "x", "new-exhausted": "exhausted/5|webhook", "coverage": "c|webhook",
		"open:webhook": "open", // a target's own mark: a notifier resolves what it reported by it
	}
	for _, key := range []string{"a", "b"} {
		if err := s.Put(ctx, key, es...); err != nil {
			t.Fatal(err)
		}
		setMarks(t, s, key, all)
	}
	if n, err := s.Prune(ctx, "a", time.Time{}); n != 0 || err != nil {
		t.Fatalf("Prune(zero) = %d, %v", n, err)
	}
	if got := marks(t, s, "a"); !maps.Equal(got, all) {
		t.Errorf("a Prune of nothing changed the marks: %v", got)
	}
	if n, err := s.Prune(ctx, "a", cut); n != 2 || err != nil {
		t.Fatalf("Prune = %d, %v; want 2", n, err)
	}
	want := maps.Clone(all)
	delete(want, "old-exhausted")
	delete(want, "old-expired")
	if got := marks(t, s, "a"); !maps.Equal(got, want) {
		t.Errorf("after Prune:\n got %v\nwant %v", got, want)
	}
	if got := marks(t, s, "b"); !maps.Equal(got, all) {
		t.Errorf("Prune of a changed b's marks: %v", got)
	}
}

// Lookup: Lookup returns exactly the target's entries among the guids
// asked for, in guid order, whatever their number (more than one query's
// worth of parameters included); OpenEntries walks every open entry once,
// in batches, each batch continuing after the last guid of the one before,
// LostEntries every exhausted or expired one alike and EntriesAfter every
// entry; Counts counts the target's entries by state.
func Lookup(t *testing.T, newState NewState) {
	ctx := context.Background()
	s := one(t, newState)
	const key, other = "org/acme/hooks/1", "org/acme/hooks/2"
	var all []redeliver.LedgerEntry
	states := []redeliver.State{redeliver.StateFailed, redeliver.StatePending, redeliver.StateRecovered,
		redeliver.StateExhausted, redeliver.StateExpired}
	for i := range 1500 {
		e := Entry(fmt.Sprintf("guid-%04d", i))
		e.State = states[i%len(states)]
		all = append(all, e)
	}
	if err := s.Put(ctx, key, all...); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, other, Entry("guid-0001"), Entry("elsewhere")); err != nil {
		t.Fatal(err)
	}

	var ask []string
	var want []redeliver.LedgerEntry
	for i := 1400; i >= 0; i -= 2 { // out of order, more than 500
		ask = append(ask, all[i].GUID, fmt.Sprintf("missing-%d", i))
	}
	ask = append(ask, "elsewhere")
	for i := 0; i <= 1400; i += 2 {
		want = append(want, all[i])
	}
	got, err := s.Lookup(ctx, key, ask)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Lookup: got %d entries, want %d (first got %+v)", len(got), len(want), first(got))
	}
	if got, err := s.Lookup(ctx, key, nil); err != nil || len(got) != 0 {
		t.Errorf("Lookup of no guids = %d entries, %v", len(got), err)
	}
	if got, err := s.Lookup(ctx, "org/acme/hooks/9", ask); err != nil || len(got) != 0 {
		t.Errorf("Lookup on an unknown target = %d entries, %v", len(got), err)
	}

	walk(t, "OpenEntries", s.OpenEntries, key, all, redeliver.State.Open)
	walk(t, "LostEntries", s.LostEntries, key, all, redeliver.State.Lost)
	walk(t, "EntriesAfter", s.EntriesAfter, key, all, func(redeliver.State) bool { return true })

	counts, err := s.Counts(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if counts[st] != 300 {
			t.Errorf("Counts: %d %s, want 300 (all: %v)", counts[st], st, counts)
		}
	}
	if counts, err := s.Counts(ctx, "org/acme/hooks/9"); err != nil || counts[redeliver.StateFailed] != 0 {
		t.Errorf("Counts of an unknown target = %v, %v", counts, err)
	}
}

// walk checks that batches reads every entry of all in the states keep
// takes once, 128 at a time, each batch after the last guid of the one
// before.
func walk(t *testing.T, name string, batches func(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error),
	key string, all []redeliver.LedgerEntry, keep func(redeliver.State) bool) {
	t.Helper()
	seen := map[string]int{}
	after, n := "", 0
	for {
		es, err := batches(context.Background(), key, after, 128)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, e := range es {
			if !keep(e.State) {
				t.Fatalf("%s returned %s in state %s", name, e.GUID, e.State)
			}
			seen[e.GUID]++
		}
		if len(es) < 128 {
			break
		}
		after = es[len(es)-1].GUID
	}
	want := 0
	for _, e := range all {
		if keep(e.State) {
			want++
			if seen[e.GUID] != 1 {
				t.Errorf("%s returned %s %d times", name, e.GUID, seen[e.GUID])
			}
		}
	}
	if len(seen) != want || n < want/128 {
		t.Errorf("%s walked %d guids in %d batches, want %d", name, len(seen), n, want)
	}
}

func first(es []redeliver.LedgerEntry) any {
	if len(es) == 0 {
		return nil
	}
	return es[0]
}

// NoWholeReads is a Store that refuses to read a target's ledger whole
// (Entries), for tests that show a path reads it a part at a time.
type NoWholeReads struct{ redeliver.Store }

// Entries refuses.
func (NoWholeReads) Entries(context.Context, string) ([]redeliver.LedgerEntry, error) {
	return nil, errors.New("the whole ledger was read")
}
