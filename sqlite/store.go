// Package sqlite is the embedded default redeliver.Store: one SQLite file
// (modernc.org/sqlite, no cgo) holding every target's checkpoint and ledger.
//
// The file lives by default in the XDG state directory:
// $XDG_STATE_HOME/redeliver/state.db, or ~/.local/state/redeliver/state.db
// when XDG_STATE_HOME is unset (see DefaultPath). A run holds an flock on the
// sidecar <file>.lock beside the real file, symbolic links resolved (see
// Store.Lock); a state file with a second hard link is refused.
//
// Crash safety is the point of the file: it runs in WAL mode with
// synchronous=FULL, so an entry is on disk when Put returns. Opening never
// writes to a file before it has passed its checks: a file that is not a
// redeliver state database, is corrupted, or has a schema newer than this
// binary is refused with an EInvalid error naming it, and left untouched.
// Times are stored as Unix nanoseconds in UTC (NULL for the zero time) and
// read back in UTC, so a value round-trips exactly.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redeliver/redeliver"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeout is how long a statement waits for another process's write
// (a `redeliver status` reader never blocks a writer in WAL mode, but a
// second writer does).
const busyTimeout = 10 * time.Second

// Store is a redeliver.Store on one SQLite file. It is safe for concurrent
// use: all statements go through a single connection, one at a time.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool
}

var _ redeliver.Store = (*Store)(nil)

// DefaultPath is where the state lives when no path is given:
// $XDG_STATE_HOME/redeliver/state.db, else ~/.local/state/redeliver/state.db.
// A relative XDG_STATE_HOME is ignored, as the XDG spec asks.
func DefaultPath() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "redeliver", "state.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", redeliver.Errorf(redeliver.EInvalid,
			"cannot find a place for the state: no home directory (%v); set XDG_STATE_HOME or pass a state path", err)
	}
	return filepath.Join(home, ".local", "state", "redeliver", "state.db"), nil
}

// Open opens the state file at path for a run, creating it and its parent
// directories (mode 0700) when missing, and migrating its schema. It returns
// an EInvalid error naming the file when the file is not a redeliver state
// database, is corrupted, has a newer schema than this binary, or cannot be
// written.
func Open(path string) (*Store, error) {
	ctx := context.Background()
	if path == "" {
		return nil, redeliver.Errorf(redeliver.EInvalid, "state path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "cannot create the directory of state %s", path)
	}
	// A new file is built whole under a temporary name and linked into
	// place, so a run starting at the same moment never sees it half made;
	// an existing one is checked before anything may write to it.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := create(ctx, path); err != nil {
			return nil, err
		}
	}
	if err := checkLinks(path); err != nil {
		return nil, err
	}
	if _, err := check(ctx, path); err != nil {
		return nil, err
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}

	dsn, err := dataSource(path, false)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, redeliver.Wrap(redeliver.EInternal, err, "state %s", path)
	}
	// One connection: SQLite has one writer anyway, and it makes every
	// method safe for concurrent use without SQLITE_BUSY between our own
	// goroutines.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	if err := migrate(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, path: path}, nil
}

// OpenReadOnly opens an existing state file for reading only, for
// `redeliver status` and dry runs: it never creates, migrates or writes the
// file. A missing file is an ENotFound error naming the path.
func OpenReadOnly(path string) (*Store, error) {
	ctx := context.Background()
	if path == "" {
		return nil, redeliver.Errorf(redeliver.EInvalid, "state path is empty")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, redeliver.Errorf(redeliver.ENotFound, "no redeliver state at %s: nothing has run with it yet", path)
	}
	if err := checkLinks(path); err != nil {
		return nil, err
	}
	version, err := check(ctx, path)
	if err != nil {
		return nil, err
	}
	switch {
	case version == 0:
		return nil, redeliver.Errorf(redeliver.ENotFound, "state %s is empty: nothing has run with it yet", path)
	case version < schemaVersion():
		return nil, redeliver.Errorf(redeliver.EInvalid,
			"state %s has schema version %d, older than this redeliver's %d: a run (not a dry run) upgrades it",
			path, version, schemaVersion())
	}
	dsn, err := dataSource(path, true)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, redeliver.Wrap(redeliver.EInternal, err, "state %s", path)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fileError(path, err)
	}
	return &Store{db: db, path: path, readOnly: true}, nil
}

