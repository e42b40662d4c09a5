package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
)

// replica is what a serve replica does with the store each tick: beat,
// see who is alive, and hold exactly its share of the targets.
type replica struct {
	id   string
	s    *postgres.Store
	held map[string]*postgres.Lease
}

func (r *replica) tick(t *testing.T, targets []string) {
	t.Helper()
	ctx := context.Background()
	if err := r.s.Heartbeat(ctx, r.id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	live, err := r.s.Replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range postgres.Share(r.id, targets, live) {
		want[k] = true
	}
	for k, l := range r.held {
		if !want[k] {
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			delete(r.held, k)
		} else if err := l.Renew(ctx); errors.Is(err, postgres.ErrLeaseLost) {
			delete(r.held, k)
		} else if err != nil {
			t.Fatal(err)
		}
	}
	for k := range want {
		if r.held[k] != nil {
			continue
		}
		l, err := r.s.Lease(ctx, k, r.id, 30*time.Second)
		if errors.Is(err, postgres.ErrLeaseHeld) {
			continue // its old holder lets go on its next tick, or expires
		}
		if err != nil {
			t.Fatal(err)
		}
		r.held[k] = l
	}
}

// Three replicas share 20 targets: each ends up with its fair share, no
// target is ever held by two, and when one dies the others take its
// targets within the lease TTL (plus one tick).
func TestReplicasShareTargets(t *testing.T) {
	dsn := pgtest.DSN(t)
	clk := newClock()
	targets := hooks(20)
	var reps []*replica
	for _, id := range []string{"r1", "r2", "r3"} {
		reps = append(reps, &replica{id: id, s: open(t, dsn, postgres.Options{Now: clk.Now}), held: map[string]*postgres.Lease{}})
	}
	alive := map[string]bool{"r1": true, "r2": true, "r3": true}
	round := func() {
		clk.Add(10 * time.Second) // TTL/3
		for _, r := range reps {
			if alive[r.id] {
				r.tick(t, targets)
			}
		}
		// Never two holders whose leases are good.
		owner := map[string]string{}
		for _, r := range reps {
			for k, l := range r.held {
				if l.Check() != nil {
					continue
				}
				if o, ok := owner[k]; ok {
					t.Fatalf("%s held by %s and %s", k, o, r.id)
				}
				owner[k] = r.id
			}
		}
	}
	covered := func() (int, map[string]int) {
		loads, n := map[string]int{}, 0
		for _, r := range reps {
			if alive[r.id] {
				loads[r.id] = len(r.held)
				n += len(r.held)
			}
		}
		return n, loads
	}
	for range 3 {
		round()
	}
	if n, loads := covered(); n != 20 || loads["r1"] > 7 || loads["r2"] > 7 || loads["r3"] > 7 {
		t.Fatalf("after start: %d of 20 held, loads %v", n, loads)
	}

	alive["r2"] = false // killed: no release, no heartbeat
	rounds := 0
	for n, _ := covered(); n != 20; n, _ = covered() {
		round()
		rounds++
		if rounds > 5 {
			t.Fatalf("r2's targets not taken over after %d rounds", rounds)
		}
	}
	// The lease lasts 30 s from r2's last renewal, and the other replicas
	// act on their next tick after it ends: 4 ticks of 10 s.
	if rounds > 4 {
		t.Errorf("takeover took %d ticks, want at most 4", rounds)
	}
	if _, loads := covered(); loads["r1"] > 10 || loads["r3"] > 10 {
		t.Errorf("after the takeover: loads %v", loads)
	}
}
