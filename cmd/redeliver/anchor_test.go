package main

import (
	"fmt"
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
