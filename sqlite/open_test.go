package sqlite_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// fingerprint hashes the file, so a test can tell it was not touched.
func fingerprint(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// refused asserts that Open and OpenReadOnly both refuse the file with an
// EInvalid error naming it and containing each of words, and leave it
// byte for byte as it was.
func refused(t *testing.T, path string, words ...string) {
	t.Helper()
	before := fingerprint(t, path)
	for name, open := range map[string]func(string) (*sqlite.Store, error){
		"Open": sqlite.Open, "OpenReadOnly": sqlite.OpenReadOnly,
	} {
		s, err := open(path)
		if err == nil {
			s.Close()
			t.Errorf("%s succeeded", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("%s: code %q, want %q", name, redeliver.ErrorCode(err), redeliver.EInvalid)
		}
		for _, w := range append([]string{path}, words...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", name, err, w)
			}
		}
	}
	if fingerprint(t, path) != before {
		t.Errorf("%s was modified", path)
	}
}

// filled makes a closed state file with n entries.
func filled(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	es := make([]redeliver.LedgerEntry, n)
	for i := range es {
		es[i] = entry(fmt.Sprintf("guid-%06d", i))
	}
	if err := s.Put(context.Background(), "org/acme/hooks/1", es...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A new file and an empty one are both migrated to the current schema, and
// opening again migrates nothing.
func TestMigrateFromEmpty(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "new.db"), empty} {
		for range 2 {
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "k", entry("g")); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
		var version, appID int
		raw := rawDB(t, path)
		if err := raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 3 {
			t.Errorf("%s: user_version %d, %v; want 3", path, version, err)
		}
		if err := raw.QueryRow("PRAGMA application_id").Scan(&appID); err != nil || appID == 0 {
			t.Errorf("%s: application_id %d, %v", path, appID, err)
		}
		var mode string
		if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("%s: journal_mode %q, %v; want wal", path, mode, err)
		}
		raw.Close()
	}
	// OpenReadOnly does not migrate: an empty file has no state yet.
	empty2 := filepath.Join(dir, "empty2.db")
	if err := os.WriteFile(empty2, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.OpenReadOnly(empty2); redeliver.ErrorCode(err) != redeliver.ENotFound {
		t.Errorf("OpenReadOnly(empty): %v; want ENotFound", err)
	}
}

func TestRefuseNewerSchema(t *testing.T) {
	path := filled(t, 10)
	raw := rawDB(t, path)
	if _, err := raw.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	refused(t, path, "99", "(3)", "newer")
}

func TestRefuseTruncated(t *testing.T) {
	path := filled(t, 2000)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	refused(t, path, "corrupted")
}

func TestRefuseGarbage(t *testing.T) {
	dir := t.TempDir()
	noise := make([]byte, 8192)
	rand.Read(noise)
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, noise, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, garbage, "not a redeliver state database")

	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, text, "not a redeliver state database")

	// SQLite's magic, then noise: SQLite's own checks have to catch it.
	magic := filepath.Join(dir, "magic.db")
	if err := os.WriteFile(magic, append([]byte("SQLite format 3\x00"), noise...), 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, magic)

	// A page torn in the middle of a valid file.
	torn := filled(t, 2000)
	b, err := os.ReadFile(torn)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)/2:], noise[:4096])
	if err := os.WriteFile(torn, b, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, torn, "corrupted")
}

func TestRefuseForeignDatabase(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	raw := rawDB(t, other)
	if _, err := raw.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
		INSERT INTO users (name) VALUES ('ann')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	refused(t, other, "not a redeliver state database", "users")

	// Tables with our names but not made by us (no application id).
	lookalike := filepath.Join(dir, "lookalike.db")
	raw = rawDB(t, lookalike)
	if _, err := raw.Exec(`CREATE TABLE ledger (x); CREATE TABLE checkpoints (y); PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	refused(t, lookalike, "not a redeliver state database")

	// Our file, with someone else's table added.
	mixed := filled(t, 1)
	raw = rawDB(t, mixed)
	if _, err := raw.Exec(`CREATE TABLE extra (z)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	refused(t, mixed, "extra")
}

func TestRefuseDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := sqlite.Open(dir)
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(directory): %v", err)
	}
}
