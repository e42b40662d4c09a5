package main

// The exit code of a run stopped by SIGINT or SIGTERM, with the real binary.

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestSignalMidRun stops the binary with SIGINT or SIGTERM once GitHub has
// seen 3 redeliveries. The run records its state and exits 130 or 143 (not
// 0: a scheduler must see an interrupted run), its JSON report says so, and
// the next run asks for the rest, none twice.
func TestSignalMidRun(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{})
			gs := w.failed(w.orgHook, "sig", 30, w.ago(time.Hour), time.Minute)
			reached := make(chan struct{})
			var once sync.Once
			rc := newReceiver(t, 503)
			rc.onDelivery = func(n int) {
				if n >= 3 {
					once.Do(func() { close(reached) })
				}
			}
			w.srv.SetHookURL(w.orgHook, rc.URL)
			report := w.dir + "/report.json"
			args := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "10", "--no-probe", "--report", report)

			p := startBin(t, w.binEnv(), args...)
			select {
			case <-reached:
				_ = p.cmd.Process.Signal(c.sig)
			case <-p.done:
				t.Fatalf("the run ended before the signal: %s", p.wait(t))
			}
			r := p.wait(t)
			wantCode(t, r, c.code)
			data, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("the interrupted run wrote no report: %v\n%s", err, r)
			}
			if res := decodeResult(t, string(data)); res.ExitCode != c.code || res.Totals.Redelivered < 2 {
				t.Errorf("report: exit_code %d, redelivered %d; want %d and at least 2 (the third may be cut off on its way)", res.ExitCode, res.Totals.Redelivered, c.code)
			}

			// The state was recorded: the rest is asked for, nothing twice
			// (past the pending grace for a request cut off on its way).
			w.clock.Advance(16 * time.Minute)
			wantCode(t, runBin(t, w.binEnv(), args...), 0)
			wantRedeliveredOnce(t, w.redeliveries(), gs)
		})
	}
}
