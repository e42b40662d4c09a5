// Package postgres is a redeliver.Store on PostgreSQL (github.com/jackc/pgx/v5),
// for a state shared by several machines: scheduled runs on different hosts,
// or several `serve` replicas that split the targets between them with
// leases (see Store.Lease and Store.Fenced).
//
// The state is a set of tables named redeliver_* in one schema: the first
// schema of the connection's search_path (add ?search_path=NAME to the URL
// to choose one). Opening checks them before anything is written: tables
// another program made, or a schema newer than this binary, are refused with
// an EInvalid error; a missing or older schema is migrated in one
// transaction. Times are stored as Unix nanoseconds, as in the SQLite store,
// so every value round-trips exactly.
//
// The password never appears in an error or a log line: it comes from the
// URL, PGPASSWORD, a libpq passfile (passfile=PATH or PGPASSFILE), or
// password_file=PATH (a file that holds only the password, as a mounted
// secret does), and every message names the state by its URL with the
// password removed (see Redact).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/redeliver/redeliver"
)

// Options tune Open.
type Options struct {
	// ReadOnly opens an existing state for reading only (status, dry runs):
	// nothing is created, migrated or written. A state that does not exist
	// yet is an ENotFound error.
	ReadOnly bool
	// Now is the clock of leases, heartbeats and Lock's check for live
	// leases; nil means time.Now. Tests pass a controllable one.
	Now func() time.Time
}

// Store is a redeliver.Store on PostgreSQL. It is safe for concurrent use.
// While Lock is held, every statement runs on the connection that holds the
// lock: if that connection breaks, the lock is gone and so is the right to
// write, and every later call fails instead of writing unlocked.
type Store struct {
	pool     *pgxpool.Pool
	name     string // the URL without its password: for messages
	secrets  []string
	schema   string
	stateID  int32 // the oid of redeliver_schema: names this state in advisory locks
	readOnly bool
	now      func() time.Time

	upsertLedger  string // upsertLedgerSQL on our table
	replaceLedger string // replaceLedgerSQL on our table

	mu     sync.Mutex // guards locked and serialises its use
	locked *pgxpool.Conn
}

var _ redeliver.Store = (*Store)(nil)

// defaultConnectTimeout bounds each connection attempt when the URL sets
// no connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// applicationID is the first key of every advisory lock we take ("rdlv"),
// the same mark the SQLite store writes in its header.
const applicationID int32 = 0x72646c76

// IsURL reports whether a --state value names a PostgreSQL state: a
// postgres:// or postgresql:// URL.
func IsURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Open connects to the state at dsn (a postgres:// URL), checks its schema
// and, unless opt.ReadOnly, migrates it. Errors are EInvalid for a bad URL,
// a foreign or newer schema, refused credentials or missing privileges;
// ENotFound for a read-only open of a state that does not exist;
// EInternal wrapping ErrUnavailable when no server answers.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, name, secrets, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if opt.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	s := &Store{name: name, secrets: secrets, readOnly: opt.ReadOnly, now: opt.Now}
	if s.now == nil {
		s.now = time.Now
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.dbErr(err)
	}
	s.pool = pool
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// parseDSN reads the URL, takes out password_file, and returns pgx's
// configuration, the URL to show in messages and the secrets to scrub.
func parseDSN(dsn string) (*pgxpool.Config, string, []string, error) {
	if !IsURL(dsn) {
		return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: want a postgres:// or postgresql:// URL", Redact(dsn))
	}
	u, err := url.Parse(dsn)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password and all
		}
		return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: not a valid URL: %v", Redact(dsn), err)
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		secrets = append(secrets, pw)
	}
	q := u.Query()
	if pw := q.Get("password"); pw != "" {
		secrets = append(secrets, pw)
	}
	name := Redact(dsn)
	pwFile := q.Get("password_file")
	if q.Has("password_file") {
		q.Del("password_file")
		u.RawQuery = q.Encode()
		if pwFile == "" {
			return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: password_file is empty", name)
		}
		if len(secrets) > 0 {
			return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: give the password once: in the URL or in password_file, not both", name)
		}
	}
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		// pgx masks passwords only on a best-effort basis: give its
		// reason without the connection string it quotes.
		msg := err.Error()
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			msg = pe.Unwrap().Error()
		}
		return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: %s", name, scrub(msg, secrets))
	}
	if pwFile != "" {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: cannot read password_file %s: %v", name, pwFile, errors.Unwrap(err))
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return nil, "", nil, redeliver.Errorf(redeliver.EInvalid, "state %s: password_file %s is empty", name, pwFile)
		}
		cfg.ConnConfig.Password = pw
	}
	if pw := cfg.ConnConfig.Password; pw != "" {
		secrets = append(secrets, pw) // from PGPASSWORD or a passfile, too
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A host that drops packets must not hang a run for minutes.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = applicationName()
	}
	return cfg, name, secrets, nil
}

// applicationName tells other sessions (and a Lock that waits) who we are.
func applicationName() string {
	host, _ := os.Hostname()
	n := fmt.Sprintf("redeliver %s pid %d", host, os.Getpid())
	if len(n) > 63 { // PostgreSQL's limit
		n = n[:63]
	}
	return n
}

// Redact returns a state URL fit for messages: the password in the user
// information and in a password= parameter is replaced by xxxxx. Anything
// that does not parse as a URL is shown only by its scheme.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		scheme, _, _ := strings.Cut(dsn, "://")
		if len(scheme) > 20 {
			scheme = scheme[:20]
		}
		return scheme + "://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// scrub removes every secret from a message.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// Name returns the state's URL without its password.
func (s *Store) Name() string { return s.name }

// Schema returns the schema that holds the state's tables.
func (s *Store) Schema() string { return s.schema }

// Close closes the connections. A held Lock is released with its
// connection.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.locked != nil {
		s.locked.Release()
		s.locked = nil
	}
	s.mu.Unlock()
	s.pool.Close()
	return nil
}

// table returns the schema-qualified, quoted name of one of our tables.
func (s *Store) table(name string) string {
	return pgx.Identifier{s.schema, name}.Sanitize()
}

// querier is what a statement runs on: the pool, or the locked connection.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// with runs fn on the locked connection while Lock is held, else on the pool.
func (s *Store) with(ctx context.Context, fn func(q querier) error) error {
	s.mu.Lock()
	if s.locked == nil {
		s.mu.Unlock()
		return fn(s.pool)
	}
	defer s.mu.Unlock()
	if s.locked.Conn().IsClosed() {
		return s.lostLock()
	}
	err := fn(s.locked)
	if err != nil && s.locked.Conn().IsClosed() {
		return s.lostLock()
	}
	return err
}

// lostLock is the error of every call after the lock's connection broke.
func (s *Store) lostLock() error {
	return &redeliver.Error{Code: redeliver.EConflict, Err: ErrUnavailable,
		Message: fmt.Sprintf("state %s: the run lock was lost with its connection to PostgreSQL; nothing more is written", s.name)}
}
