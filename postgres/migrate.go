package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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

// SchemaVersion is the schema version this binary writes and the newest it
// reads.
func SchemaVersion() int { return len(migrations) }

// application is what redeliver_schema says of the program that made it.
const application = "redeliver"

// ourTables are the tables the migrations create, with the schema version
// that made each: a state at that version or later must have it.
var ourTables = map[string]int{"redeliver_checkpoints": 1, "redeliver_leases": 1, "redeliver_ledger": 1,
	"redeliver_replicas": 1, "redeliver_schema": 1, "redeliver_alert_marks": 2,
	"redeliver_pace_windows": 3}

// mustLoadMigrations reads migrations/NNNN_name.sql; numbers run 1, 2, 3 …
// without gaps, or the binary is broken (any test finds it).
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
			panic(fmt.Sprintf("postgres: migration %s: want number %04d", name, i+1))
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms
}

// init finds the schema, checks it, migrates it (unless read-only) and
// learns the state's id for advisory locks.
func (s *Store) init(ctx context.Context) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return s.dbErr(err)
	}
	if schema == nil {
		return redeliver.Errorf(redeliver.EInvalid,
			"state %s: no schema to keep the state in: the search_path names no schema that exists and this role may use (create it, grant USAGE on it, or set ?search_path=NAME)", s.name)
	}
	s.schema = *schema
	s.upsertLedger = fmt.Sprintf(upsertLedgerSQL, s.table("redeliver_ledger"))
	s.replaceLedger = fmt.Sprintf(replaceLedgerSQL, s.table("redeliver_ledger"))
	if s.readOnly {
		version, err := s.inspect(ctx, s.pool)
		if err != nil {
			return err
		}
		switch {
		case version == 0:
			return redeliver.Errorf(redeliver.ENotFound, "no redeliver state in schema %s of %s: nothing has run with it yet", s.schema, s.name)
		case version < SchemaVersion():
			return redeliver.Errorf(redeliver.EInvalid,
				"state %s has schema version %d, older than this redeliver's %d: a run (not a dry run) upgrades it",
				s.name, version, SchemaVersion())
		}
	} else if err := s.migrate(ctx); err != nil {
		return err
	}
	var oid uint32
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1)::oid`, s.table("redeliver_schema")).Scan(&oid); err != nil {
		return s.dbErr(err)
	}
	s.stateID = int32(oid)
	return nil
}

// inspect returns the schema version of the state (0 when there is none
// yet), refusing tables redeliver did not make and newer schemas.
func (s *Store) inspect(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	rows, err := q.Query(ctx, `SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = ANY($2) ORDER BY 1`,
		s.schema, slices.Collect(maps.Keys(ourTables)))
	if err != nil {
		return 0, s.dbErr(err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, s.dbErr(err)
	}
	if !slices.Contains(found, "redeliver_schema") {
		if len(found) > 0 {
			return 0, redeliver.Errorf(redeliver.EInvalid,
				"schema %s of %s is not a redeliver state: it has tables redeliver did not make (%s); use another schema (?search_path=NAME)",
				s.schema, s.name, strings.Join(found, ", "))
		}
		return 0, nil
	}
	var app string
	var version int
	err = q.QueryRow(ctx, `SELECT application, version FROM `+s.table("redeliver_schema")).Scan(&app, &version)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		// No right to read it, or no server: say so, not "foreign".
		var pe *pgconn.PgError
		if (errors.As(err, &pe) && pe.Code == "42501") || unavailable(err) {
			return 0, s.dbErr(err)
		}
	}
	if err != nil || app != application {
		return 0, redeliver.Errorf(redeliver.EInvalid,
			"schema %s of %s is not a redeliver state: its table redeliver_schema was made by another program; use another schema (?search_path=NAME)",
			s.schema, s.name)
	}
	// A newer schema is refused before anything else looks at it.
	if version > SchemaVersion() {
		return 0, redeliver.Errorf(redeliver.EInvalid,
			"state %s has schema version %d, newer than this redeliver knows (%d): upgrade redeliver, or use another schema",
			s.name, version, SchemaVersion())
	}
	var missing []string
	for t, v := range ourTables {
		if version >= v && !slices.Contains(found, t) {
			missing = append(missing, t)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return 0, redeliver.Errorf(redeliver.EInvalid, "state %s is damaged: schema %s lacks the tables %s",
			s.name, s.schema, strings.Join(missing, ", "))
	}
	return version, nil
}

// migrate brings the schema up to SchemaVersion in one transaction, so a
// failure leaves the old schema whole. A transaction-scoped advisory lock
// keeps two processes opening a new state at once from both creating it.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.dbErr(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, applicationID, s.schema); err != nil {
		return s.dbErr(err)
	}
	version, err := s.inspect(ctx, tx)
	if err != nil {
		return err
	}
	if version == SchemaVersion() {
		return nil
	}
	// The migrations name tables unqualified: they land in our schema.
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{s.schema}.Sanitize()); err != nil {
		return s.dbErr(err)
	}
	for _, m := range migrations[version:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return redeliver.Wrap(redeliver.ErrorCode(s.dbErr(err)), s.dbErr(err), "migration %s", m.name)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.table("redeliver_schema")+` (application, version) VALUES ($1, $2)
		ON CONFLICT (singleton) DO UPDATE SET application = EXCLUDED.application, version = EXCLUDED.version`,
		application, SchemaVersion()); err != nil {
		return s.dbErr(err)
	}
	return s.dbErr(tx.Commit(ctx))
}
