package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// A schema with tables redeliver did not make, or made by a newer
// redeliver, is refused with EInvalid (exit 2) and left as it was.
func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, setup, want string
	}{
		{"table of ours made by another program", `CREATE TABLE %s.redeliver_ledger (x int)`, "tables redeliver did not make (redeliver_ledger)"},
		{"schema table of another program", `CREATE TABLE %s.redeliver_schema (application text, version int);
			INSERT INTO %[1]s.redeliver_schema VALUES ('other', 1)`, "made by another program"},
		{"newer schema", ``, "schema version 99, newer than this redeliver knows"},
		{"damaged", ``, "lacks the tables redeliver_ledger"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := pgtest.Schema(t)
			dsn := pgtest.WithSchema(t, schema)
			q := pgx.Identifier{schema}.Sanitize()
			switch c.name {
			case "newer schema":
				open(t, dsn).Close()
				pgtest.Exec(t, `UPDATE `+q+`.redeliver_schema SET version = 99`)
			case "damaged":
				open(t, dsn).Close()
				pgtest.Exec(t, `DROP TABLE `+q+`.redeliver_ledger`)
			default:
				for _, stmt := range strings.Split(strings.ReplaceAll(c.setup, "%[1]s", q), ";") {
					pgtest.Exec(t, strings.ReplaceAll(stmt, "%s", q))
				}
			}
			for _, ro := range []bool{false, true} {
				_, err := postgres.Open(ctx, dsn, postgres.Options{ReadOnly: ro})
				if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), c.want) {
					t.Errorf("read-only %v: %v; want EInvalid containing %q", ro, err, c.want)
				}
			}
			if c.name == "newer schema" {
				var v int
				scan(t, `SELECT version FROM `+q+`.redeliver_schema`, &v)
				if v != 99 {
					t.Errorf("version is now %d: the refused schema was changed", v)
				}
			}
		})
	}
}

// scan reads one row as the test server's superuser.
func scan(t *testing.T, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatal(err)
	}
}

// Other tables in the schema are none of our business: the state shares it.
func TestOpenSharesASchema(t *testing.T) {
	schema := pgtest.Schema(t)
	pgtest.Exec(t, `CREATE TABLE `+pgx.Identifier{schema, "orders"}.Sanitize()+` (id int)`)
	s := open(t, pgtest.WithSchema(t, schema))
	if s.Schema() != schema {
		t.Errorf("Schema = %q, want %q", s.Schema(), schema)
	}
	// Opening again (and in parallel) migrates nothing twice.
	done := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(context.Background(), pgtest.WithSchema(t, schema), postgres.Options{})
			if err == nil {
				s.Close()
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// Two processes creating the same new state at once: one creates it.
func TestOpenConcurrentCreate(t *testing.T) {
	dsn := pgtest.DSN(t)
	done := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err == nil {
				s.Close()
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestOpenNoSchema(t *testing.T) {
	pgtest.Require(t)
	_, err := postgres.Open(context.Background(), pgtest.WithSchema(t, "rt_does_not_exist"), postgres.Options{})
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "search_path names no schema that exists") {
		t.Errorf("err = %v", err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t)
	dsn := pgtest.WithSchema(t, schema)
	_, err := postgres.Open(ctx, dsn, postgres.Options{ReadOnly: true})
	if redeliver.ErrorCode(err) != redeliver.ENotFound || !strings.Contains(err.Error(), "nothing has run with it yet") {
		t.Fatalf("read-only open of an empty schema: %v; want ENotFound", err)
	}
	var n int
	scan(t, `SELECT count(*) FROM pg_tables WHERE schemaname = '`+schema+`'`, &n)
	if n != 0 {
		t.Errorf("a read-only open created %d tables", n)
	}
	w := open(t, dsn)
	if err := w.Put(ctx, "k", storetest.Entry("g1")); err != nil {
		t.Fatal(err)
	}
	r := open(t, dsn, postgres.Options{ReadOnly: true})
	if got, err := r.Entries(ctx, "k"); err != nil || len(got) != 1 {
		t.Errorf("reader: %v, %v", got, err)
	}
	if err := r.Put(ctx, "k", storetest.Entry("g2")); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("Put on a read-only store: %v", err)
	}
	if err := r.SetAlertMarks(ctx, "k", time.Unix(1, 0), map[string]string{"g1": "x"}); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("SetAlertMarks on a read-only store: %v", err)
	}
	if err := r.SetCheckpoint(ctx, "k", redeliver.Checkpoint{}); err == nil {
		t.Error("SetCheckpoint on a read-only store succeeded")
	}
}

// A row whose state the code does not know is reported by target and guid.
func TestBadStateRow(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t)
	s := open(t, pgtest.WithSchema(t, schema))
	if err := s.Put(ctx, "org/acme/hooks/1", storetest.Entry("g-1"), storetest.Entry("g-bad")); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, `UPDATE `+pgx.Identifier{schema, "redeliver_ledger"}.Sanitize()+` SET state = 'lost' WHERE guid = 'g-bad'`)
	_, err := s.Entries(ctx, "org/acme/hooks/1")
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "org/acme/hooks/1") || !strings.Contains(err.Error(), "g-bad") {
		t.Errorf("Entries: %v; want EInvalid naming target and guid", err)
	}
}

