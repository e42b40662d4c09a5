package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
)

// DefaultTTL is how long a lease lives without renewal when Lease is given
// no TTL. Renew every TTL/3: a lease then always has at least its Margin
// left while its holder is healthy.
const DefaultTTL = 30 * time.Second

// Lease is an owner's time-limited claim on one target, for `serve`
// replicas that share a state. Its token grows by one each time anyone
// acquires the target's lease, and every write through Store.Fenced checks
// it in the write's own transaction: once the lease expired and another
// owner took it, or a run revoked it, the old holder can write nothing.
//
// Times come from the Store's clock (Options.Now), the holder's. Safety
// does not depend on clocks agreeing: a write is allowed only while the
// token is still the current one. Clocks only decide when an expired lease
// may be taken over: a host whose clock runs δ ahead takes over δ early,
// and the old holder's writes then fail. Keep hosts NTP-synchronised.
type Lease struct {
	s     *Store
	key   string
	owner string
	token int64
	ttl   time.Duration

	mu      sync.Mutex
	expires time.Time
}

// Lease acquires the lease on target key for owner (a replica id), for
// ttl (0 means DefaultTTL). It succeeds when the lease is free, expired or
// already the owner's; each success gets a new token, so an earlier Lease
// of the same owner is fenced off too. When another owner holds a live
// lease, or a run holds the state's lock, it returns an EConflict error
// wrapping ErrLeaseHeld.
func (s *Store) Lease(ctx context.Context, key, owner string, ttl time.Duration) (*Lease, error) {
	if err := s.writable(key); err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, redeliver.Errorf(redeliver.EInvalid, "state %s: lease of %s: empty owner", s.name, key)
	}
	if ttl < 0 {
		return nil, redeliver.Errorf(redeliver.EInvalid, "state %s: lease of %s: negative TTL %s", s.name, key, ttl)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	now := s.now()
	l := &Lease{s: s, key: key, owner: owner, ttl: ttl, expires: now.Add(ttl)}
	err := s.with(ctx, func(q querier) error {
		tx, err := q.Begin(ctx)
		if err != nil {
			return s.dbErr(err)
		}
		defer tx.Rollback(ctx)
		// A run's Lock holds the same key exclusively: no lease meanwhile.
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock_shared($1, $2)`, applicationID, s.stateID).Scan(&free); err != nil {
			return s.dbErr(err)
		}
		if !free {
			return &redeliver.Error{Code: redeliver.EConflict, Err: ErrLeaseHeld,
				Message: "state " + s.name + ": target " + key + ": a redeliver run holds the state's lock"}
		}
		err = tx.QueryRow(ctx, `INSERT INTO `+s.table("redeliver_leases")+` AS l (target_key, owner, token, expires_at)
			VALUES ($1, $2, 1, $3)
			ON CONFLICT (target_key) DO UPDATE SET owner = EXCLUDED.owner, token = l.token + 1, expires_at = EXCLUDED.expires_at
			WHERE l.expires_at <= $4 OR l.owner = EXCLUDED.owner
			RETURNING token`, key, owner, l.expires.UnixNano(), now.UnixNano()).Scan(&l.token)
		if errors.Is(err, pgx.ErrNoRows) {
			var holder string
			var until int64
			if err := tx.QueryRow(ctx, `SELECT owner, expires_at FROM `+s.table("redeliver_leases")+` WHERE target_key = $1`, key).Scan(&holder, &until); err != nil {
				return s.dbErr(err)
			}
			return &redeliver.Error{Code: redeliver.EConflict, Err: ErrLeaseHeld,
				Message: "state " + s.name + ": target " + key + " is leased to " + holder + " until " + time.Unix(0, until).UTC().Format(time.RFC3339Nano)}
		}
		if err != nil {
			return s.dbErr(err)
		}
		return s.dbErr(tx.Commit(ctx))
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Key returns the target key the lease is on.
func (l *Lease) Key() string { return l.key }

// Owner returns the lease's owner.
func (l *Lease) Owner() string { return l.owner }

// Token returns the fencing token: larger for every later acquisition.
func (l *Lease) Token() int64 { return l.token }

// TTL returns the lease's time to live.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Margin is how much of the lease must be left for a fenced write (and for
// Check): a third of the TTL. A holder that renews every TTL/3 keeps more.
func (l *Lease) Margin() time.Duration { return l.ttl / 3 }

// Expires returns when the lease ends unless renewed, by the holder's clock.
func (l *Lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

// Check reports, without asking the database, whether the lease still has
// its Margin left by the holder's clock: an EConflict error wrapping
// ErrLeaseLost when not. Call it just before an action the database cannot
// fence, such as a redelivery request (see Guard).
func (l *Lease) Check() error {
	if left := l.Expires().Sub(l.s.now()); left < l.Margin() {
		return l.lost("it is about to expire or has expired")
	}
	return nil
}

// Renew extends a live lease by its TTL from now. A lease that expired or
// was taken over or revoked cannot be renewed: that is an EConflict error
// wrapping ErrLeaseLost, and the caller must Lease again (and reload what
// it knew of the target: someone else may have written meanwhile).
func (l *Lease) Renew(ctx context.Context) error {
	now := l.s.now()
	exp := now.Add(l.ttl)
	var n int64
	err := l.s.with(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `UPDATE `+l.s.table("redeliver_leases")+` SET expires_at = $1
			WHERE target_key = $2 AND owner = $3 AND token = $4 AND expires_at > $5`,
			exp.UnixNano(), l.key, l.owner, l.token, now.UnixNano())
		n = tag.RowsAffected()
		return l.s.dbErr(err)
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return l.lost("it expired, or another owner or a run took it")
	}
	l.mu.Lock()
	l.expires = exp
	l.mu.Unlock()
	return nil
}

// Release gives the lease up at once, so another replica may take the
// target without waiting for expiry. Releasing a lease already lost does
// nothing.
func (l *Lease) Release(ctx context.Context) error {
	err := l.s.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `UPDATE `+l.s.table("redeliver_leases")+` SET expires_at = 0
			WHERE target_key = $1 AND owner = $2 AND token = $3`, l.key, l.owner, l.token)
		return l.s.dbErr(err)
	})
	if err == nil {
		l.mu.Lock()
		l.expires = time.Time{}
		l.mu.Unlock()
	}
	return err
}

// check is the fence of a write to key, inside the write's transaction.
// FOR SHARE holds the lease's row until commit: an acquisition by another
// owner waits for the write, or the write sees its new token.
func (l *Lease) check(ctx context.Context, tx pgx.Tx, key string) error {
	if key != l.key {
		return redeliver.Errorf(redeliver.EInvalid, "state %s: the lease on %s does not cover target %s", l.s.name, l.key, key)
	}
	var exp int64
	err := tx.QueryRow(ctx, `SELECT expires_at FROM `+l.s.table("redeliver_leases")+`
		WHERE target_key = $1 AND owner = $2 AND token = $3 FOR SHARE`, l.key, l.owner, l.token).Scan(&exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return l.lost("another owner or a run took it")
	}
	if err != nil {
		return l.s.dbErr(err)
	}
	if time.Unix(0, exp).Sub(l.s.now()) < l.Margin() {
		return l.lost("it is about to expire or has expired")
	}
	return nil
}

// lost is the error of a lease that no longer allows writing.
func (l *Lease) lost(why string) error {
	return &redeliver.Error{Code: redeliver.EConflict, Err: ErrLeaseLost,
		Message: "state " + l.s.name + ": target " + l.key + ": " + l.owner + " lost its lease: " + why + "; nothing was written"}
}

// Fenced is a view of a Store whose writes to the lease's target are
// fenced by the lease: Put, SetCheckpoint, Prune and SetAlertMarks check,
// in their own transaction, that the lease is still the owner's with its
// Margin left, and fail with an EConflict error wrapping ErrLeaseLost
// otherwise. Reads are the Store's. Writes to other targets are refused.
type Fenced struct {
	s *Store
	l *Lease
}

var _ redeliver.Store = (*Fenced)(nil)

// Fenced returns the view fenced by l, a lease taken from s.
func (s *Store) Fenced(l *Lease) *Fenced { return &Fenced{s: l.s, l: l} }

// Lease returns the lease that fences the view.
func (f *Fenced) Lease() *Lease { return f.l }

// Lock stands for the lease: it succeeds while the lease has its Margin
// left, and its unlock does nothing (Release gives the lease up).
func (f *Fenced) Lock(context.Context, time.Duration) (func() error, error) {
	if err := f.l.Check(); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

// Checkpoint returns the target's checkpoint.
func (f *Fenced) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	return f.s.Checkpoint(ctx, key)
}

// SetCheckpoint records the checkpoint if the lease still holds.
func (f *Fenced) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	return f.s.setCheckpoint(ctx, f.l, key, cp)
}

// Entries returns the target's ledger entries.
func (f *Fenced) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	return f.s.Entries(ctx, key)
}

// Lookup returns the target's entries among guids.
func (f *Fenced) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	return f.s.Lookup(ctx, key, guids)
}

// OpenEntries returns a batch of the target's open entries.
func (f *Fenced) OpenEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return f.s.OpenEntries(ctx, key, after, limit)
}

// EntriesAfter returns a batch of the target's entries.
func (f *Fenced) EntriesAfter(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return f.s.EntriesAfter(ctx, key, after, limit)
}

// Counts returns how many entries the target has in each state.
func (f *Fenced) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	return f.s.Counts(ctx, key)
}

// LostEntries returns a batch of the target's entries lost for good.
func (f *Fenced) LostEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	return f.s.LostEntries(ctx, key, after, limit)
}

// Put writes entries if the lease still holds.
func (f *Fenced) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	return f.s.put(ctx, f.l, key, entries)
}

// Prune forgets old closed entries if the lease still holds.
func (f *Fenced) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	return f.s.prune(ctx, f.l, key, before)
}

// AlertMarks returns what alerts have told about the target.
func (f *Fenced) AlertMarks(ctx context.Context, key string) (map[string]string, error) {
	return f.s.AlertMarks(ctx, key)
}

// SetAlertMarks records what alerts told if the lease still holds.
func (f *Fenced) SetAlertMarks(ctx context.Context, key string, at time.Time, marks map[string]string) error {
	return f.s.setAlertMarks(ctx, f.l, key, at, marks)
}

// Targets lists the keys the store knows.
func (f *Fenced) Targets(ctx context.Context) ([]string, error) { return f.s.Targets(ctx) }

// Close does nothing: the Store belongs to whoever opened it.
func (f *Fenced) Close() error { return nil }

// Guard returns r that first checks the lease (Check) and asks GitHub
// nothing once the lease is about to expire: a replica paused between its
// intent and its request does not send it after waking up late.
func (l *Lease) Guard(r redeliver.Redeliverer) redeliver.Redeliverer { return guarded{l: l, r: r} }

type guarded struct {
	l *Lease
	r redeliver.Redeliverer
}

func (g guarded) Redeliver(ctx context.Context, t redeliver.Target, attemptID int64) (time.Time, error) {
	if err := g.l.Check(); err != nil {
		return time.Time{}, err
	}
	return g.r.Redeliver(ctx, t, attemptID)
}

// GuardSource returns src that first checks the lease (Check) and lists
// nothing once the lease is about to expire: a replica paused in the
// middle of a poll does not go on asking GitHub about a target another
// replica took over.
func (l *Lease) GuardSource(src redeliver.Source) redeliver.Source {
	return guardedSource{l: l, src: src}
}

type guardedSource struct {
	l   *Lease
	src redeliver.Source
}

func (g guardedSource) ListAttempts(ctx context.Context, t redeliver.Target, cursor string) (redeliver.Page, error) {
	if err := g.l.Check(); err != nil {
		return redeliver.Page{}, err
	}
	return g.src.ListAttempts(ctx, t, cursor)
}
