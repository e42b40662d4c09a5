package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
)

var _ redeliver.PaceStore = (*Store)(nil)

// Pace returns the windows learned for apiHost, shortest first.
func (s *Store) Pace(ctx context.Context, apiHost string) ([]redeliver.Window, bool, error) {
	var ws []redeliver.Window
	err := s.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT length_ns, win_limit FROM `+s.table("redeliver_pace_windows")+` WHERE api_host = $1 ORDER BY length_ns`, apiHost)
		if err != nil {
			return s.dbErr(err)
		}
		var length, limit int64
		_, err = pgx.ForEachRow(rows, []any{&length, &limit}, func() error {
			if length <= 0 || limit <= 0 {
				return redeliver.Errorf(redeliver.EInvalid, "state %s: the pace learned for %s has a window of %d in %s", s.name, apiHost, limit, time.Duration(length))
			}
			ws = append(ws, redeliver.Window{Limit: int(limit), Length: time.Duration(length)})
			return nil
		})
		return s.dbErr(err)
	})
	if err != nil {
		return nil, false, err
	}
	return ws, len(ws) > 0, nil
}

// SetPace replaces the windows learned for apiHost in one transaction.
func (s *Store) SetPace(ctx context.Context, apiHost string, windows []redeliver.Window) error {
	if err := s.writable(apiHost); err != nil {
		return err
	}
	lengths, limits := make([]int64, len(windows)), make([]int64, len(windows))
	for i, w := range windows {
		if w.Limit <= 0 || w.Length <= 0 {
			return redeliver.Errorf(redeliver.EInvalid, "pace for %s: a window of %d in %s is not one", apiHost, w.Limit, w.Length)
		}
		lengths[i], limits[i] = int64(w.Length), int64(w.Limit)
	}
	t := s.table("redeliver_pace_windows")
	return s.write(ctx, nil, apiHost, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE api_host = $1`, apiHost); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+t+` (api_host, length_ns, win_limit)
			SELECT $1, l, n FROM unnest($2::bigint[], $3::bigint[]) AS w(l, n)`, apiHost, lengths, limits)
		return err
	})
}
