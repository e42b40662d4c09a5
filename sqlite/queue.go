package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"

	"github.com/redeliver/redeliver"
)

// Queue is a redeliver.Queue in a temporary SQLite file: a run's backlog of
// redeliveries due, kept on disk so that memory stays flat at any size. The
// file is unlinked as soon as it is open, so nothing is left behind even if
// the process dies; it is scratch, so it is written without a journal.
type Queue struct {
	db  *sql.DB
	len int
}

var _ redeliver.Queue = (*Queue)(nil)

// NewQueue makes an empty queue in a temporary file in dir ("" for the
// system's temporary directory).
func NewQueue(dir string) (*Queue, error) {
	f, err := os.CreateTemp(dir, "redeliver-queue-*.db")
	if err != nil {
		return nil, redeliver.Wrap(redeliver.EInternal, err, "making the redelivery queue")
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-2048)")
	if err != nil {
		return nil, redeliver.Wrap(redeliver.EInternal, err, "making the redelivery queue")
	}
	db.SetMaxOpenConns(1) // one connection keeps the unlinked file open
	if _, err := db.Exec(`CREATE TABLE queue (
		guid TEXT PRIMARY KEY,
		forced INTEGER NOT NULL,
		requested INTEGER NOT NULL,
		last_request INTEGER,
		first_seen INTEGER,
		entry BLOB NOT NULL);
		-- Each walks this index: sorting the whole backlog when the
		-- requests begin would hold them up, and use the sorter's memory.
		CREATE INDEX queue_order ON queue (forced, requested, last_request, first_seen, guid)`); err != nil {
		db.Close()
		return nil, redeliver.Wrap(redeliver.EInternal, err, "making the redelivery queue")
	}
	return &Queue{db: db}, nil
}

// Push adds entries in one transaction, replacing any with the same guid.
func (q *Queue) Push(entries ...redeliver.LedgerEntry) error {
	ctx := context.Background()
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("redelivery queue: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO queue VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("redelivery queue: %w", err)
	}
	defer st.Close()
	has, err := tx.PrepareContext(ctx, `SELECT count(*) FROM queue WHERE guid = ?`)
	if err != nil {
		return fmt.Errorf("redelivery queue: %w", err)
	}
	defer has.Close()
	added := 0
	for _, e := range entries {
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("redelivery queue: %w", err)
		}
		forced, requested := 1, 0 // forced first: 0 sorts before 1
		if e.Force {
			forced = 0
		}
		if e.Used() > 0 {
			requested = 1
		}
		var n int
		if err := has.QueryRowContext(ctx, e.GUID).Scan(&n); err != nil {
			return fmt.Errorf("redelivery queue: %w", err)
		}
		added += 1 - n
		if _, err := st.ExecContext(ctx, e.GUID, forced, requested, nanos(e.LastRequest), nanos(e.FirstSeen), body); err != nil {
			return fmt.Errorf("redelivery queue: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("redelivery queue: %w", err)
	}
	q.len += added
	return nil
}

// Len is how many guids the queue holds.
func (q *Queue) Len() int { return q.len }

// Each calls fn with every entry in the Planner's fair order (Order):
// forced by a person first, then never requested, then least recently requested, then oldest.
func (q *Queue) Each(fn func(redeliver.LedgerEntry) error) error {
	rows, err := q.db.Query(`SELECT entry FROM queue ORDER BY forced, requested, last_request, first_seen, guid`)
	if err != nil {
		return fmt.Errorf("redelivery queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return fmt.Errorf("redelivery queue: %w", err)
		}
		var e redeliver.LedgerEntry
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("redelivery queue: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Close drops the queue and its file.
func (q *Queue) Close() error { return q.db.Close() }
