package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// bigID is a real attempt id: above 2^53, where a float64 loses digits.
const bigID int64 = 3804004623172239366

// open opens a new store in a fresh directory and closes it with the test.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// entry is a failed ledger entry with every field set.
func entry(guid string) redeliver.LedgerEntry {
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	return redeliver.LedgerEntry{
		GUID:        guid,
		Event:       "issues",
		Action:      "opened",
		FirstSeen:   at.Add(-time.Hour),
		AttemptID:   bigID,
		AttemptAt:   at,
		Requests:    2,
		LastRequest: at.Add(time.Minute),
		IntentAt:    at.Add(2 * time.Minute),
		Seen:        3,
		SeenMark:    bigID + 7,
		State:       redeliver.StateFailed,
		Updated:     at.Add(3 * time.Minute),
	}
}

func mustEntries(t testing.TB, s *sqlite.Store, key string) []redeliver.LedgerEntry {
	t.Helper()
	es, err := s.Entries(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	full := entry("full")
	zero := redeliver.LedgerEntry{GUID: "zero", State: redeliver.StatePending} // every time zero
	max := entry("max")
	max.AttemptID, max.SeenMark = 1<<63-1, -1<<63
	// Instants that must not turn into the zero time or drift: the epoch
	// (stored as 0), just before it, and the ends of the storable range.
	edges := entry("edges")
	edges.FirstSeen = time.Unix(0, 0).UTC()
	edges.AttemptAt = time.Unix(-1, 999999999).UTC()
	edges.LastRequest = time.Date(1678, 1, 1, 0, 0, 0, 1, time.UTC)
	edges.Updated = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Put(ctx, "repo/acme/api/hooks/1", full, zero, max, edges); err != nil {
		t.Fatal(err)
	}
	got := mustEntries(t, s, "repo/acme/api/hooks/1")
	want := []redeliver.LedgerEntry{edges, full, max, zero} // by guid
	if !slices.Equal(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if got[1].AttemptID != 3804004623172239366 {
		t.Errorf("attempt id = %d", got[1].AttemptID)
	}
	if !got[3].FirstSeen.IsZero() || got[3].FirstSeen != (time.Time{}) {
		t.Errorf("zero time came back as %v", got[3].FirstSeen)
	}
	if other := mustEntries(t, s, "org/acme/hooks/2"); len(other) != 0 {
		t.Errorf("another target sees %d entries", len(other))
	}
}

// Times in other zones, or with a monotonic reading, come back as the same
// instant in UTC: == with t.UTC().Round(0).
func TestRoundTripNormalizesToUTC(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	e := entry("g")
	e.AttemptAt = time.Now() // monotonic reading
	e.FirstSeen = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -7*3600))
	if err := s.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	want := e
	want.AttemptAt, want.FirstSeen = e.AttemptAt.Round(0).UTC(), e.FirstSeen.UTC()
	if got := mustEntries(t, s, "k"); len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestPutRejectsWhatItCannotKeep(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	far := entry("far")
	far.AttemptAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := entry("bad")
	bad.State = "lost"
	for name, e := range map[string]redeliver.LedgerEntry{
		"no guid": {State: redeliver.StateFailed}, "bad state": bad, "year 3000": far,
	} {
		// The good entry in the same call must not be written either.
		err := s.Put(ctx, "k", entry("good"), e)
		if redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("%s: err = %v, want EInvalid", name, err)
		}
	}
	if err := s.Put(ctx, "", entry("g")); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("empty key: err = %v", err)
	}
	if got := mustEntries(t, s, "k"); len(got) != 0 {
		t.Errorf("a refused Put wrote %d entries", len(got))
	}
	if err := s.Put(ctx, "k"); err != nil {
		t.Errorf("empty Put: %v", err)
	}
}

