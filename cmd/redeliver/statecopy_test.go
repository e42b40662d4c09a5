package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/storetest"
)

// pgPassword is sent nowhere (the test server trusts every local user)
// and must show nowhere.
const pgPassword = "pgS3cretNeverShown"

// pgState is a fresh PostgreSQL state URL with a password in it.
func pgState(t *testing.T) string {
	t.Helper()
	return strings.Replace(pgtest.DSN(t), "://postgres@", "://postgres:"+pgPassword+"@", 1)
}

// fill writes a state: two targets with entries, one with a checkpoint,
// the other with more entries than one batch of the copy holds, their guids
// in shapes that two collations might order differently.
func fill(t *testing.T, st redeliver.Store) {
	t.Helper()
	ctx := context.Background()
	many := make([]redeliver.LedgerEntry, 0, 2*copyBatch+500)
	for i := range cap(many) {
		g := fmt.Sprintf("%08x-%04d", uint32(i)*2654435761, i)
		if i%3 == 0 {
			g = strings.ToUpper(g)
		}
		if i%5 == 0 {
			g = "-" + g
		}
		many = append(many, storetest.Entry(g))
	}
	if err := st.Put(ctx, "repo/acme/api/hooks/3", many...); err != nil {
		t.Fatal(err)
	}
	done := storetest.Entry("g-done")
	done.State = redeliver.StateRecovered
	cp := redeliver.Checkpoint{Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), RunAt: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)}
	for _, err := range []error{
		st.Put(ctx, "org/acme/hooks/1", storetest.Entry("g-1"), done),
		st.SetCheckpoint(ctx, "org/acme/hooks/1", cp),
		st.Put(ctx, "repo/acme/api/hooks/2", storetest.Entry("g-2")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	// What alerts told, when the store keeps it (both kinds do).
	if m, ok := st.(alertMarks); ok {
		at := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
		if err := m.SetAlertMarks(ctx, "org/acme/hooks/1", at, map[string]string{"g-1": "exhausted", "coverage": "gap:2026-01-01"}); err != nil {
			t.Fatal(err)
		}
	}
}

// dump is everything a state holds, for comparing two.
func dump(t *testing.T, st redeliver.Store) string {
	t.Helper()
	ctx := context.Background()
	keys, err := st.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		cp, ok, err := st.Checkpoint(ctx, k)
		es, err2 := st.Entries(ctx, k)
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		fmt.Fprintf(&b, "%s %v %v %+v\n", k, ok, cp, es)
		if m, isM := st.(alertMarks); isM {
			marks, err := m.AlertMarks(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  alert marks %v\n", marks)
		}
	}
	return b.String()
}

func noPassword(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, pgPassword) {
		t.Errorf("the PostgreSQL password shows:\n%s", r)
	}
}

// SQLite to PostgreSQL and back: the same state at every step.
func TestStateCopyBothWays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "state.db")
	src, err := sqlite.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, src)
	want := dump(t, src)
	src.Close()
	pg := pgState(t)
	env := map[string]string{"HOME": dir}

	r := runIn(t, env, "state", "copy", "--from", file, "--to", pg)
	wantCode(t, r, 0)
	noPassword(t, r)
	redacted := postgres.Redact(pg)
	if wantOut := "copied 3 targets (1 checkpoints, 4503 ledger entries, 2 alert marks) from " + file + " to " + redacted; !strings.Contains(r.stdout, wantOut) {
		t.Errorf("want %q:\n%s", wantOut, r)
	}
	st, err := postgres.Open(context.Background(), pg, postgres.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(t, st); got != want {
		t.Errorf("PostgreSQL holds\n%s\nwant\n%s", got, want)
	}
	st.Close()

	back := filepath.Join(dir, "sub", "back.db")
	r = runIn(t, env, "state", "copy", "--from", pg, "--to", "sqlite:"+back)
	wantCode(t, r, 0)
	noPassword(t, r)
	b, err := sqlite.OpenReadOnly(back)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := dump(t, b); got != want {
		t.Errorf("the copy back holds\n%s\nwant\n%s", got, want)
	}
}

// A destination with anything in it is refused (exit 2) and left alone,
// whichever kind it is; so are bad flags.
func TestStateCopyRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"HOME": dir}
	file := filepath.Join(dir, "state.db")
	other := filepath.Join(dir, "other.db")
	for _, p := range []string{file, other} {
		st, err := sqlite.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, st)
		st.Close()
	}
	pg := pgState(t)
	wantCode(t, runIn(t, env, "state", "copy", "--from", file, "--to", pg), 0)

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"non-empty PostgreSQL", []string{"--from", other, "--to", pg}, "already holds a state (3 targets)"},
		{"non-empty file", []string{"--from", pg, "--to", other}, "already holds a state (3 targets)"},
		{"missing source", []string{"--from", filepath.Join(dir, "none.db"), "--to", filepath.Join(dir, "new.db")}, "nothing to copy"},
		{"no --from", []string{"--to", filepath.Join(dir, "new.db")}, "--from is required"},
		{"no --to", []string{"--from", file}, "--to is required"},
		{"same file", []string{"--from", file, "--to", "sqlite:" + file}, "name the same state"},
		{"Actions variable", []string{"--from", "actions:acme/ops/LAST", "--to", file}, "not Actions variables"},
		{"negative wait", []string{"--from", file, "--to", filepath.Join(dir, "new.db"), "--lock-wait", "-1s"}, "must not be negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runIn(t, env, append([]string{"state", "copy"}, c.args...)...)
			wantCode(t, r, 2)
			noPassword(t, r)
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("want %q:\n%s", c.want, r)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); err == nil {
		t.Error("a refused copy created its destination")
	}
	// Both destinations still hold what they held.
	st, err := sqlite.OpenReadOnly(other)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if keys, _ := st.Targets(context.Background()); len(keys) != 3 {
		t.Errorf("the refused destination changed: %v", keys)
	}
}

// A state in use by a run is not copied: the copy waits for its lock.
func TestStateCopyWaitsForARun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pg := pgState(t)
	st, err := postgres.Open(context.Background(), pg, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fill(t, st)
	unlock, err := st.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	r := runIn(t, map[string]string{"HOME": dir}, "state", "copy", "--from", pg, "--to", filepath.Join(dir, "copy.db"))
	wantCode(t, r, 1)
	noPassword(t, r)
	if !strings.Contains(r.stderr, "--from: state postgres://") || !strings.Contains(r.stderr, "is in use by another redeliver run") {
		t.Errorf("want the holder named:\n%s", r)
	}
}
