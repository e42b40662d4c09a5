package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
)

// Checkpoint returns the target's checkpoint; ok is false when it has none.
func (s *Store) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	var cp redeliver.Checkpoint
	var ok bool
	err := s.with(ctx, func(q querier) error {
		var t, runAt *int64
		err := q.QueryRow(ctx, `SELECT checkpoint_time, run_at FROM `+s.table("redeliver_checkpoints")+` WHERE target_key = $1`, key).Scan(&t, &runAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return s.dbErr(err)
		}
		cp, ok = redeliver.Checkpoint{Time: fromNanos(t), RunAt: fromNanos(runAt)}, true
		return nil
	})
	return cp, ok, err
}

// SetCheckpoint records the target's checkpoint, replacing any earlier one.
func (s *Store) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	return s.setCheckpoint(ctx, nil, key, cp)
}

func (s *Store) setCheckpoint(ctx context.Context, fence *Lease, key string, cp redeliver.Checkpoint) error {
	if err := s.writable(key); err != nil {
		return err
	}
	if !storable(cp.Time) || !storable(cp.RunAt) {
		return redeliver.Errorf(redeliver.EInvalid, "state %s: checkpoint of %s: time out of range (%s, %s)", s.name, key, cp.Time, cp.RunAt)
	}
	return s.write(ctx, fence, key, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO `+s.table("redeliver_checkpoints")+` (target_key, checkpoint_time, run_at) VALUES ($1, $2, $3)
			ON CONFLICT (target_key) DO UPDATE SET checkpoint_time = EXCLUDED.checkpoint_time, run_at = EXCLUDED.run_at`,
			key, nanos(cp.Time), nanos(cp.RunAt))
		return err
	})
}

// write runs fn in a transaction, after checking the fence (when there is
// one) in the same transaction: the lease's row stays locked until commit,
// so a takeover either comes first and the write fails, or waits for it.
func (s *Store) write(ctx context.Context, fence *Lease, key string, fn func(tx pgx.Tx) error) error {
	return s.with(ctx, func(q querier) error {
		tx, err := q.Begin(ctx)
		if err != nil {
			return s.dbErr(err)
		}
		defer tx.Rollback(ctx)
		if fence != nil {
			if err := fence.check(ctx, tx, key); err != nil {
				return err
			}
		}
		if err := fn(tx); err != nil {
			return s.dbErr(err)
		}
		return s.dbErr(tx.Commit(ctx))
	})
}

const ledgerColumns = `guid, event, action, first_seen, attempt_id, attempt_at, requests,
	last_request, intent_at, seen, seen_mark, state, updated,
	granted, forced, manual, manual_by, manual_at`

// Entries returns the target's ledger entries, ordered by guid. A row with
// an unknown state is an EInvalid error naming the target and the guid.
func (s *Store) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM `+s.table("redeliver_ledger")+` WHERE target_key = $1 ORDER BY guid COLLATE "C"`, key)
}

// Lookup returns the target's entries among guids, in guid order.
func (s *Store) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	if len(guids) == 0 {
		return nil, nil
	}
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM `+s.table("redeliver_ledger")+
		` WHERE target_key = $1 AND guid = ANY($2) ORDER BY guid COLLATE "C"`, key, guids)
}

// OpenEntries returns up to limit open entries after the guid after, in
// the primary key's order, so that each batch is an index range.
func (s *Store) OpenEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM `+s.table("redeliver_ledger")+
		` WHERE target_key = $1 AND guid > $2 AND state IN ('failed', 'pending') ORDER BY guid LIMIT $3`, key, after, limit)
}