// dataSource is the driver's name for the file: a file: URI, so that any
// character may appear in the path and SQLite's mode=ro applies.
func dataSource(path string, readOnly bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", redeliver.Wrap(redeliver.EInvalid, err, "state %s", path)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x on Windows
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	if readOnly {
		q.Set("mode", "ro")
	} else {
		// IMMEDIATE: a transaction takes the write lock when it begins, so
		// it waits (busy_timeout) instead of failing when it would upgrade.
		q.Set("_txlock", "immediate")
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "FULL") // WAL's NORMAL may lose the last commits on power loss
	}
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String(), nil
}

// create builds a new state file at path: it migrates a fresh database
// under a temporary name in the same directory, folds the WAL into the file
// (checking that this worked), closes it, checks the result as Open checks
// any state, and only then hard-links it into place. A failure on the way
// (a full disk, say) leaves nothing behind: before this order, a full disk
// during the close left a 12 KB file missing its tables at path, which
// every later run refused as corrupted. If another process linked its own
// first, that one is kept: both are complete.
func create(ctx context.Context, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+newSuffix+"*")
	if err != nil {
		return writeError(path, err)
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"} {
			os.Remove(p)
		}
	}()
	dsn, err := dataSource(tmp, false)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return redeliver.Wrap(redeliver.EInternal, err, "state %s", path)
	}
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, path); err != nil {
		db.Close()
		return newStateError(path, err)
	}
	// Closing folds the WAL into the file too, but a failure there is not
	// reported: SQLite keeps the WAL for the next open, which here would
	// be removed with the temporary name. Fold it now, and look.
	var busy, logFrames, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		db.Close()
		return newStateError(path, err)
	}
	if busy != 0 || logFrames > 0 {
		db.Close()
		return redeliver.Errorf(redeliver.EInternal, "state %s: the new database could not be completed (checkpoint: busy %d, %d of %d pages)", path, busy, done, logFrames)
	}
	if err := db.Close(); err != nil {
		return newStateError(path, err)
	}
	if fi, err := os.Stat(tmp + "-wal"); err == nil && fi.Size() > 0 {
		return redeliver.Errorf(redeliver.EInternal, "state %s: the new database could not be completed (%d bytes left in its journal)", path, fi.Size())
	}
	if v, err := check(ctx, tmp); err != nil || v != schemaVersion() {
		if err == nil {
			err = fmt.Errorf("schema version %d", v)
		}
		return redeliver.Wrap(redeliver.EInternal, err, "state %s: the new database did not pass its own check", path)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return writeError(path, err)
	}
	return nil
}

// newStateError names the state in an error met while building it aside,
// and says so plainly when the disk is full (SQLite says "disk I/O error"
// when it cannot grow the -shm file).
func newStateError(path string, err error) error {
	if code := sqliteCode(err); code&0xff == sqlite3.SQLITE_FULL || code == sqlite3.SQLITE_IOERR_SHMSIZE || errors.Is(err, syscall.ENOSPC) {
		return redeliver.Wrap(redeliver.EInvalid, err, "cannot create state %s: the disk is full (nothing was left there)", path)
	}
	return fileError(path, err)
}

// newSuffix marks the temporary name create builds a new state under.
const newSuffix = ".new-"

