package sqlite

import (
	"context"
	"time"

	"github.com/redeliver/redeliver"
)

var _ redeliver.PaceStore = (*Store)(nil)

// Pace returns the windows learned for apiHost, shortest first.
func (s *Store) Pace(ctx context.Context, apiHost string) ([]redeliver.Window, bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT length_ns, win_limit FROM pace_windows WHERE api_host = ? ORDER BY length_ns`, apiHost)
	if err != nil {
		return nil, false, fileError(s.path, err)
	}
	defer rows.Close()
	var ws []redeliver.Window
	for rows.Next() {
		var length, limit int64
		if err := rows.Scan(&length, &limit); err != nil {
			return nil, false, fileError(s.path, err)
		}
		if length <= 0 || limit <= 0 {
			return nil, false, redeliver.Errorf(redeliver.EInvalid, "state %s: the pace learned for %s has a window of %d in %s", s.path, apiHost, limit, time.Duration(length))
		}
		ws = append(ws, redeliver.Window{Limit: int(limit), Length: time.Duration(length)})
	}
	if err := rows.Err(); err != nil {
		return nil, false, fileError(s.path, err)
	}
	return ws, len(ws) > 0, nil
}

// SetPace replaces the windows learned for apiHost in one transaction.
func (s *Store) SetPace(ctx context.Context, apiHost string, windows []redeliver.Window) error {
	if err := s.writable(apiHost); err != nil {
		return err
	}
	for _, w := range windows {
		if w.Limit <= 0 || w.Length <= 0 {
			return redeliver.Errorf(redeliver.EInvalid, "pace for %s: a window of %d in %s is not one", apiHost, w.Limit, w.Length)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.writeErr(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM pace_windows WHERE api_host = ?`, apiHost); err != nil {
		return s.writeErr(err)
	}
	for _, w := range windows {
		if _, err := tx.ExecContext(ctx, `REPLACE INTO pace_windows (api_host, length_ns, win_limit) VALUES (?, ?, ?)`,
			apiHost, int64(w.Length), w.Limit); err != nil {
			return s.writeErr(err)
		}
	}
	return s.writeErr(tx.Commit())
}
