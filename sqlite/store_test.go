package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// The store's contract (round trips, upserts, pruning, checkpoints,
// targets, locks) is checked by storetest (contract_test.go); the tests
// here are the SQLite file's own.

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
