package sqlite

import (
	"context"
	"time"
)

// AlertMarks returns what alerts have already told about the target: a mark
// per subject (a guid, or "coverage"). See package alert.
func (s *Store) AlertMarks(ctx context.Context, key string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT subject, mark FROM alert_marks WHERE target_key = ?`, key)
	if err != nil {
		return nil, fileError(s.path, err)
	}
	defer rows.Close()
	marks := map[string]string{}
	for rows.Next() {
		var subject, mark string
		if err := rows.Scan(&subject, &mark); err != nil {
			return nil, fileError(s.path, err)
		}
		marks[subject] = mark
	}
	if err := rows.Err(); err != nil {
		return nil, fileError(s.path, err)
	}
	return marks, nil
}

// SetAlertMarks records, in one transaction, that the alerts for marks
// (subject → mark) were told at at; a subject's earlier mark is replaced.
func (s *Store) SetAlertMarks(ctx context.Context, key string, at time.Time, marks map[string]string) error {
	if err := s.writable(key); err != nil {
		return err
	}
	if len(marks) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.writeErr(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `REPLACE INTO alert_marks (target_key, subject, mark, at) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return s.writeErr(err)
	}
	defer stmt.Close()
	for subject, mark := range marks {
		if _, err := stmt.ExecContext(ctx, key, subject, mark, nanos(at)); err != nil {
			return s.writeErr(err)
		}
	}
	return s.writeErr(tx.Commit())
}

// pruneAlertMarks forgets the marks of guids the ledger no longer holds:
// they can never change state again. A target's own marks (coverage, and
// the open:NAME mark of a notifier that resolves what it reported) stay.
func (s *Store) pruneAlertMarks(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM alert_marks WHERE target_key = ? AND subject <> 'coverage'
		AND subject NOT LIKE 'open:%' AND subject NOT IN (SELECT guid FROM ledger WHERE target_key = ?)`, key, key)
	return s.writeErr(err)
}
