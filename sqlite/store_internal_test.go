package sqlite

import (
	"path/filepath"
	"testing"
	"testing/fstest"
)

// The settings crash safety rests on are in force on the store's connection.
func TestConnectionSettings(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"busy_timeout": "10000",
	} {
		var got string
		if err := s.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

func TestMigrationNumbering(t *testing.T) {
	if len(migrations) == 0 || migrations[0].name != "migrations/0001_init.sql" {
		t.Fatalf("migrations = %v", migrations)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": {}, "migrations/0003_b.sql": {}},
		"no number": {"migrations/init.sql": {}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			mustLoadMigrations(fsys)
		}()
	}
}
