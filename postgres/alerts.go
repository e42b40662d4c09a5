package postgres

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
)

// AlertMarks returns what alerts have already told about the target: a mark
// per subject (a guid, "coverage", or a notifier's "open:NAME"). See package
// alert.
func (s *Store) AlertMarks(ctx context.Context, key string) (map[string]string, error) {
	marks := map[string]string{}
	err := s.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT subject, mark FROM `+s.table("redeliver_alert_marks")+` WHERE target_key = $1`, key)
		if err != nil {
			return s.dbErr(err)
		}
		var subject, mark string
		_, err = pgx.ForEachRow(rows, []any{&subject, &mark}, func() error {
			marks[subject] = mark
			return nil
		})
		return s.dbErr(err)
	})
	if err != nil {
		return nil, err
	}
	return marks, nil
}

// SetAlertMarks records, in one transaction, that the alerts for marks
// (subject → mark) were told at at; a subject's earlier mark is replaced,
// the others are kept. A time out of range is an EInvalid error.
func (s *Store) SetAlertMarks(ctx context.Context, key string, at time.Time, marks map[string]string) error {
	return s.setAlertMarks(ctx, nil, key, at, marks)
}

func (s *Store) setAlertMarks(ctx context.Context, fence *Lease, key string, at time.Time, marks map[string]string) error {
	if err := s.writable(key); err != nil {
		return err
	}
	if !storable(at) {
		return redeliver.Errorf(redeliver.EInvalid, "state %s: alert marks of %s: time %s out of range", s.name, key, at)
	}
	if len(marks) == 0 {
		return nil
	}
	// Rows in one order for every writer: two writers of the same target
	// then wait for each other instead of deadlocking.
	subjects := slices.Sorted(maps.Keys(marks))
	values := make([]string, len(subjects))
	for i, sub := range subjects {
		values[i] = marks[sub]
	}
	return s.write(ctx, fence, key, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO `+s.table("redeliver_alert_marks")+` (target_key, subject, mark, at)
			SELECT $1, subject, mark, $4 FROM unnest($2::text[], $3::text[]) AS m(subject, mark)
			ON CONFLICT (target_key, subject) DO UPDATE SET mark = EXCLUDED.mark, at = EXCLUDED.at`,
			key, subjects, values, nanos(at))
		return err
	})
}
