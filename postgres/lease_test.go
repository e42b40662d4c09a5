package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
	"github.com/redeliver/redeliver/storetest"
)

// clock is a controllable clock, one per simulated host.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const key = "org/acme/hooks/1"

func mustLease(t *testing.T, s *postgres.Store, owner string) *postgres.Lease {
	t.Helper()
	l, err := s.Lease(context.Background(), key, owner, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func wantLost(t *testing.T, what string, err error) {
	t.Helper()
	if redeliver.ErrorCode(err) != redeliver.EConflict || !errors.Is(err, postgres.ErrLeaseLost) {
		t.Errorf("%s: %v; want EConflict wrapping ErrLeaseLost", what, err)
	}
}

// A replica paused past its lease's expiry cannot write once another took
// the target over; the new holder's writes go through.
func TestLeaseTakeoverFencesThePausedHolder(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	clk := newClock() // both replicas' clocks agree here
	a := open(t, dsn, postgres.Options{Now: clk.Now})
	b := open(t, dsn, postgres.Options{Now: clk.Now})

	la := mustLease(t, a, "replica-a")
	fa := a.Fenced(la)
	if err := fa.Put(ctx, key, storetest.Entry("g1")); err != nil {
		t.Fatalf("holder's Put: %v", err)
	}
	_, err := b.Lease(ctx, key, "replica-b", 30*time.Second)
	if redeliver.ErrorCode(err) != redeliver.EConflict || !errors.Is(err, postgres.ErrLeaseHeld) || !strings.Contains(err.Error(), "leased to replica-a") {
		t.Fatalf("second owner: %v; want EConflict naming replica-a", err)
	}

	// Renewed every TTL/3, the lease lives on.
	for range 5 {
		clk.Add(10 * time.Second)
		if err := la.Renew(ctx); err != nil {
			t.Fatalf("Renew: %v", err)
		}
	}
	if _, err := b.Lease(ctx, key, "replica-b", 0); !errors.Is(err, postgres.ErrLeaseHeld) {
		t.Fatalf("after renewals: %v", err)
	}

	// a pauses; its lease expires and b takes the target.
	clk.Add(30 * time.Second)
	lb := mustLease(t, b, "replica-b")
	if lb.Token() <= la.Token() {
		t.Errorf("token %d after %d: not monotonic", lb.Token(), la.Token())
	}
	fb := b.Fenced(lb)
	if err := fb.Put(ctx, key, storetest.Entry("g2")); err != nil {
		t.Fatalf("new holder's Put: %v", err)
	}
	if err := fb.SetAlertMarks(ctx, key, clk.Now(), map[string]string{"g2": "from-b"}); err != nil {
		t.Fatalf("new holder's SetAlertMarks: %v", err)
	}
	// a wakes up: every write fails, and nothing it tried is there.
	wantLost(t, "Put", fa.Put(ctx, key, storetest.Entry("from-a")))
	wantLost(t, "SetCheckpoint", fa.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: clk.Now()}))
	_, err = fa.Prune(ctx, key, clk.Now())
	wantLost(t, "Prune", err)
	wantLost(t, "SetAlertMarks", fa.SetAlertMarks(ctx, key, clk.Now(), map[string]string{"g1": "from-a", "g2": "from-a"}))
	wantLost(t, "Renew", la.Renew(ctx))
	wantLost(t, "Check", la.Check())
	if _, err := fa.Lock(ctx, 0); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Errorf("Fenced.Lock: %v", err)
	}
	es, err := b.Entries(ctx, key)
	if err != nil || len(es) != 2 || es[0].GUID != "g1" || es[1].GUID != "g2" {
		t.Errorf("entries %+v, %v; want g1 and g2 only", es, err)
	}
	if _, ok, _ := b.Checkpoint(ctx, key); ok {
		t.Error("the fenced-off checkpoint was written")
	}
	if m, err := fa.AlertMarks(ctx, key); err != nil || len(m) != 1 || m["g2"] != "from-b" {
		t.Errorf("marks %v, %v; want only the new holder's", m, err)
	}
	if err := la.Release(ctx); err != nil {
		t.Errorf("Release of a lost lease: %v", err)
	}
	if err := fb.Put(ctx, key, storetest.Entry("g3")); err != nil {
		t.Errorf("a lost lease's Release touched the new one: %v", err)
	}
}

