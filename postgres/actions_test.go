package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/alert"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// The alerts remember what they told in either view of the state.
var (
	_ alert.Marks = (*postgres.Store)(nil)
	_ alert.Marks = (*postgres.Fenced)(nil)
)

// version1 makes, in a fresh schema, the state a redeliver from before
// manual actions left: schema version 1, one entry, a checkpoint and a
// lease. It returns the schema.
func version1(t *testing.T) string {
	t.Helper()
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	schema := pgtest.Schema(t)
	pgtest.Exec(t, `SET search_path TO `+pgx.Identifier{schema}.Sanitize()+`;
		`+string(init)+`;
		INSERT INTO redeliver_schema (application, version) VALUES ('redeliver', 1);
		INSERT INTO redeliver_ledger (target_key, guid, event, action, attempt_id, attempt_at, requests, seen, seen_mark, state)
			VALUES ('k', 'g', 'push', '', 3804004623172239366, 1741064767123456789, 1, 0, 0, 'exhausted');
		INSERT INTO redeliver_checkpoints (target_key, checkpoint_time) VALUES ('k', 1741064767000000000);
		INSERT INTO redeliver_leases (target_key, owner, token, expires_at) VALUES ('k', 'replica-a', 7, 0);`)
	return schema
}

// A state written by a redeliver from before manual actions is upgraded
// in place by the first writable open: its entries keep every field and
// get "no action"; alert marks work at once. Until then a read-only open
// says a run upgrades it.
func TestMigrateVersion1(t *testing.T) {
	ctx := context.Background()
	schema := version1(t)
	dsn := pgtest.WithSchema(t, schema)

	_, err := postgres.Open(ctx, dsn, postgres.Options{ReadOnly: true})
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "schema version 1, older than this redeliver's 3") {
		t.Fatalf("read-only open of a version 1 state: %v", err)
	}

	s := open(t, dsn)
	var v int
	scan(t, `SELECT version FROM `+pgx.Identifier{schema, "redeliver_schema"}.Sanitize(), &v)
	if v != postgres.SchemaVersion() || v != 3 {
		t.Errorf("schema version after the upgrade: %d, want 3", v)
	}
	got, err := s.Entries(ctx, "k")
	if err != nil || len(got) != 1 {
		t.Fatalf("Entries after the upgrade: %v %v", got, err)
	}
	want := redeliver.LedgerEntry{GUID: "g", Event: "push", AttemptID: storetest.BigID,
		AttemptAt: time.Unix(0, 1741064767123456789).UTC(), Requests: 1, State: redeliver.StateExhausted}
	if got[0] != want {
		t.Errorf("upgraded entry:\n got %+v\nwant %+v", got[0], want)
	}
	if cp, ok, err := s.Checkpoint(ctx, "k"); !ok || err != nil || !cp.Time.Equal(time.Unix(0, 1741064767000000000)) {
		t.Errorf("checkpoint after the upgrade: %+v %v %v", cp, ok, err)
	}
	l, err := s.Lease(ctx, "k", "replica-b", 0)
	if err != nil || l.Token() != 8 {
		t.Fatalf("lease after the upgrade: %v; want token 8", err)
	}
	if m, err := s.AlertMarks(ctx, "k"); err != nil || len(m) != 0 {
		t.Errorf("AlertMarks after the upgrade: %v %v", m, err)
	}
	acted, err := redeliver.Apply(got[0], redeliver.ManualRetry, "ann",
		redeliver.Policy{MaxAttempts: 1, Horizon: 72 * time.Hour}, got[0].AttemptAt.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f := s.Fenced(l)
	if err := f.Put(ctx, "k", acted); err != nil {
		t.Fatal(err)
	}
	if err := f.SetAlertMarks(ctx, "k", acted.ManualAt, map[string]string{"g": "exhausted/1|webhook"}); err != nil {
		t.Fatal(err)
	}
	// Opening again migrates nothing twice, and keeps what was written.
	s2 := open(t, dsn, postgres.Options{ReadOnly: true})
	if got, err := s2.Entries(ctx, "k"); err != nil || len(got) != 1 || got[0] != acted {
		t.Errorf("entry after a retry:\n got %+v %v\nwant %+v", got, err, acted)
	}
	if m, err := s2.AlertMarks(ctx, "k"); err != nil || m["g"] != "exhausted/1|webhook" {
		t.Errorf("marks: %v %v", m, err)
	}
}

// A version 2 state without its alert marks table is damaged, not
// migrated again.
func TestOpenRefusesMissingMarks(t *testing.T) {
	schema := pgtest.Schema(t)
	dsn := pgtest.WithSchema(t, schema)
	open(t, dsn).Close()
	pgtest.Exec(t, `DROP TABLE `+pgx.Identifier{schema, "redeliver_alert_marks"}.Sanitize())
	for _, ro := range []bool{false, true} {
		_, err := postgres.Open(context.Background(), dsn, postgres.Options{ReadOnly: ro})
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "lacks the tables redeliver_alert_marks") {
			t.Errorf("read-only %v: %v; want EInvalid naming redeliver_alert_marks", ro, err)
		}
	}
}

// A time the store cannot keep is refused, and nothing is written; a
// fenced view writes marks of its own target only.
func TestSetAlertMarksRefuses(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.DSN(t))
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SetAlertMarks(ctx, "k", far, map[string]string{"g": "x"}); redeliver.ErrorCode(err) != redeliver.EInvalid ||
		!strings.Contains(err.Error(), "out of range") {
		t.Errorf("year 3000: %v; want EInvalid", err)
	}
	l, err := s.Lease(ctx, "k", "replica-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fenced(l).SetAlertMarks(ctx, "other", time.Unix(1, 0), map[string]string{"g": "x"}); redeliver.ErrorCode(err) != redeliver.EInvalid ||
		!strings.Contains(err.Error(), "does not cover target other") {
		t.Errorf("fenced write to another target: %v; want EInvalid", err)
	}
	for _, k := range []string{"k", "other"} {
		if m, err := s.AlertMarks(ctx, k); err != nil || len(m) != 0 {
			t.Errorf("%s: refused writes left marks %v %v", k, m, err)
		}
	}
}