// checkLinks refuses a state file with more than one name (hard link).
// SQLite keeps a database's -wal and -shm beside the name it was opened
// by: a run killed through one name leaves its last writes in a journal
// that a run through another name never reads (so it would redeliver what
// the first had asked for), and a later checkpoint of that journal would
// overwrite newer pages. A temporary name of create's that a killed run
// left behind (<file>.new-…, the same file) is removed first.
func checkLinks(path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || links(fi) <= 1 {
		return nil // check reports a file it cannot read, or that is no file
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), base+newSuffix) {
				continue
			}
			other := filepath.Join(dir, e.Name())
			if ofi, err := os.Lstat(other); err == nil && os.SameFile(fi, ofi) {
				_ = os.Remove(other)
			}
		}
	}
	if fi, err = os.Stat(path); err != nil || links(fi) <= 1 {
		return nil
	}
	return redeliver.Errorf(redeliver.EInvalid,
		"state %s has %d hard links: SQLite keeps a database's journal (-wal) beside the name it is opened by, so runs through different names would not see each other's last writes, and could redeliver events twice; keep one name (remove the other links; a symbolic link is fine)",
		path, links(fi))
}

// checkWritable tells a read-only file apart before SQLite, which would
// quietly open it read-only and fail later, at the first write.
func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return writeError(path, err)
	}
	return f.Close()
}

// sqliteCode returns the (extended) SQLite result code in err's chain, or -1.
func sqliteCode(err error) int {
	var se *msqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return -1
}

// writeError names the file in an error met while opening it for writing.
func writeError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return redeliver.Wrap(redeliver.EInvalid, err,
			"state %s is read-only: check its permissions, or use a command that only reads", path)
	}
	return fileError(path, err)
}

// fileError gives a SQLite error the file's name and a code.
func fileError(path string, err error) error {
	code := sqliteCode(err)
	switch {
	case code == sqlite3.SQLITE_READONLY_DIRECTORY || code == sqlite3.SQLITE_READONLY_CANTINIT:
		return redeliver.Wrap(redeliver.EInvalid, err,
			"state %s cannot be opened: its directory %s must be writable, as SQLite keeps the -wal and -shm files of the database there",
			path, filepath.Dir(path))
	}
	switch code & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return redeliver.Wrap(redeliver.EInvalid, err, "%s is corrupted", path)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return redeliver.Wrap(redeliver.EInvalid, err,
			"state %s cannot be opened: check the permissions of the file and of its directory %s",
			path, filepath.Dir(path))
	}
	return redeliver.Wrap(redeliver.EInternal, err, "state %s", path)
}

// Path returns the state file's path as given to Open.
func (s *Store) Path() string { return s.path }

// Close closes the database. It does not release a lock taken with Lock.
func (s *Store) Close() error { return s.db.Close() }

// Checkpoint returns the target's checkpoint; ok is false when it has none.
func (s *Store) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	var t, runAt sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT time, run_at FROM checkpoints WHERE target_key = ?`, key).Scan(&t, &runAt)
	if errors.Is(err, sql.ErrNoRows) {
		return redeliver.Checkpoint{}, false, nil
	}
	if err != nil {
		return redeliver.Checkpoint{}, false, fileError(s.path, err)
	}
	return redeliver.Checkpoint{Time: fromNanos(t), RunAt: fromNanos(runAt)}, true, nil
}

// SetCheckpoint records the target's checkpoint, replacing any earlier one.
func (s *Store) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	if err := s.writable(key); err != nil {
		return err
	}
	if !storable(cp.Time) || !storable(cp.RunAt) {
		return redeliver.Errorf(redeliver.EInvalid, "state %s: checkpoint of %s: time out of range (%s, %s)", s.path, key, cp.Time, cp.RunAt)
	}
	_, err := s.db.ExecContext(ctx, `REPLACE INTO checkpoints (target_key, time, run_at) VALUES (?, ?, ?)`,
		key, nanos(cp.Time), nanos(cp.RunAt))
	return s.writeErr(err)
}

const ledgerColumns = `guid, event, action, first_seen, attempt_id, attempt_at, requests,
	last_request, intent_at, seen, seen_mark, state, updated,
	granted, forced, manual, manual_by, manual_at`

// Entries returns the target's ledger entries, ordered by guid. A row with
// an unknown state is an EInvalid error naming the target and the guid.
func (s *Store) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM ledger WHERE target_key = ? ORDER BY guid`, key)
}

