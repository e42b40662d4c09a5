package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/storetest"
)

// The Store contract, on a fresh file per test.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t testing.TB) func(testing.TB) redeliver.Store {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(t testing.TB) redeliver.Store {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// The alert marks contract, on a fresh file per test.
func TestContractAlertMarks(t *testing.T) {
	storetest.AlertMarks(t, func(t testing.TB) func(testing.TB) storetest.MarkStore {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(t testing.TB) storetest.MarkStore {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}