// LostEntries returns up to limit exhausted or expired entries after the
// guid after, in the primary key's order.
func (s *Store) LostEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM `+s.table("redeliver_ledger")+
		` WHERE target_key = $1 AND guid > $2 AND state IN ('exhausted', 'expired') ORDER BY guid LIMIT $3`, key, after, limit)
}

// EntriesAfter returns up to limit entries after the guid after, in the
// primary key's order.
func (s *Store) EntriesAfter(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return s.query(ctx, key, `SELECT `+ledgerColumns+` FROM `+s.table("redeliver_ledger")+
		` WHERE target_key = $1 AND guid > $2 ORDER BY guid LIMIT $3`, key, after, limit)
}

// Counts returns how many entries the target has in each state.
func (s *Store) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	counts := map[redeliver.State]int{}
	err := s.with(ctx, func(q querier) error {
		clear(counts)
		rows, err := q.Query(ctx, `SELECT state, count(*) FROM `+s.table("redeliver_ledger")+` WHERE target_key = $1 GROUP BY state`, key)
		if err != nil {
			return s.dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int64
			if err := rows.Scan(&st, &n); err != nil {
				return s.dbErr(err)
			}
			counts[redeliver.State(st)] = int(n)
		}
		return s.dbErr(rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// query reads ledger rows.
func (s *Store) query(ctx context.Context, key, sql string, args ...any) ([]redeliver.LedgerEntry, error) {
	var entries []redeliver.LedgerEntry
	err := s.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return s.dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e                                                   redeliver.LedgerEntry
				firstSeen, attemptAt, lastRequest, intentAt, update *int64
				manualAt                                            *int64
			)
			if err := rows.Scan(&e.GUID, &e.Event, &e.Action, &firstSeen, &e.AttemptID, &attemptAt, &e.Requests,
				&lastRequest, &intentAt, &e.Seen, &e.SeenMark, &e.State, &update,
				&e.Granted, &e.Force, &e.Manual, &e.ManualBy, &manualAt); err != nil {
				return s.dbErr(err)
			}
			if !e.State.Valid() {
				return redeliver.Errorf(redeliver.EInvalid, "state %s: target %s guid %s has unknown state %q", s.name, key, e.GUID, e.State)
			}
			e.FirstSeen, e.AttemptAt, e.LastRequest = fromNanos(firstSeen), fromNanos(attemptAt), fromNanos(lastRequest)
			e.IntentAt, e.Updated, e.ManualAt = fromNanos(intentAt), fromNanos(update), fromNanos(manualAt)
			entries = append(entries, e)
		}
		return s.dbErr(rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// Put writes entries, inserting or replacing by guid, in one transaction:
// when it returns nil they are committed. An entry without a guid, with an
// unknown state or a time out of range is an EInvalid error, and then
// nothing is written.
func (s *Store) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	return s.put(ctx, nil, key, entries)
}

func (s *Store) put(ctx context.Context, fence *Lease, key string, entries []redeliver.LedgerEntry) error {
	if err := s.writable(key); err != nil {
		return err
	}
	for _, e := range entries {
		if err := validEntry(e); err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "state %s: target %s", s.name, key)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	// One statement per chunk of rows, as arrays: far fewer round trips
	// than a statement per entry. A guid given twice keeps its last entry,
	// as a row replaced twice would.
	last := make(map[string]int, len(entries))
	for i, e := range entries {
		last[e.GUID] = i
	}
	rows := make([]redeliver.LedgerEntry, 0, len(last))
	for i, e := range entries {
		if last[e.GUID] == i {
			rows = append(rows, e)
		}
	}
	return s.write(ctx, fence, key, func(tx pgx.Tx) error {
		for len(rows) > 0 {
			chunk := rows[:min(len(rows), putChunk)]
			rows = rows[len(chunk):]
			if _, err := tx.Exec(ctx, s.upsertLedger, ledgerArrays(key, chunk)...); err != nil {
				return err
			}
		}
		return nil
	})
}

// Replace writes next in place of prev if the stored entry is still as
// prev was read (redeliver.Replacer), and reports whether it did.
func (s *Store) Replace(ctx context.Context, key string, prev, next redeliver.LedgerEntry) (bool, error) {
	if err := s.writable(key); err != nil {
		return false, err
	}
	if err := validEntry(next); err != nil {
		return false, redeliver.Wrap(redeliver.EInvalid, err, "state %s: target %s", s.name, key)
	}
	if prev.GUID != next.GUID {
		return false, redeliver.Errorf(redeliver.EInternal, "state %s: target %s: replacing guid %s with %s", s.name, key, prev.GUID, next.GUID)
	}
	args := ledgerArrays(key, []redeliver.LedgerEntry{next})
	row := make([]any, 0, len(args)+1)
	row = append(row, key)
	for _, a := range args[1:] {
		row = append(row, first(a))
	}
	row = append(row, nanos(prev.Updated), string(prev.State), int64(prev.Requests), nanos(prev.IntentAt), nanos(prev.LastRequest))
	var n int64
	err := s.write(ctx, nil, key, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, s.replaceLedger, row...)
		n = tag.RowsAffected()
		return err
	})
	return n == 1, err
}

// replaceLedgerSQL updates one row if it is still as read ($20 on): its
// update time, and in case two writes share one, what a redelivery
// changes (the intent, the state, the requests).
const replaceLedgerSQL = `UPDATE %s SET event = $3, action = $4, first_seen = $5, attempt_id = $6,
	attempt_at = $7, requests = $8, last_request = $9, intent_at = $10, seen = $11, seen_mark = $12,
	state = $13, updated = $14, granted = $15, forced = $16, manual = $17, manual_by = $18, manual_at = $19
	WHERE target_key = $1 AND guid = $2 AND updated IS NOT DISTINCT FROM $20 AND state = $21
	AND requests = $22 AND intent_at IS NOT DISTINCT FROM $23 AND last_request IS NOT DISTINCT FROM $24`

// first is the only element of one of ledgerArrays' one-entry columns.
func first(column any) any {
	switch c := column.(type) {
	case []string:
		return c[0]
	case []*int64:
		return c[0]
	case []int64:
		return c[0]
	case []bool:
		return c[0]
	}
	panic(fmt.Sprintf("postgres: unexpected column type %T", column))
}

// putChunk is how many entries one INSERT carries.
const putChunk = 2000

// upsertLedgerSQL inserts or replaces rows given as one array per column.
const upsertLedgerSQL = `INSERT INTO %s (target_key, ` + ledgerColumns + `)
	SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
		$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::bigint[],
		$15::bigint[], $16::boolean[], $17::text[], $18::text[], $19::bigint[])
	ON CONFLICT (target_key, guid) DO UPDATE SET event = EXCLUDED.event, action = EXCLUDED.action,
	first_seen = EXCLUDED.first_seen, attempt_id = EXCLUDED.attempt_id, attempt_at = EXCLUDED.attempt_at,
	requests = EXCLUDED.requests, last_request = EXCLUDED.last_request, intent_at = EXCLUDED.intent_at,
	seen = EXCLUDED.seen, seen_mark = EXCLUDED.seen_mark, state = EXCLUDED.state, updated = EXCLUDED.updated,
	granted = EXCLUDED.granted, forced = EXCLUDED.forced, manual = EXCLUDED.manual,
	manual_by = EXCLUDED.manual_by, manual_at = EXCLUDED.manual_at`

// ledgerArrays are the arguments of upsertLedgerSQL.
func ledgerArrays(key string, es []redeliver.LedgerEntry) []any {
	n := len(es)
	var (
		guid, event, action, state                           = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		firstSeen, attemptAt, lastRequest, intentAt, updated = make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n)
		attemptID, requests, seen, seenMark                  = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		granted, forced, manual, manualBy, manualAt          = make([]int64, n), make([]bool, n), make([]string, n), make([]string, n), make([]*int64, n)
	)
	for i, e := range es {
		guid[i], event[i], action[i], state[i] = e.GUID, e.Event, e.Action, string(e.State)
		firstSeen[i], attemptAt[i], lastRequest[i] = nanos(e.FirstSeen), nanos(e.AttemptAt), nanos(e.LastRequest)
		intentAt[i], updated[i] = nanos(e.IntentAt), nanos(e.Updated)
		attemptID[i], requests[i], seen[i], seenMark[i] = e.AttemptID, int64(e.Requests), int64(e.Seen), e.SeenMark
		granted[i], forced[i], manual[i], manualBy[i], manualAt[i] = int64(e.Granted), e.Force, string(e.Manual), e.ManualBy, nanos(e.ManualAt)
	}
	return []any{key, guid, event, action, firstSeen, attemptID, attemptAt, requests, lastRequest, intentAt,
		seen, seenMark, state, updated, granted, forced, manual, manualBy, manualAt}
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

// Prune deletes the target's closed entries (recovered, exhausted, expired)
// whose newest attempt is older than before, and returns how many. An
// entry with no attempt time counts as older than any before. The alert
// marks of the deleted guids go with them, in the same transaction: those
// events can never change again.
func (s *Store) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	return s.prune(ctx, nil, key, before)
}

func (s *Store) prune(ctx context.Context, fence *Lease, key string, before time.Time) (int, error) {
	if err := s.writable(key); err != nil {
		return 0, err
	}
	if before.IsZero() {
		return 0, nil // nothing is older than the zero time
	}
	bound := int64(math.MaxInt64)
	if before.Before(minTime) {
		bound = math.MinInt64
	} else if !before.After(maxTime) {
		bound = before.UnixNano()
	}
	var n int64
	err := s.write(ctx, fence, key, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `WITH gone AS (
				DELETE FROM `+s.table("redeliver_ledger")+` WHERE target_key = $1
				AND state IN ('recovered', 'exhausted', 'expired') AND (attempt_at IS NULL OR attempt_at < $2)
				RETURNING guid),
			marks AS (
				DELETE FROM `+s.table("redeliver_alert_marks")+` m USING gone WHERE m.target_key = $1 AND m.subject = gone.guid)
			SELECT count(*) FROM gone`, key, bound).Scan(&n)
	})
	return int(n), err
}

// Targets lists every key with a checkpoint or a ledger entry, sorted.
func (s *Store) Targets(ctx context.Context) ([]string, error) {
	var keys []string
	err := s.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT target_key FROM (SELECT target_key FROM `+s.table("redeliver_checkpoints")+
			` UNION SELECT target_key FROM `+s.table("redeliver_ledger")+`) k ORDER BY target_key COLLATE "C"`)
		if err != nil {
			return s.dbErr(err)
		}
		keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return s.dbErr(err)
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// writable refuses writes through a read-only store and empty keys.
func (s *Store) writable(key string) error {
	if s.readOnly {
		return redeliver.Errorf(redeliver.EInvalid, "state %s was opened read-only", s.name)
	}
	if key == "" {
		return redeliver.Errorf(redeliver.EInvalid, "state %s: empty target key", s.name)
	}
	return nil
}

// The range of time.Time that Unix nanoseconds in an int64 can hold
// (years 1677 to 2262), the same as the SQLite store's.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// storable reports whether t survives nanos and fromNanos unchanged (in UTC).
func storable(t time.Time) bool {
	return t.IsZero() || (!t.Before(minTime) && !t.After(maxTime))
}

// nanos is how a time is stored: Unix nanoseconds, or NULL for the zero time.
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// fromNanos undoes nanos: UTC, no monotonic reading.
func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}
