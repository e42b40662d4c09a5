package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/redeliver/redeliver"
)

// lockRetry is how often a waiting Lock tries again.
const lockRetry = 50 * time.Millisecond

// Lock takes the exclusive run lock: one run per state at a time, across
// machines. It is a session-level advisory lock (pg_try_advisory_lock keyed
// on the state), which PostgreSQL releases when the holder's connection
// ends, so a crashed run never leaves a stale lock. While it is held every
// statement of this Store runs on that connection: if the connection
// breaks, the lock is lost, and every later call fails with EConflict
// rather than write without it.
//
// Taking the lock also excludes `serve` replicas: it is refused while any
// target has a live lease, and (unless the store is read-only) it revokes
// every lease (their tokens move on), so a replica that wakes up later can
// write nothing; replicas cannot take leases while it is held.
//
// Lock retries until wait runs out (wait == 0 tries once) and then returns
// an EConflict error naming the holder. The returned unlock releases the
// lock; calling it again does nothing.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (func() error, error) {
	deadline := time.Now().Add(wait)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.dbErr(err)
	}
	for {
		busy, err := s.tryLock(ctx, conn)
		if err != nil {
			conn.Release()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if busy == "" {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			conn.Release()
			return nil, redeliver.Errorf(redeliver.EConflict, "state %s is in use by %s; wait for it to finish, or stop it", s.name, busy)
		}
		t := time.NewTimer(min(lockRetry, left))
		select {
		case <-ctx.Done():
			t.Stop()
			conn.Release()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	s.mu.Lock()
	s.locked = conn
	s.mu.Unlock()

	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.locked != conn {
				return // Close released it already
			}
			s.locked = nil
			if !conn.Conn().IsClosed() {
				_, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, $2)`, applicationID, s.stateID)
				unlockErr = s.dbErr(err)
			}
			conn.Release()
		})
		return unlockErr
	}, nil
}

// tryLock tries once. It returns "" when it got the lock, or who holds it.
func (s *Store) tryLock(ctx context.Context, conn *pgxpool.Conn) (string, error) {
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, applicationID, s.stateID).Scan(&got); err != nil {
		return "", s.dbErr(err)
	}
	if !got {
		return "another redeliver run (" + s.lockHolder(ctx, conn) + ")", nil
	}
	now := s.now().UnixNano()
	rows, err := conn.Query(ctx, `SELECT DISTINCT owner FROM `+s.table("redeliver_leases")+` WHERE expires_at > $1 ORDER BY 1`, now)
	var owners []string
	if err == nil {
		owners, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err == nil && len(owners) == 0 && !s.readOnly {
		// Revoke every lease, expired ones too: a replica whose clock runs
		// behind ours must not believe its lease still good.
		_, err = conn.Exec(ctx, `UPDATE `+s.table("redeliver_leases")+` SET token = token + 1, expires_at = 0`)
	}
	if err != nil || len(owners) > 0 {
		_, uerr := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, applicationID, s.stateID)
		if err == nil {
			err = uerr
		}
	}
	if err != nil {
		return "", s.dbErr(err)
	}
	if len(owners) > 0 {
		return "redeliver serve replicas holding target leases (" + strings.Join(owners, ", ") + ")", nil
	}
	return "", nil
}

// lockHolder describes the session that holds the advisory lock.
func (s *Store) lockHolder(ctx context.Context, conn *pgxpool.Conn) string {
	var app, from string
	var pid int
	err := conn.QueryRow(ctx, `SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), l.pid
		FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2 AND l.granted
		LIMIT 1`, int64(uint32(applicationID)), int64(uint32(s.stateID))).Scan(&app, &from, &pid)
	if err != nil {
		return "holder unknown"
	}
	if app == "" {
		app = "an unnamed client"
	}
	return fmt.Sprintf("%s, from %s, server pid %d", app, from, pid)
}
