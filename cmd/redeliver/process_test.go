package main

// Tests with the real binary in processes of their own: a run killed with
// SIGKILL half way and run again, and two runs on one state at once.

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// binEnv is the environment of the binary in these tests: a token and a
// home, nothing from the test process.
func (w *world) binEnv() map[string]string { return w.env() }

// TestSIGKILLWhileGitHubRedelivers kills the binary at the worst moment: it
// recorded its intent and GitHub has accepted the 5th redelivery, but the
// answer never reaches it. The rerun finds the redelivery attempt GitHub
// lists, counts it and does not ask again; every failed event is
// redelivered exactly once in all. With the SQLite state the intent is on
// disk; with the Actions-variable state the killed run's ledger is lost
// (it is written at the end), and the listing alone must be enough.
func TestSIGKILLWhileGitHubRedelivers(t *testing.T) {
	t.Parallel()
	for _, state := range []string{"sqlite", "actions variable"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{})
			gs := w.failed(w.orgHook, "kill", 60, w.ago(time.Hour), 30*time.Second)
			var running atomic.Pointer[proc]
			rc := newReceiver(t, 503) // the receiver is still failing
			rc.onDelivery = func(n int) {
				if p := running.Load(); n == 5 && p != nil {
					// GitHub is delivering the 5th redelivery: the request
					// was accepted. Kill the run before the answer reaches it.
					_ = p.cmd.Process.Signal(syscall.SIGKILL)
					<-p.done
				}
			}
			w.srv.SetHookURL(w.orgHook, rc.URL)
			args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "20", "--no-probe")
			if state != "sqlite" {
				args = append(args, "--state", "actions:acme/ops/LAST_REDELIVERY")
			}

			p := startBin(t, w.binEnv(), args...)
			running.Store(p)
			r := p.wait(t)
			running.Store(nil)
			if r.code != -1 {
				t.Fatalf("want the run killed, got %s", r)
			}
			if n := len(w.srv.Redeliveries()); n != 5 {
				t.Fatalf("killed run: %d redeliveries, want 5", n)
			}

			r = runBin(t, w.binEnv(), args...)
			wantCode(t, r, 0)
			wantRedeliveredOnce(t, w.redeliveries(), gs)
			// The killed run's requests count as made (GitHub lists their
			// attempts): they wait for their next turn.
			if !strings.Contains(r.stdout, "redelivered 55 of 60 failed events") || !strings.Contains(r.stdout, "5 waiting for their next attempt") {
				t.Errorf("rerun:\n%s", r)
			}

			// Past the pending grace nothing is asked twice either: the
			// next redelivery of each event is not due for an hour.
			w.clock.Advance(16 * time.Minute)
			r = runBin(t, w.binEnv(), args...)
			wantCode(t, r, 0)
			wantRedeliveredOnce(t, w.redeliveries(), gs)
		})
	}
}

// TestSIGKILLMidRun kills the binary at whatever point it has reached once
// GitHub has seen 5 redeliveries (the kill is asynchronous: between
// requests, between intent and request, or while a request is in flight),
// then runs it again — after the 15-minute pending grace when an intent is
// left whose request never reached GitHub — until it exits 0. Every failed
// event is redelivered exactly once in all.
func TestSIGKILLMidRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "mid", 60, w.ago(time.Hour), 30*time.Second)
	reached := make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, 503)
	rc.onDelivery = func(n int) {
		if n >= 5 {
			once.Do(func() { close(reached) })
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "20", "--no-probe")

	p := startBin(t, w.binEnv(), args...)
	select {
	case <-reached:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	case <-p.done:
		t.Fatalf("the run ended before it could be killed: %s", p.wait(t))
	}
	if r := p.wait(t); r.code != -1 {
		t.Fatalf("want the run killed, got %s", r)
	}
	killedAt := len(w.srv.Redeliveries())
	if killedAt < 5 || killedAt >= len(gs) {
		t.Fatalf("killed after %d redeliveries, want 5 to %d", killedAt, len(gs)-1)
	}

	for rerun := 1; ; rerun++ {
		r := runBin(t, w.binEnv(), args...)
		wantCode(t, r, 0)
		if len(w.redeliveries()) == len(gs) {
			t.Logf("killed after %d redeliveries; all %d done after %d rerun(s)", killedAt, len(gs), rerun)
			break
		}
		if rerun == 3 {
			t.Fatalf("after %d reruns %d of %d events were redelivered\n%s", rerun, len(w.redeliveries()), len(gs), r)
		}
		// An intent whose request never reached GitHub waits out the
		// pending grace before it is asked again.
		if !strings.Contains(r.stdout, "1 pending") {
			t.Errorf("rerun %d left events undone without one pending:\n%s", rerun, r)
		}
		w.clock.Advance(16 * time.Minute)
	}
	wantRedeliveredOnce(t, w.redeliveries(), gs)
}

