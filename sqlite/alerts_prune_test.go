package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/storetest"
)

// Prune forgets the marks of the guids it removes, never a target's own:
// a notifier's open:NAME mark is how it later resolves what it reported.
func TestPruneKeepsTargetMarks(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gone := storetest.Entry("gone")
	gone.State = redeliver.StateExhausted
	if err := s.Put(ctx, "k", gone); err != nil {
		t.Fatal(err)
	}
	at := gone.AttemptAt.Add(time.Hour)
	if err := s.SetAlertMarks(ctx, "k", at, map[string]string{
		"gone": "exhausted/3|webhook", "open:webhook": "open", "coverage": "c|webhook",
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, "k", at); n != 1 || err != nil {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	m, err := s.AlertMarks(ctx, "k")
	if err != nil || len(m) != 2 || m["open:webhook"] != "open" || m["coverage"] != "c|webhook" {
		t.Errorf("marks after Prune: %v %v; want open:webhook and coverage", m, err)
	}
}