func TestUpsert(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	e := entry("g1")
	if err := s.Put(ctx, "k", e, entry("g2")); err != nil {
		t.Fatal(err)
	}
	e.State, e.Requests, e.IntentAt = redeliver.StatePending, 3, time.Time{}
	if err := s.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	got := mustEntries(t, s, "k")
	if len(got) != 2 || got[0] != e || got[1] != entry("g2") {
		t.Fatalf("after upsert: %+v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	const workers, puts = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*puts*3)
	for w := range workers {
		wg.Go(func() {
			for i := range puts {
				if err := s.Put(ctx, "k", entry(fmt.Sprintf("w%02d-%03d", w, i))); err != nil {
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
	if n := len(mustEntries(t, s, "k")); n != workers*puts {
		t.Fatalf("%d entries, want %d", n, workers*puts)
	}
	keys, err := s.Targets(ctx)
	if err != nil || len(keys) != workers+1 {
		t.Fatalf("targets = %v, %v", keys, err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	cut := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(guid string, st redeliver.State, at time.Time) redeliver.LedgerEntry {
		e := entry(guid)
		e.State, e.AttemptAt = st, at
		return e
	}
	old, recent := cut.Add(-time.Nanosecond), cut
	entries := []redeliver.LedgerEntry{
		mk("old-recovered", redeliver.StateRecovered, old),
		mk("old-exhausted", redeliver.StateExhausted, old),
		mk("old-expired", redeliver.StateExpired, old),
		mk("nil-expired", redeliver.StateExpired, time.Time{}), // older than anything
		mk("old-failed", redeliver.StateFailed, old),           // open: kept
		mk("old-pending", redeliver.StatePending, old),         // open: kept
		mk("new-recovered", redeliver.StateRecovered, recent),  // not older than cut
	}
	if err := s.Put(ctx, "a", entries...); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b", entries...); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, "a", cut)
	if err != nil || n != 4 {
		t.Fatalf("Prune = %d, %v; want 4", n, err)
	}
	var left []string
	for _, e := range mustEntries(t, s, "a") {
		left = append(left, e.GUID)
	}
	if want := []string{"new-recovered", "old-failed", "old-pending"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if n := len(mustEntries(t, s, "b")); n != len(entries) {
		t.Errorf("Prune of a touched b: %d left", n)
	}
	if n, err := s.Prune(ctx, "b", time.Time{}); n != 0 || err != nil {
		t.Errorf("Prune(zero) = %d, %v", n, err)
	}
	if n, err := s.Prune(ctx, "b", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); n != 5 || err != nil {
		t.Errorf("Prune(far future) = %d, %v; want every closed entry (5)", n, err)
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := open(t)
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

func TestTargets(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	cp := redeliver.Checkpoint{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetCheckpoint(ctx, "org/b/hooks/1", cp))
	must(s.SetCheckpoint(ctx, "app/1/hook", cp))
	var es []redeliver.LedgerEntry
	for i, st := range []redeliver.State{"failed", "failed", "pending", "recovered", "exhausted", "expired", "expired", "expired"} {
		e := entry(fmt.Sprint(i))
		e.State = st
		es = append(es, e)
	}
	must(s.Put(ctx, "org/b/hooks/1", es...))
	must(s.Put(ctx, "repo/a/b/hooks/2", entry("x"))) // entries, no checkpoint yet

	keys, err := s.Targets(ctx)
	must(err)
	if want := []string{"app/1/hook", "org/b/hooks/1", "repo/a/b/hooks/2"}; !slices.Equal(keys, want) {
		t.Errorf("Targets = %v, want %v", keys, want)
	}
}

// A row whose state the code does not know is reported by target and guid,
// not turned into a silent default.
func TestBadStateRow(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "org/acme/hooks/1", entry("g-1"), entry("g-bad")); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	if _, err := raw.Exec(`UPDATE ledger SET state = 'lost' WHERE guid = 'g-bad'`); err != nil {
		t.Fatal(err)
	}
	_, err = s.Entries(ctx, "org/acme/hooks/1")
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "org/acme/hooks/1") ||
		!strings.Contains(err.Error(), "g-bad") {
		t.Errorf("Entries: %v; want EInvalid naming target and guid", err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")

	_, err := sqlite.OpenReadOnly(path)
	if redeliver.ErrorCode(err) != redeliver.ENotFound || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: %v; want ENotFound naming %s", err, path)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("OpenReadOnly created the file: %v", err)
	}

	w, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Put(ctx, "k", entry("g1")); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The reader sees what the writer commits, while both are open.
	if err := w.Put(ctx, "k", entry("g2")); err != nil {
		t.Fatal(err)
	}
	if n := len(mustEntries(t, r, "k")); n != 2 {
		t.Errorf("reader sees %d entries, want 2", n)
	}
	if err := r.Put(ctx, "k", entry("g3")); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("Put on a read-only store: %v", err)
	}
	if err := r.SetCheckpoint(ctx, "k", redeliver.Checkpoint{}); err == nil {
		t.Error("SetCheckpoint on a read-only store succeeded")
	}
	if r.Path() != path {
		t.Errorf("Path = %q", r.Path())
	}
}

func TestDefaultPath(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	if p, err := sqlite.DefaultPath(); err != nil || p != filepath.Join(state, "redeliver", "state.db") {
		t.Errorf("with XDG_STATE_HOME: %q, %v", p, err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, xdg := range []string{"", "relative/dir"} { // a relative value is ignored
		t.Setenv("XDG_STATE_HOME", xdg)
		if p, err := sqlite.DefaultPath(); err != nil || p != filepath.Join(home, ".local", "state", "redeliver", "state.db") {
			t.Errorf("XDG_STATE_HOME=%q: %q, %v", xdg, p, err)
		}
	}
}

// Open makes the missing directories, private to the user.
func TestOpenCreatesDirectories(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "a", "b", "state.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b")} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v; want mode 0700", d, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v; want mode 0600", path, fi.Mode(), err)
	}
}

// rawDB opens the file with the plain driver, as another program would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	e := entry("g")
	i := 0
	for b.Loop() {
		e.GUID = fmt.Sprint("g-", i)
		i++
		if err := s.Put(ctx, "k", e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutBatch(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	es := make([]redeliver.LedgerEntry, 50_000)
	for i := range es {
		es[i] = entry(fmt.Sprintf("%08d-0000-11f0-8000-000000000000", i))
	}
	for b.Loop() {
		if err := s.Put(ctx, "k", es...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(len(es)), "µs/entry")
}