// lookupBatch is how many guids one Lookup query asks for: well under
// SQLite's limit on a statement's parameters (32766).
const lookupBatch = 500

// Lookup returns the target's entries among guids, in guid order.
func (s *Store) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	var out []redeliver.LedgerEntry
	for len(guids) > 0 {
		n := min(len(guids), lookupBatch)
		args := make([]any, 0, n+1)
		args = append(args, key)
		for _, g := range guids[:n] {
			args = append(args, g)
		}
		es, err := s.query(ctx, key, `SELECT `+ledgerColumns+` FROM ledger WHERE target_key = ? AND guid IN (?`+
			strings.Repeat(", ?", n-1)+`) ORDER BY guid`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
		guids = guids[n:]
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b redeliver.LedgerEntry) int { return strings.Compare(a.GUID, b.GUID) })
	}
	return out, nil
}

// OpenEntries returns up to limit open entries after the guid after, in
// guid order.
func (s *Store) OpenEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM ledger WHERE target_key = ? AND guid > ?
		AND state IN ('failed', 'pending') ORDER BY guid LIMIT ?`, key, after, limit)
}

// LostEntries returns up to limit exhausted or expired entries after the
// guid after, in guid order.
func (s *Store) LostEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM ledger WHERE target_key = ? AND guid > ?
		AND state IN ('exhausted', 'expired') ORDER BY guid LIMIT ?`, key, after, limit)
}

// EntriesAfter returns up to limit entries after the guid after, in guid
// order.
func (s *Store) EntriesAfter(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM ledger WHERE target_key = ? AND guid > ?
		ORDER BY guid LIMIT ?`, key, after, limit)
}

// Counts returns how many entries the target has in each state.
func (s *Store) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, count(*) FROM ledger WHERE target_key = ? GROUP BY state`, key)
	if err != nil {
		return nil, fileError(s.path, err)
	}
	defer rows.Close()
	counts := map[redeliver.State]int{}
	for rows.Next() {
		var st redeliver.State
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fileError(s.path, err)
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fileError(s.path, err)
	}
	return counts, nil
}

// query reads ledger rows.
func (s *Store) query(ctx context.Context, key, q string, args ...any) ([]redeliver.LedgerEntry, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fileError(s.path, err)
	}
	defer rows.Close()
	var entries []redeliver.LedgerEntry
	for rows.Next() {
		var (
			e                                                   redeliver.LedgerEntry
			firstSeen, attemptAt, lastRequest, intentAt, update sql.NullInt64
			manualAt                                            sql.NullInt64
		)
		if err := rows.Scan(&e.GUID, &e.Event, &e.Action, &firstSeen, &e.AttemptID, &attemptAt, &e.Requests,
			&lastRequest, &intentAt, &e.Seen, &e.SeenMark, &e.State, &update,
			&e.Granted, &e.Force, &e.Manual, &e.ManualBy, &manualAt); err != nil {
			return nil, fileError(s.path, err)
		}
		if !e.State.Valid() {
			return nil, redeliver.Errorf(redeliver.EInvalid, "state %s: target %s guid %s has unknown state %q",
				s.path, key, e.GUID, e.State)
		}
		e.FirstSeen, e.AttemptAt, e.LastRequest = fromNanos(firstSeen), fromNanos(attemptAt), fromNanos(lastRequest)
		e.IntentAt, e.Updated, e.ManualAt = fromNanos(intentAt), fromNanos(update), fromNanos(manualAt)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fileError(s.path, err)
	}
	return entries, nil
}