// A fenced write needs the lease's Margin left: a holder that stopped
// renewing stops writing before anyone may take over.
func TestLeaseMargin(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, pgtest.DSN(t), postgres.Options{Now: clk.Now})
	l := mustLease(t, s, "a")
	f := s.Fenced(l)
	clk.Add(20 * time.Second) // 10 s left = Margin
	if err := f.Put(ctx, key, storetest.Entry("g1")); err != nil {
		t.Fatalf("Put with the margin left: %v", err)
	}
	clk.Add(time.Nanosecond)
	wantLost(t, "Put inside the margin", f.Put(ctx, key, storetest.Entry("g2")))
	wantLost(t, "Check inside the margin", l.Check())
	// Not expired yet: a renewal brings it back.
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Put(ctx, key, storetest.Entry("g2")); err != nil {
		t.Errorf("Put after renewal: %v", err)
	}
	if err := f.Put(ctx, "org/acme/hooks/2", storetest.Entry("g")); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("Put to another target: %v", err)
	}
}

// Release lets another take the target at once; the same owner acquiring
// again fences its own older Lease.
func TestLeaseReleaseAndReacquire(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, pgtest.DSN(t), postgres.Options{Now: clk.Now})
	l1 := mustLease(t, s, "a")
	l2 := mustLease(t, s, "a")
	if l2.Token() != l1.Token()+1 {
		t.Errorf("tokens %d then %d", l1.Token(), l2.Token())
	}
	wantLost(t, "older lease of the same owner", s.Fenced(l1).Put(ctx, key, storetest.Entry("g")))
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l3 := mustLease(t, s, "b")
	if l3.Token() != l2.Token()+1 {
		t.Errorf("token after release: %d", l3.Token())
	}
	for _, bad := range []struct {
		key, owner string
		ttl        time.Duration
	}{{"", "a", 0}, {key, "", 0}, {key, "a", -time.Second}} {
		if _, err := s.Lease(ctx, bad.key, bad.owner, bad.ttl); redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("Lease(%q, %q, %s): %v", bad.key, bad.owner, bad.ttl, err)
		}
	}
	if l, err := s.Lease(ctx, "org/x/hooks/9", "a", 0); err != nil || l.TTL() != postgres.DefaultTTL {
		t.Errorf("default TTL: %v, %v", l, err)
	}
}

// A run's Lock and serve's leases exclude each other: the lock is refused
// while a lease lives; once taken it revokes every lease, so a replica
// whose clock runs behind cannot write either; no lease is granted while
// it is held.
func TestLockAndLeases(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	runClock, replicaClock := newClock(), newClock()
	run := open(t, dsn, postgres.Options{Now: runClock.Now})
	replica := open(t, dsn, postgres.Options{Now: replicaClock.Now})

	l := mustLease(t, replica, "replica-a")
	_, err := run.Lock(ctx, 0)
	if redeliver.ErrorCode(err) != redeliver.EConflict || !strings.Contains(err.Error(), "serve replicas holding target leases (replica-a)") {
		t.Fatalf("Lock while a lease lives: %v", err)
	}
	runClock.Add(time.Minute) // by the run's clock, the lease is over
	unlock, err := run.Lock(ctx, 0)
	if err != nil {
		t.Fatalf("Lock after expiry: %v", err)
	}
	// By its own clock the replica's lease is fine; its token is not.
	wantLost(t, "replica's Put during the run", replica.Fenced(l).Put(ctx, key, storetest.Entry("g")))
	wantLost(t, "replica's Renew during the run", l.Renew(ctx))
	if _, err := replica.Lease(ctx, key, "replica-b", 0); !errors.Is(err, postgres.ErrLeaseHeld) || !strings.Contains(err.Error(), "run holds") {
		t.Errorf("Lease during the run: %v", err)
	}
	if err := run.Put(ctx, key, storetest.Entry("by-run")); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	l2 := mustLease(t, replica, "replica-a")
	if err := replica.Fenced(l2).Put(ctx, key, storetest.Entry("g")); err != nil {
		t.Errorf("after the run: %v", err)
	}
}

