package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/redeliver/redeliver"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered file of migrations/.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are applied in order; the number of the last one is the schema
// version this binary writes and the newest it can read.
var migrations = mustLoadMigrations(migrationFS)

// schemaVersion is the schema version this binary knows.
func schemaVersion() int { return len(migrations) }

// applicationID marks a SQLite file as ours ("rdlv" in the header), so that
// another program's database is refused instead of being migrated.
const applicationID = 0x72646c76

// ourTables are the tables the migrations create, with the schema version
// that made each. Any other table in a file means it is not ours (or not only
// ours), and we leave it alone.
var ourTables = map[string]int{"checkpoints": 1, "ledger": 1, "alert_marks": 2, "pace_windows": 3}

// mustLoadMigrations reads migrations/NNNN_name.sql. Numbers must run 1, 2,
// 3 … without gaps: a mistake there is a build mistake, caught by any test.
func mustLoadMigrations(fsys fs.FS) []migration {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	slices.Sort(names)
	ms := make([]migration, 0, len(names))
	for i, name := range names {
		num, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			panic(fmt.Sprintf("sqlite: migration %s: want number %04d", name, i+1))
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms
}

// sqliteMagic opens every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// check inspects an existing state file and returns its schema version (0
// for an empty database that can be initialized). It reads the header
// itself and then uses a read-only connection: a file that fails any check
// is left byte for byte as it was found.
func check(ctx context.Context, file string) (_ int, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, redeliver.Wrap(redeliver.EInvalid, err, "cannot read state %s", file)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, redeliver.Wrap(redeliver.EInvalid, err, "cannot read state %s", file)
	}
	if fi.IsDir() {
		f.Close()
		return 0, redeliver.Errorf(redeliver.EInvalid, "state %s is a directory, not a file", file)
	}
	if fi.Size() == 0 {
		f.Close()
		return 0, nil // SQLite's empty database
	}
	// Checking the magic ourselves gives garbage a clear message before
	// SQLite gets to call it anything.
	head := make([]byte, 100)
	n, err := io.ReadFull(f, head)
	f.Close()
	if !bytes.HasPrefix(head[:n], sqliteMagic) {
		return 0, redeliver.Errorf(redeliver.EInvalid, "%s is not a redeliver state database (not a SQLite file)", file)
	}
	if err != nil {
		return 0, redeliver.Errorf(redeliver.EInvalid, "%s is corrupted: truncated header (%d bytes)", file, n)
	}

	// SQLite's read-only connection to a WAL database makes an empty -wal
	// and a 32 KB -shm beside it. Beside a file refused as corrupted,
	// nothing will ever use them: remove those this check made. (Beside
	// a file refused for other reasons, another program, or a newer
	// redeliver, may be using them.)
	made := absentSidecars(file)
	defer func() {
		if err != nil && strings.Contains(err.Error(), file+" is corrupted") {
			removeSidecars(file, made)
		}
	}()
	dsn, err := dataSource(file, true)
	if err != nil {
		return 0, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return 0, redeliver.Wrap(redeliver.EInternal, err, "state %s", file)
	}
	defer db.Close()

	// Both facts come from one read transaction: a migration committing in
	// between must not show a new version with an old application id.
	var appID, version int
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fileError(file, err)
	}
	err = tx.QueryRowContext(ctx, "SELECT * FROM pragma_application_id, pragma_user_version").Scan(&appID, &version)
	tx.Rollback()
	if err != nil {
		return 0, fileError(file, err)
	}
	// A newer schema is refused before anything else looks at it: this
	// SQLite may not even parse it, and "corrupted" would be a lie.
	if appID == applicationID && version > schemaVersion() {
		return 0, redeliver.Errorf(redeliver.EInvalid,
			"state %s has schema version %d, newer than this redeliver knows (%d): upgrade redeliver, or use another --state file",
			file, version, schemaVersion())
	}
	if err := quickCheck(ctx, db, file); err != nil {
		return 0, err
	}
	tables, err := listTables(ctx, db)
	if err != nil {
		return 0, fileError(file, err)
	}
	if appID != applicationID {
		// Only a database with nothing in it may become ours.
		if version != 0 || len(tables) > 0 || appID != 0 {
			return 0, redeliver.Errorf(redeliver.EInvalid,
				"%s is not a redeliver state database (application_id %#x, user_version %d, tables: %s)",
				file, appID, version, strings.Join(tables, ", "))
		}
		return 0, nil
	}
	var foreign, missing []string
	for _, t := range tables {
		if _, ok := ourTables[t]; !ok {
			foreign = append(foreign, t)
		}
	}
	for t, v := range ourTables {
		if version >= v && !slices.Contains(tables, t) {
			missing = append(missing, t)
		}
	}
	slices.Sort(missing)
	if len(foreign) > 0 {
		return 0, redeliver.Errorf(redeliver.EInvalid,
			"%s is not a redeliver state database: it has tables redeliver did not make (%s)", file, strings.Join(foreign, ", "))
	}
	if len(missing) > 0 {
		return 0, redeliver.Errorf(redeliver.EInvalid, "%s is corrupted: missing tables %s", file, strings.Join(missing, ", "))
	}
	return version, nil
}

// absentSidecars lists which of file's -wal and -shm do not exist.
func absentSidecars(file string) []string {
	var out []string
	for _, p := range []string{file + "-wal", file + "-shm"} {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// removeSidecars removes the sidecars in made, as long as the -wal holds
// nothing: a journal with content is never thrown away.
func removeSidecars(file string, made []string) {
	if fi, err := os.Lstat(file + "-wal"); err == nil && fi.Size() > 0 {
		return
	}
	for _, p := range made {
		_ = os.Remove(p)
	}
}

// quickCheck runs PRAGMA quick_check: a truncated or damaged file is
// reported when opened, not halfway through a run.
func quickCheck(ctx context.Context, db *sql.DB, file string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return fileError(file, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fileError(file, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fileError(file, err)
	}
	if len(problems) > 0 {
		return redeliver.Errorf(redeliver.EInvalid, "%s is corrupted: %s", file, strings.Join(problems, "; "))
	}
	return nil
}

// listTables returns the names of the file's own tables, SQLite's internal
// ones left out.
func listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// migrate brings the schema up to schemaVersion in one transaction, so a
// crash leaves either the old schema or the new one. It reads the version
// inside the transaction: two processes opening a new file at once do not
// both create the tables.
func migrate(ctx context.Context, db *sql.DB, file string) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dataSource)
	if err != nil {
		return fileError(file, err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fileError(file, err)
	}
	if version > schemaVersion() {
		return redeliver.Errorf(redeliver.EInvalid,
			"state %s has schema version %d, newer than this redeliver knows (%d): upgrade redeliver, or use another --state file",
			file, version, schemaVersion())
	}
	if version == schemaVersion() {
		return nil
	}
	for _, m := range migrations[version:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return redeliver.Wrap(redeliver.EInternal, fileError(file, err), "migration %s", m.name)
		}
	}
	// PRAGMA takes no parameters; both values are our own integers.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return fileError(file, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion())); err != nil {
		return fileError(file, err)
	}
	if err := tx.Commit(); err != nil {
		return fileError(file, err)
	}
	return nil
}