// Put writes entries, inserting or replacing by guid, in one transaction:
// when it returns nil they are on disk. An entry without a guid, with an
// unknown state or a time SQLite cannot hold is an EInvalid error, and then
// nothing is written.
func (s *Store) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	if err := s.writable(key); err != nil {
		return err
	}
	for _, e := range entries {
		if err := validEntry(e); err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "state %s: target %s", s.path, key)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.writeErr(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `REPLACE INTO ledger (target_key, `+ledgerColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return s.writeErr(err)
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, key, e.GUID, e.Event, e.Action, nanos(e.FirstSeen), e.AttemptID,
			nanos(e.AttemptAt), e.Requests, nanos(e.LastRequest), nanos(e.IntentAt), e.Seen, e.SeenMark,
			string(e.State), nanos(e.Updated), e.Granted, e.Force, string(e.Manual), e.ManualBy, nanos(e.ManualAt)); err != nil {
			return s.writeErr(err)
		}
	}
	return s.writeErr(tx.Commit())
}

// validEntry reports what of e the store cannot keep faithfully.
func validEntry(e redeliver.LedgerEntry) error {
	switch {
	case e.GUID == "":
		return errors.New("ledger entry without a guid")
	case !e.State.Valid():
		return redeliver.Errorf(redeliver.EInvalid, "guid %s: unknown state %q", e.GUID, e.State)
	}
	for _, t := range []time.Time{e.FirstSeen, e.AttemptAt, e.LastRequest, e.IntentAt, e.Updated, e.ManualAt} {
		if !storable(t) {
			return redeliver.Errorf(redeliver.EInvalid, "guid %s: time %s out of range", e.GUID, t)
		}
	}
	return nil
}

// closedStates are the final states Prune may forget.
var closedStates = []redeliver.State{redeliver.StateRecovered, redeliver.StateExhausted, redeliver.StateExpired}

// Prune deletes the target's closed entries (recovered, exhausted, expired)
// whose newest attempt is older than before, and returns how many. An
// entry with no attempt time counts as older than any before.
func (s *Store) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	if err := s.writable(key); err != nil {
		return 0, err
	}
	if before.IsZero() {
		return 0, nil // nothing is older than the zero time
	}
	// Clamp rather than refuse: Prune(key, far future) means "all closed".
	bound := int64(math.MaxInt64)
	if before.Before(minTime) {
		bound = math.MinInt64
	} else if !before.After(maxTime) {
		bound = before.UnixNano()
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM ledger WHERE target_key = ? AND state IN (?, ?, ?)
		AND (attempt_at IS NULL OR attempt_at < ?)`,
		key, string(closedStates[0]), string(closedStates[1]), string(closedStates[2]), bound)
	if err != nil {
		return 0, s.writeErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.writeErr(err)
	}
	if n > 0 {
		if err := s.pruneAlertMarks(ctx, key); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// Targets lists every key with a checkpoint or a ledger entry, sorted.
func (s *Store) Targets(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT target_key FROM checkpoints UNION SELECT target_key FROM ledger ORDER BY 1`)
	if err != nil {
		return nil, fileError(s.path, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fileError(s.path, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fileError(s.path, err)
	}
	return keys, nil
}

// writable refuses writes through a read-only store and empty keys, with a
// clearer message than SQLite's "attempt to write a readonly database".
func (s *Store) writable(key string) error {
	if s.readOnly {
		return redeliver.Errorf(redeliver.EInvalid, "state %s was opened read-only", s.path)
	}
	if key == "" {
		return redeliver.Errorf(redeliver.EInvalid, "state %s: empty target key", s.path)
	}
	return nil
}

// writeErr names the file in a write error; nil stays nil.
func (s *Store) writeErr(err error) error {
	if err == nil {
		return nil
	}
	return fileError(s.path, err)
}

// The range of time.Time that Unix nanoseconds in an int64 can hold
// (years 1677 to 2262).
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// storable reports whether t survives nanos and fromNanos unchanged (in UTC).
func storable(t time.Time) bool {
	return t.IsZero() || (!t.Before(minTime) && !t.After(maxTime))
}

// nanos is how a time is stored: Unix nanoseconds, or NULL for the zero
// time, which is year 1 and out of range (0 would be 1970, a real time).
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos undoes nanos. The result is in UTC with no monotonic reading,
// so it compares == with the UTC time that was stored.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
