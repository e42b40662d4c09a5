package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/storetest"
)

// The learned pace contract, on a fresh file per test.
func TestContractPace(t *testing.T) {
	storetest.Pace(t, func(t testing.TB) func(testing.TB) redeliver.PaceStore {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(t testing.TB) redeliver.PaceStore {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}
