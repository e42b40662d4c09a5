package main

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestRunAnchorsEveryTargetAtItsStart: a first run that ends before it
// reaches a hook (here --timeout, as a CI time limit or a kill would)
// still records the window that hook begins with, so the next run, half a
// day later, examines the hook's oldest failures instead of sliding its
// 24 hours forward past them (104 events were lost that way).
func TestRunAnchorsEveryTargetAtItsStart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	old := w.failed(w.repoHook, "old", 3, w.ago(23*time.Hour), time.Minute)
	cfg := writeFile(t, w.dir, "two.yaml", []byte(fmt.Sprintf(
		"targets:\n  - org: acme\n    hook: %d\n  - repo: acme/api\n    hook: %d\n", w.orgHook, w.repoHook)), 0o644)

	// The deadline passes before the first page is read: nothing is listed.
	r := w.run(w.args("run", "--config", cfg, "--timeout", "1ns")...)
	wantCode(t, r, exitIncomplete)
	if n := len(w.srv.Redeliveries()); n != 0 {
		t.Fatalf("%d redeliveries in a run that timed out at once", n)
	}

	w.clock.Advance(12 * time.Hour)
	wantCode(t, w.run(w.args("run", "--config", cfg)...), 0)
	wantRedeliveredOnce(t, w.redeliveries(), old)
}

// TestKilledRunAnchorsEveryTarget: the same with the real binary killed
// (SIGKILL) while GitHub delivers its first redelivery of the first hook:
// the second hook, never reached, keeps the window the run began with.
func TestKilledRunAnchorsEveryTarget(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "first", 3, w.ago(time.Hour), time.Minute)
	old := w.failed(w.repoHook, "old", 3, w.ago(23*time.Hour), time.Minute)
	var running atomic.Pointer[proc]
	rc := newReceiver(t, 503)
	rc.onDelivery = func(n int) {
		if p := running.Load(); n == 1 && p != nil {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	cfg := writeFile(t, w.dir, "two.yaml", []byte(fmt.Sprintf(
		"targets:\n  - org: acme\n    hook: %d\n  - repo: acme/api\n    hook: %d\n", w.orgHook, w.repoHook)), 0o644)
	args := w.args("run", "--config", cfg, "--no-probe")

	p := startBin(t, w.binEnv(), args...)
	running.Store(p)
	r := p.wait(t)
	running.Store(nil)
	if r.code != -1 {
		t.Fatalf("want the run killed, got %s", r)
	}
	if got := w.redeliveries(); got["old-0000"]+got["old-0001"]+got["old-0002"] != 0 {
		t.Fatalf("the killed run reached the second hook: %v", got)
	}

	w.clock.Advance(12 * time.Hour)
	wantCode(t, runBin(t, w.binEnv(), args...), 0)
	got := w.redeliveries()
	for _, g := range old {
		if got[g] != 1 {
			t.Errorf("%s redelivered %d times, want once: redeliveries %v", g, got[g], got)
		}
	}
}
