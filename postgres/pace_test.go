package postgres_test

import (
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// The learned pace contract, on a fresh schema per test.
func TestContractPace(t *testing.T) {
	storetest.Pace(t, func(t testing.TB) func(testing.TB) redeliver.PaceStore {
		dsn := pgtest.DSN(t)
		return func(t testing.TB) redeliver.PaceStore { return open(t, dsn) }
	})
}
