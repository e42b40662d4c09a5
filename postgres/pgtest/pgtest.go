// Package pgtest gives tests a fresh PostgreSQL schema each, on the server
// named by REDELIVER_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432/test),
// and drops it when the test ends, so packages tested in parallel never
// meet. Where no server answers, the test is skipped with a message saying
// how to start one, unless REDELIVER_REQUIRE_POSTGRES is set (as in CI),
// which turns the skip into a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the test server when REDELIVER_TEST_POSTGRES is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test"

// ServerURL returns the test server's URL.
func ServerURL() string {
	if u := os.Getenv("REDELIVER_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	probeOnce sync.Once
	probeErr  error
)

// Require skips (or, with REDELIVER_REQUIRE_POSTGRES set, fails) the test
// when no PostgreSQL answers at ServerURL.
func Require(t testing.TB) {
	t.Helper()
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, ServerURL())
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		probeErr = err
	})
	if probeErr == nil {
		return
	}
	msg := "no PostgreSQL answers at " + ServerURL() + " (" + probeErr.Error() + "); start one " +
		"(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or " +
		"docker run -e POSTGRES_HOST_AUTH_METHOD=trust -p 5432:5432 postgres:15 and createdb test) " +
		"or point REDELIVER_TEST_POSTGRES at one"
	if os.Getenv("REDELIVER_REQUIRE_POSTGRES") != "" {
		t.Fatal(msg + "; REDELIVER_REQUIRE_POSTGRES is set, so this fails instead of skipping")
	}
	t.Skip(msg + "; skipping")
}

// Schema creates a fresh schema on the test server and returns its name;
// it is dropped, with everything in it, when the test ends.
func Schema(t testing.TB) string {
	t.Helper()
	Require(t)
	var b [6]byte
	rand.Read(b[:])
	name := "rt_" + hex.EncodeToString(b[:])
	Exec(t, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// DSN returns the URL of a fresh schema (see Schema): the server's URL
// with search_path set to it.
func DSN(t testing.TB) string {
	t.Helper()
	return WithSchema(t, Schema(t))
}

// WithSchema returns the server's URL with search_path set to schema.
func WithSchema(t testing.TB, schema string) string {
	t.Helper()
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatalf("REDELIVER_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs statements on the test server as its (super)user, for tests
// that set up what a store must refuse.
func Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", strings.SplitN(sql, "\n", 2)[0], err)
	}
}