// A server that does not answer is an EInternal error wrapping
// ErrUnavailable, naming the state without its password.
func TestUnavailable(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=5", postgres.Options{})
	if redeliver.ErrorCode(err) != redeliver.EInternal || !errors.Is(err, postgres.ErrUnavailable) {
		t.Fatalf("err = %v (code %s); want EInternal wrapping ErrUnavailable", err, redeliver.ErrorCode(err))
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret-pw") || !strings.Contains(msg, "postgres://u:xxxxx@127.0.0.1:1/db") ||
		!strings.Contains(msg, "PostgreSQL unavailable") {
		t.Errorf("message %q: want the redacted URL and 'PostgreSQL unavailable', no password", msg)
	}
}

// The password never shows, wherever it came from.
func TestPasswordNeverShown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("f1le-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, dsn, env, secret, want string
		code                         string
	}{
		{"in the URL, server down", "postgres://u:url-secret@127.0.0.1:1/db?connect_timeout=5", "", "url-secret", "PostgreSQL unavailable", redeliver.EInternal},
		{"password= parameter", "postgres://u@127.0.0.1:1/db?password=param-secret&connect_timeout=5", "", "param-secret", "password=xxxxx", redeliver.EInternal},
		{"PGPASSWORD", "postgres://u@127.0.0.1:1/db?connect_timeout=5", "env-secret", "env-secret", "PostgreSQL unavailable", redeliver.EInternal},
		{"password_file", "postgres://u@127.0.0.1:1/db?connect_timeout=5&password_file=" + pwFile, "", "f1le-secret", "PostgreSQL unavailable", redeliver.EInternal},
		{"password_file and URL password", "postgres://u:url-secret@127.0.0.1:1/db?password_file=" + pwFile, "", "url-secret", "give the password once", redeliver.EInvalid},
		{"missing password_file", "postgres://u:url2-secret@127.0.0.1:1/db?password_file=" + filepath.Join(dir, "nope"), "", "url2-secret", "", redeliver.EInvalid},
		{"empty password_file", "postgres://u@127.0.0.1:1/db?password_file=" + empty, "", "", "is empty", redeliver.EInvalid},
		{"bad port", "postgres://u:port-secret@127.0.0.1:99999999/db", "", "port-secret", "", redeliver.EInvalid},
		{"bad URL", "postgres://u:bad%zz-secret@host/db", "", "-secret", "not a valid URL", redeliver.EInvalid},
		{"unknown sslmode", "postgres://u:ssl-secret@127.0.0.1/db?sslmode=sometimes", "", "ssl-secret", "", redeliver.EInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PGPASSWORD", c.env)
			t.Setenv("PGPASSFILE", filepath.Join(dir, "none"))
			_, err := postgres.Open(ctx, c.dsn, postgres.Options{})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if redeliver.ErrorCode(err) != c.code {
				t.Errorf("code %s, want %s: %v", redeliver.ErrorCode(err), c.code, err)
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Errorf("the password shows: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("message %q lacks %q", err, c.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5/db?sslmode=require":    "postgres://u:xxxxx@h:5/db?sslmode=require",
		"postgresql://u@h/db?password=pw&x=1":       "postgresql://u@h/db?password=xxxxx&x=1",
		"postgres://h/db":                           "postgres://h/db",
		"postgres://u:p%zzw@h/db":                   "postgres://(unparsable URL)",
		"postgres://u@h/db?password_file=/run/s/pw": "postgres://u@h/db?password_file=/run/s/pw",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// The run lock names its holder; it cannot be taken twice from one store.
func TestLockNamesHolder(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	unlock, err := a.Lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = b.Lock(ctx, 0)
	if redeliver.ErrorCode(err) != redeliver.EConflict || !strings.Contains(err.Error(), "in use by another redeliver run (redeliver ") ||
		!strings.Contains(err.Error(), "pid") {
		t.Errorf("err = %v", err)
	}
	if _, err := a.Lock(ctx, 0); redeliver.ErrorCode(err) != redeliver.EConflict {
		t.Errorf("second Lock on the holder: %v", err)
	}
}

// Connections killed under the store (a server restart, a failover) cost
// only calls that fail as unavailable, never a wrong answer; the store
// reconnects by itself.
func TestReconnects(t *testing.T) {
	ctx := context.Background()
	app := "rt-reconnect-" + strings.ReplaceAll(t.Name(), "/", "-")
	s := open(t, pgtest.DSN(t)+"&application_name="+app)
	for i := range 3 { // a few connections in the pool
		if err := s.Put(ctx, "k", storetest.Entry(fmt.Sprint("before-", i))); err != nil {
			t.Fatal(err)
		}
	}
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1`, app)
	var failures int
	for i := range 10 {
		err := s.Put(ctx, "k", storetest.Entry(fmt.Sprint("after-", i)))
		if err == nil {
			break
		}
		failures++
		if !errors.Is(err, postgres.ErrUnavailable) || redeliver.ErrorCode(err) != redeliver.EInternal {
			t.Fatalf("after the kill: %v; want EInternal wrapping ErrUnavailable", err)
		}
	}
	if failures == 10 {
		t.Fatal("the store never reconnected")
	}
	es, err := s.Entries(ctx, "k")
	if err != nil || len(es) != 4 {
		t.Errorf("entries after reconnecting: %d, %v; want 4", len(es), err)
	}
}
