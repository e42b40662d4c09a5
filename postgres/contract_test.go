package postgres_test

import (
	"context"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// The Store contract, on a fresh schema per test.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t testing.TB) func(testing.TB) redeliver.Store {
		dsn := pgtest.DSN(t)
		return func(t testing.TB) redeliver.Store { return open(t, dsn) }
	})
}

// The alert marks contract, on a fresh schema per test.
func TestContractAlertMarks(t *testing.T) {
	storetest.AlertMarks(t, func(t testing.TB) func(testing.TB) storetest.MarkStore {
		dsn := pgtest.DSN(t)
		return func(t testing.TB) storetest.MarkStore { return open(t, dsn) }
	})
}

// open opens the store at dsn and closes it with the test.
func open(t testing.TB, dsn string, opts ...postgres.Options) *postgres.Store {
	t.Helper()
	var opt postgres.Options
	if len(opts) > 0 {
		opt = opts[0]
	}
	s, err := postgres.Open(context.Background(), dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
