package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

func TestManualActionFieldsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	e := entry("g")
	e.Granted, e.Force, e.Manual, e.ManualBy = 2, true, redeliver.ManualRetry, "ann"
	e.ManualAt = time.Date(2025, 3, 4, 5, 7, 0, 42, time.UTC)
	if err := s.Put(ctx, "k", e); err != nil {
		t.Fatal(err)
	}
	got, err := s.Entries(ctx, "k")
	if err != nil || len(got) != 1 {
		t.Fatalf("Entries: %v %v", got, err)
	}
	if got[0] != e {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[0], e)
	}
}

// A state file written by a redeliver from before manual actions is
// upgraded in place: its entries keep every field and get "no action".
func TestMigrateVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, path)
	if _, err := raw.Exec(string(init) + `;
		INSERT INTO ledger (target_key, guid, event, action, attempt_id, requests, seen, seen_mark, state)
			VALUES ('k', 'g', 'push', '', 7, 1, 0, 0, 'exhausted');
		PRAGMA application_id = 1919183990; -- "rdlv"
		PRAGMA user_version = 1;`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Entries(ctx, "k")
	if err != nil || len(got) != 1 {
		t.Fatalf("Entries after migration: %v %v", got, err)
	}
	want := redeliver.LedgerEntry{GUID: "g", Event: "push", AttemptID: 7, Requests: 1, State: redeliver.StateExhausted}
	if got[0] != want {
		t.Errorf("migrated entry:\n got %+v\nwant %+v", got[0], want)
	}
	marks, err := s.AlertMarks(ctx, "k")
	if err != nil || len(marks) != 0 {
		t.Errorf("AlertMarks on a migrated file: %v %v", marks, err)
	}
}

func TestAlertMarks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := s.Put(ctx, "k", entry("g1"), entry("g2")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlertMarks(ctx, "k", at, map[string]string{"g1": "exhausted/5", "coverage": "123"}); err != nil {
		t.Fatal(err)
	}
	// The engine rewriting an entry does not undo the mark.
	if err := s.Put(ctx, "k", entry("g1")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	marks, err := s.AlertMarks(ctx, "k")
	if err != nil || marks["g1"] != "exhausted/5" || marks["coverage"] != "123" || len(marks) != 2 {
		t.Fatalf("marks after reopening: %v %v", marks, err)
	}
	if other, _ := s.AlertMarks(ctx, "other"); len(other) != 0 {
		t.Errorf("another target's marks: %v", other)
	}

	// Pruning the entry forgets its mark, not the target's coverage mark.
	closed := entry("g1")
	closed.State = redeliver.StateExhausted
	if err := s.Put(ctx, "k", closed); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, "k", at.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("Prune: %d %v", n, err)
	}
	marks, _ = s.AlertMarks(ctx, "k")
	if _, ok := marks["g1"]; ok || marks["coverage"] != "123" {
		t.Errorf("marks after pruning g1: %v", marks)
	}

	ro, err := sqlite.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.SetAlertMarks(ctx, "k", at, map[string]string{"g2": "x"}); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("SetAlertMarks on a read-only store: %v", err)
	}
}