// TestTwoRunsAtOnce starts two binaries at the same moment on one existing
// state and one target. One takes the lock; the other says it waits, waits, and then
// finds nothing due. Every failed event is redelivered exactly once in all.
func TestTwoRunsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "two", 20, w.ago(time.Hour), time.Minute)
	var procs [2]atomic.Pointer[proc]
	rc := newReceiver(t, 503)
	waited := make(chan int, 2)
	rc.onDelivery = func(n int) {
		if n != 1 {
			return
		}
		// Hold the first redelivery (the lock holder's) until the other
		// run says it is waiting. Bounded: GitHub gives a receiver 10 s.
		done := make(chan struct{})
		defer close(done)
		for i := range procs {
			p := procs[i].Load()
			if p == nil {
				continue
			}
			go func() {
				if p.stderr.waitFor("waiting up to", done, 8*time.Second) {
					waited <- i
				}
			}()
		}
		select {
		case <-waited:
		case <-time.After(8 * time.Second):
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "20", "--no-probe")
	// The state exists already (an earlier run on another hook): two runs
	// creating it at once is TestFirstRunsAtOnce.
	wantCode(t, w.run(w.args("run", "--repo", "acme/api", "--hook", fmt.Sprint(w.repoHook))...), 0)

	// Both exist before either can reach the receiver.
	a := startBin(t, w.binEnv(), args...)
	procs[0].Store(a)
	b := startBin(t, w.binEnv(), args...)
	procs[1].Store(b)
	ra, rb := a.wait(t), b.wait(t)
	wantCode(t, ra, 0)
	wantCode(t, rb, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)

	loser, winner := rb, a
	if strings.Contains(ra.stderr, "waiting up to") {
		loser, winner = ra, b
	}
	// The holder writes its pid into the lock file just after it takes the
	// lock; a run that looks in between reads "pid unknown" (see the
	// report). TestSecondRunGivesUp checks the pid where the timing is sure.
	want := fmt.Sprintf("is in use by another redeliver run (pid %d)", winner.cmd.Process.Pid)
	if strings.Contains(loser.stderr, "is in use by another redeliver run (pid unknown)") {
		t.Logf("note: the waiting run looked before the holder wrote its pid: %s", loser.stderr)
	} else if !strings.Contains(loser.stderr, want) {
		t.Errorf("the run that waited should say %q:\n%s", want, loser)
	}
	if !strings.Contains(loser.stderr, "waiting up to 1m0s") {
		t.Errorf("the run that waited should say how long it waits:\n%s", loser)
	}
	if !strings.Contains(loser.stdout, "20 waiting for their next attempt") {
		t.Errorf("the run that waited should find every event already asked for:\n%s", loser)
	}
}

// TestFirstRunsAtOnce: runs that start together on a state file that
// does not exist yet must all end well (one creates the file, the other
// waits for the lock or finds the file ready). Repeated, because the window
// is a few milliseconds wide; in-process, to make the rounds cheap.
// A new state is made under a temporary name and linked into place, so no
// run ever sees one half made.
func TestFirstRunsAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	args := []string{"run", "--api-url", w.api, "--rate", "0", "--org", "acme", "--hook", fmt.Sprint(w.orgHook)}
	const rounds, together = 80, 3
	failures := map[string]int{}
	for i := range rounds {
		state := fmt.Sprintf("%s/first-%d/state.db", w.dir, i)
		var wg sync.WaitGroup
		var rs [together]result
		for j := range rs {
			wg.Go(func() { rs[j] = runIn(t, w.env(), append(args, "--state", state)...) })
		}
		wg.Wait()
		for _, r := range rs {
			if r.code != 0 {
				failures[strings.TrimSpace(strings.ReplaceAll(r.stderr, state, "STATE"))]++
			}
		}
	}
	for msg, n := range failures {
		t.Errorf("%d of %d runs started %d at a time on a new state failed: %s", n, together*rounds, together, msg)
	}
}

// TestSecondRunGivesUp: with --lock-wait 0 a second run on a state in use
// exits 1 at once, naming the holder's pid, and asks GitHub for nothing.
func TestSecondRunGivesUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "held", 5, w.ago(time.Hour), time.Minute)
	holding, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, 503)
	rc.onDelivery = func(n int) {
		if n == 1 {
			close(holding)
			select {
			case <-release:
			case <-time.After(8 * time.Second):
			}
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))

	a := startBin(t, w.binEnv(), args...)
	select {
	case <-holding:
	case <-a.done:
		t.Fatalf("the first run ended early: %s", a.wait(t))
	}
	before := w.srv.TotalRequests()
	rb := runBin(t, w.binEnv(), append(args, "--lock-wait", "0")...)
	close(release)
	wantCode(t, rb, 1)
	want := fmt.Sprintf("is in use by another redeliver run (pid %d)", a.cmd.Process.Pid)
	if !strings.Contains(rb.stderr, want) {
		t.Errorf("want %q on stderr:\n%s", want, rb)
	}
	if n := len(w.srv.Redeliveries()); n != 1 {
		t.Errorf("%d redeliveries while the first run was held, want 1 (its own)", n)
	}
	// The second run only checked its credentials (GET /rate_limit).
	if got := w.srv.TotalRequests() - before; got > 1 {
		t.Errorf("the second run made %d requests, want at most 1", got)
	}
	wantCode(t, a.wait(t), 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
}

// TestLockWaitRunsOut: a second run waits --lock-wait for the first, says
// so, and exits 1 when the wait runs out, having redelivered nothing.
func TestLockWaitRunsOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "held", 2, w.ago(time.Hour), time.Minute)
	holding, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, 503)
	rc.onDelivery = func(n int) {
		if n == 1 {
			close(holding)
			select {
			case <-release:
			case <-time.After(8 * time.Second):
			}
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))
	a := startBin(t, w.binEnv(), args...)
	select {
	case <-holding:
	case <-a.done:
		t.Fatalf("the first run ended early: %s", a.wait(t))
	}
	rb := runIn(t, w.env(), append(args, "--lock-wait", "300ms")...)
	close(release)
	wantCode(t, rb, 1)
	if !strings.Contains(rb.stderr, "waiting up to 300ms") ||
		!strings.Contains(rb.stderr, fmt.Sprintf("is in use by another redeliver run (pid %d)", a.cmd.Process.Pid)) {
		t.Errorf("want the wait and then the holder named:\n%s", rb)
	}
	wantCode(t, a.wait(t), 0)
	if n := len(w.srv.Redeliveries()); n != 2 {
		t.Errorf("%d redeliveries, want 2 (the first run's)", n)
	}
}
