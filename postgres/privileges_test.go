package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// The privileges the README lists are enough once the schema exists, and
// a role without them gets exit 2 and a message that says so.
func TestPrivileges(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t)
	dsn := pgtest.WithSchema(t, schema)
	open(t, dsn).Close() // the owner migrates

	var b [4]byte
	rand.Read(b[:])
	role := "rt_role_" + hex.EncodeToString(b[:])
	pgtest.Exec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		pgtest.Exec(t, "DROP OWNED BY "+role)
		pgtest.Exec(t, "DROP ROLE "+role)
	})
	u, _ := url.Parse(dsn)
	u.User = url.User(role)
	roleDSN := u.String()
	s := pgx.Identifier{schema}.Sanitize()

	_, err := postgres.Open(ctx, roleDSN, postgres.Options{})
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "grant USAGE") {
		t.Errorf("no USAGE: %v", err)
	}
	pgtest.Exec(t, "GRANT USAGE ON SCHEMA "+s+" TO "+role)
	_, err = postgres.Open(ctx, roleDSN, postgres.Options{})
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "lacks a privilege") {
		t.Errorf("no table privileges: %v", err)
	}
	pgtest.Exec(t, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+s+" TO "+role)
	st := open(t, roleDSN)
	unlock, err := st.Lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		st.Put(ctx, "k", storetest.Entry("g")),
		st.SetCheckpoint(ctx, "k", redeliver.Checkpoint{Time: time.Unix(1, 0).UTC()}),
		st.SetAlertMarks(ctx, "k", time.Unix(1, 0), map[string]string{"g": "exhausted/1"}),
		unlock(),
		st.Heartbeat(ctx, "r1", 0),
	} {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := st.Prune(ctx, "k", time.Now()); err != nil {
		t.Error(err)
	}
	if _, err := st.Replicas(ctx); err != nil {
		t.Error(err)
	}
	if _, err := st.AlertMarks(ctx, "k"); err != nil {
		t.Error(err)
	}
	l, err := st.Lease(ctx, "k", "r1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Fenced(l).Put(ctx, "k", storetest.Entry("g2")); err != nil {
		t.Error(err)
	}
	if err := st.Fenced(l).SetAlertMarks(ctx, "k", time.Unix(1, 0), map[string]string{"g2": "expired/0"}); err != nil {
		t.Error(err)
	}
}
