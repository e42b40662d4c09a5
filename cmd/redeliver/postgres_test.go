package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/postgres/pgtest"
)

// run and status on a PostgreSQL state: the same promises as on a file,
// and the password shows nowhere.
func TestRunOnPostgres(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.state = pgState(t)
	gs := w.failed(w.orgHook, "pg", 5, w.ago(time.Hour), time.Minute)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))
	r := w.run(args...)
	wantCode(t, r, 0)
	noPassword(t, r)
	r = w.run(args...)
	wantCode(t, r, 0)
	noPassword(t, r)
	wantRedeliveredOnce(t, w.redeliveries(), gs)

	r = w.run("status", "--state", w.state, "-o", "json")
	wantCode(t, r, 0)
	noPassword(t, r)
	if !strings.Contains(r.stdout, `"target": "org/acme/hooks/`) || !strings.Contains(r.stdout, "xxxxx") {
		t.Errorf("status:\n%s", r)
	}
	// status on a database where nothing has run: empty, nothing created.
	empty := pgState(t)
	r = w.run("status", "--state", empty)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "no targets yet") {
		t.Errorf("status of an empty schema:\n%s", r)
	}
	// A server that does not answer: exit 1, a clear message, no password.
	r = w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--state",
		"postgres://u:"+pgPassword+"@127.0.0.1:1/db?connect_timeout=5")...)
	noPassword(t, r)
	if r.code != 1 || !strings.Contains(r.stderr, "PostgreSQL unavailable") {
		t.Errorf("want exit 1 and 'PostgreSQL unavailable':\n%s", r)
	}
}

// Two binaries on one PostgreSQL state, as on two machines: one takes the
// advisory lock, the other waits, then finds nothing due; every failed
// event is redelivered exactly once.
func TestTwoRunsOnPostgres(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.state = pgState(t)
	gs := w.failed(w.orgHook, "two", 20, w.ago(time.Hour), time.Minute)
	var procs [2]atomic.Pointer[proc]
	rc := newReceiver(t, 503)
	waited := make(chan int, 2)
	rc.onDelivery = func(n int) {
		if n != 1 {
			return
		}
		done := make(chan struct{})
		defer close(done)
		for i := range procs {
			if p := procs[i].Load(); p != nil {
				go func() {
					if p.stderr.waitFor("waiting up to", done, 8*time.Second) {
						waited <- i
					}
				}()
			}
		}
		select {
		case <-waited:
		case <-time.After(8 * time.Second):
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	wantCode(t, w.run(w.args("run", "--repo", "acme/api", "--hook", fmt.Sprint(w.repoHook))...), 0)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "20", "--no-probe")
	a := startBin(t, w.binEnv(), args...)
	procs[0].Store(a)
	b := startBin(t, w.binEnv(), args...)
	procs[1].Store(b)
	ra, rb := a.wait(t), b.wait(t)
	wantCode(t, ra, 0)
	wantCode(t, rb, 0)
	noPassword(t, ra)
	noPassword(t, rb)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	loser, winner := rb, a
	if strings.Contains(ra.stderr, "waiting up to") {
		loser, winner = ra, b
	}
	if want := fmt.Sprintf("pid %d, from ", winner.cmd.Process.Pid); !strings.Contains(loser.stderr, "is in use by another redeliver run") ||
		!strings.Contains(loser.stderr, want) {
		t.Errorf("the run that waited should name the holder (%q):\n%s", want, loser)
	}
	if !strings.Contains(loser.stdout, "20 waiting for their next attempt") {
		t.Errorf("the run that waited should find every event already asked for:\n%s", loser)
	}
}

// A run on a state whose targets replicas hold is refused (exit 1, naming
// them) and asks GitHub for no redelivery.
func TestRunRefusedWhileReplicasHoldLeases(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.state = pgState(t)
	w.failed(w.orgHook, "held", 3, w.ago(time.Hour), time.Minute)
	st, err := postgres.Open(context.Background(), w.state, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: w.orgHook}.Key()
	l, err := st.Lease(context.Background(), key, "replica-7", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--lock-wait", "0")...)
	wantCode(t, r, 1)
	if !strings.Contains(r.stderr, "replicas holding target leases (replica-7)") {
		t.Errorf("want the replica named:\n%s", r)
	}
	if n := len(w.srv.Redeliveries()); n != 0 {
		t.Errorf("%d redeliveries while a replica held the target", n)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...), 0)
	if n := len(w.srv.Redeliveries()); n != 3 {
		t.Errorf("%d redeliveries after the lease was released, want 3", n)
	}
}

// The database goes away in the middle of a run (its connections are cut,
// as in a restart or failover) while GitHub redelivers: the run stops
// instead of going on unlocked, and the next run redelivers every failed
// event exactly once in all.
func TestPostgresCutMidRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.state = pgState(t)
	gs := w.failed(w.orgHook, "cut", 10, w.ago(time.Hour), time.Minute)
	holding, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, 503)
	rc.onDelivery = func(n int) {
		if n == 3 {
			close(holding)
			select {
			case <-release:
			case <-time.After(8 * time.Second):
			}
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "20", "--no-probe")
	a := startBin(t, w.binEnv(), args...)
	select {
	case <-holding:
	case <-a.done:
		t.Fatalf("the run ended early: %s", a.wait(t))
	}
	pgtest.Exec(t, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name LIKE $1`,
		fmt.Sprintf("redeliver %% pid %d", a.cmd.Process.Pid))
	close(release)
	ra := a.wait(t)
	noPassword(t, ra)
	if ra.code == 0 || !strings.Contains(ra.stdout+ra.stderr, "run lock was lost") {
		t.Errorf("the cut run should stop, saying it lost its lock:\n%s", ra)
	}
	r := w.run(args...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
}
