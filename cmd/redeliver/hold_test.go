package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestRunSaysWhatItWaitsFor: off a terminal, a run the hourly cap holds
// back prints what it waits for and until when, rather than falling silent.
func TestRunSaysWhatItWaitsFor(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "capped", 3, w.ago(time.Hour), time.Minute)
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--no-probe",
		"--rate", "0", "--per-hour", "2", "--timeout", "1s")...)
	wantCode(t, r, exitIncomplete)
	if !strings.Contains(r.stderr, "waiting") || !strings.Contains(r.stderr, "for GitHub's limit of 2 redeliveries in 1h0m0s") {
		t.Errorf("no line says what the run waits for:\n%s", r)
	}
}
