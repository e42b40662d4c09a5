package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// The messages of README's troubleshooting table that the command words
// (the adapter's are in githubapi/troubleshooting_test.go; the scope,
// network, did-you-mean, config, --rate and lock rows in diagnose_test.go,
// input_test.go and process_test.go).

func TestTroubleshootingNoSuchHook(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	r := w.run(w.args("run", "--org", "acme", "--hook", "12345")...)
	wantCode(t, r, 1)
	if want := fmt.Sprintf("org acme has no hook 12345 (its hooks: %d)", w.orgHook); !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("want %q:\n%s", want, r)
	}
}

func TestTroubleshootingRateLimitNotWaitedOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 2, w.ago(time.Hour), time.Minute)
	w.srv.AddFault(ghfake.Fault{Route: orgPostRoute, Kind: ghfake.FaultPrimaryLimit, RetryAfter: 3600})
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--timeout", "30s")...)
	wantCode(t, r, exitIncomplete)
	if !strings.Contains(r.stdout+r.stderr, "rate limit not waited out") {
		t.Errorf("want the rate limit named:\n%s", r)
	}
}
