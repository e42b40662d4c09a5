package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// The state on PostgreSQL: the same run as a SQLite case, with --state
// naming a fresh schema, so the two rows of the table compare what the
// store costs (the API calls are the same: the state lives outside
// GitHub either way).

// pgServer is the server the PostgreSQL cases use: REDELIVER_TEST_POSTGRES,
// or the tests' default.
func pgServer() string {
	if u := os.Getenv("REDELIVER_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test"
}

// postgresCases are the cases run with the state on PostgreSQL: the speed
// target's run (20,000 attempts, 10% failed, 50 ms a request) and a large
// window without latency, where the store's share of the time shows most.
func postgresCases() []benchCase {
	return []benchCase{
		{Regime: ghes, Attempts: 20_000, Ratio: 0.10, Latency: 50 * time.Millisecond, NoScript: true, Postgres: true},
		{Regime: ghes, Attempts: 20_000, Ratio: 0.10, NoScript: true, Postgres: true},
	}
}

// stateFor returns the --state of a run in dir and what removes it
// afterwards: a SQLite file in dir, or a fresh schema for a PostgreSQL
// case (dropped by the cleanup).
func stateFor(c benchCase, dir string) (string, func()) {
	if !c.Postgres {
		return filepath.Join(dir, "state.db"), func() {}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "bench_" + hex.EncodeToString(b[:])
	if err := pgExec("CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize()); err != nil {
		// The run fails with the store's own message, which the report shows.
		return pgServer(), func() {}
	}
	u, err := url.Parse(pgServer())
	if err != nil {
		return pgServer(), func() {}
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { _ = pgExec("DROP SCHEMA " + pgx.Identifier{schema}.Sanitize() + " CASCADE") }
}

func pgExec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgServer())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}