// The run lock lives on one connection: when that connection dies, the
// store stops writing instead of writing unlocked.
func TestLockLostWithItsConnection(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	unlock, err := s.Lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := s.Put(ctx, key, storetest.Entry("g1")); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1
		AND objid = to_regclass($2)::oid AND granted`, int64(0x72646c76), pgx.Identifier{s.Schema(), "redeliver_schema"}.Sanitize())
	err = s.Put(ctx, key, storetest.Entry("g2"))
	if redeliver.ErrorCode(err) != redeliver.EConflict || !errors.Is(err, postgres.ErrUnavailable) || !strings.Contains(err.Error(), "run lock was lost") {
		t.Fatalf("Put after the lock's connection died: %v", err)
	}
	if err := s.Put(ctx, key, storetest.Entry("g3")); redeliver.ErrorCode(err) != redeliver.EConflict {
		t.Errorf("later Put: %v", err)
	}
	// Another run can take the lock now; the first one wrote nothing more.
	other := open(t, dsn)
	u2, err := other.Lock(ctx, 0)
	if err != nil {
		t.Fatalf("Lock after the holder's connection died: %v", err)
	}
	u2()
	es, _ := other.Entries(ctx, key)
	if len(es) != 1 {
		t.Errorf("%d entries, want 1", len(es))
	}
}

// Guard asks GitHub nothing once the lease is about to expire.
func TestLeaseGuard(t *testing.T) {
	clk := newClock()
	s := open(t, pgtest.DSN(t), postgres.Options{Now: clk.Now})
	l := mustLease(t, s, "a")
	calls := 0
	g := l.Guard(redeliverFunc(func() { calls++ }))
	if _, err := g.Redeliver(context.Background(), redeliver.Target{}, 1); err != nil || calls != 1 {
		t.Fatalf("live lease: %v, %d calls", err, calls)
	}
	clk.Add(25 * time.Second)
	_, err := g.Redeliver(context.Background(), redeliver.Target{}, 1)
	wantLost(t, "Guard after the margin", err)
	if calls != 1 {
		t.Errorf("%d calls; the guard let a request through", calls)
	}
}

type redeliverFunc func()

func (f redeliverFunc) Redeliver(context.Context, redeliver.Target, int64) (time.Time, error) {
	f()
	return time.Time{}, nil
}

func TestHeartbeats(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, pgtest.DSN(t), postgres.Options{Now: clk.Now})
	for _, id := range []string{"r2", "r1", "r3"} {
		if err := s.Heartbeat(ctx, id, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(20 * time.Second)
	if err := s.Heartbeat(ctx, "r1", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Leave(ctx, "r3"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Replicas(ctx); err != nil || strings.Join(got, ",") != "r1,r2" {
		t.Errorf("Replicas = %v, %v", got, err)
	}
	clk.Add(10 * time.Second) // r2's beat expires
	if got, err := s.Replicas(ctx); err != nil || strings.Join(got, ",") != "r1" {
		t.Errorf("Replicas after r2 expired = %v, %v", got, err)
	}
	if err := s.Heartbeat(ctx, "", 0); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("empty id: %v", err)
	}
	var n int
	scan(t, `SELECT count(*) FROM `+pgx.Identifier{s.Schema(), "redeliver_replicas"}.Sanitize(), &n)
	if n != 1 {
		t.Errorf("%d rows left, want 1: expired replicas are deleted", n)
	}
}

// The fence against a takeover racing with writes: the old holder writes as
// fast as it can while another replica (whose clock says the lease is over)
// takes the target. Once the takeover has returned, the old holder's
// entries are final: its in-flight write either committed before (the
// takeover waited for it) or fails, by token, since by its own clock the
// lease is still good.
func TestLeaseTakeoverRace(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	clkA, clkB := newClock(), newClock()
	a := open(t, dsn, postgres.Options{Now: clkA.Now})
	b := open(t, dsn, postgres.Options{Now: clkB.Now})
	for round := range 5 {
		la, err := a.Lease(ctx, key, "replica-a", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fa := a.Fenced(la)
		written := make(chan error, 1)
		started := make(chan struct{})
		go func() {
			for i := 0; ; i++ {
				err := fa.Put(ctx, key, storetest.Entry(fmt.Sprintf("a-%d-%06d", round, i)))
				if i == 0 {
					close(started)
				}
				if err != nil {
					written <- err
					return
				}
			}
		}()
		<-started
		clkB.Add(31 * time.Second)
		lb, err := b.Lease(ctx, key, "replica-b", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		before := countPrefix(t, b, fmt.Sprintf("a-%d-", round))
		wantLost(t, "the old holder's write", <-written)
		if after := countPrefix(t, b, fmt.Sprintf("a-%d-", round)); after != before {
			t.Fatalf("round %d: the old holder wrote %d entries after the takeover", round, after-before)
		}
		if err := lb.Release(ctx); err != nil {
			t.Fatal(err)
		}
		clkA.Add(time.Hour) // the next round's lease is a fresh one for a
		clkB.Add(time.Hour)
	}
}

func countPrefix(t *testing.T, s *postgres.Store, prefix string) int {
	t.Helper()
	es, err := s.Entries(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if strings.HasPrefix(e.GUID, prefix) {
			n++
		}
	}
	return n
}
