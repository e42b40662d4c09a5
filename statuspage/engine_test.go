package statuspage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// Every action's effect, in the ledger and at the emulator, through the
// page's own HTTP endpoints and the real engine.
func TestActionsReachTheEmulator(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	srv := httptest.NewServer(w.handler)
	t.Cleanup(srv.Close)
	c := noRedirect()
	act := func(guid string, a redeliver.ManualAction) string {
		t.Helper()
		resp, _ := post(t, c, srv.URL+"/action", url.Values{"key": {w.tgt.Key()}, "guid": {guid}, "action": {string(a)}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s %s: %s", a, guid, resp.Status)
		}
		return resp.Header.Get("Location")
	}
	redeliveries := func(guid string) int {
		n := 0
		for _, r := range w.gh.Redeliveries()[w.before:] {
			if r.GUID == guid {
				n++
			}
		}
		return n
	}
	const (
		exhausted = "00000000-0000-4000-8000-000000000007" // three failed redeliveries seeded; MaxAttempts 3
		waiting   = "00000000-0000-4000-8000-000000000002"
	)
	if e := entryOf(t, w.store, w.tgt.Key(), exhausted); e.State != redeliver.StateExhausted {
		t.Fatalf("%s: %s, want exhausted", exhausted, e.State)
	}

	// Retry exhausted: one more redelivery, at once, and it reaches the receiver.
	if loc := act(exhausted, redeliver.ManualRetry); !strings.Contains(loc, "done=") {
		t.Fatalf("retry exhausted: %s", loc)
	}
	if n := redeliveries(exhausted); n != 1 || w.rcv.count(exhausted) != 1 {
		t.Errorf("after retry exhausted: %d redeliveries, receiver got it %d times; want 1 and 1", n, w.rcv.count(exhausted))
	}
	e := entryOf(t, w.store, w.tgt.Key(), exhausted)
	if e.Granted != 1 || e.Used() != 4 || e.Manual != redeliver.ManualRetry || e.State != redeliver.StatePending {
		t.Errorf("after retry exhausted: %+v", e)
	}
	// Asking again while that redelivery is on its way is refused.
	if loc := act(exhausted, redeliver.ManualRetry); !strings.Contains(loc, "err=") {
		t.Errorf("a second retry while pending: %s", loc)
	}

	// Give up: the event is never asked again, though its spacing runs out.
	act(waiting, redeliver.ManualGiveUp)
	if e := entryOf(t, w.store, w.tgt.Key(), waiting); e.State != redeliver.StateExhausted || e.Manual != redeliver.ManualGiveUp {
		t.Errorf("after give up: %+v", e)
	}
	w.clock.Advance(2 * time.Hour)
	if err := w.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if n := redeliveries(waiting); n != 0 {
		t.Errorf("an event given up was redelivered %d times", n)
	}
	if n := redeliveries(w.g1); n != 1 {
		t.Errorf("an event still failing was redelivered %d times once due, want 1", n)
	}
	// The retried event's redelivery succeeded: recovered, and the page says who retried it.
	if e := entryOf(t, w.store, w.tgt.Key(), exhausted); e.State != redeliver.StateRecovered {
		t.Errorf("the retried event: %s, want recovered", e.State)
	}
	_, body := get(t, srv.Client(), srv.URL+"/target?key="+url.QueryEscape(w.tgt.Key())+"&state=exhausted")
	mustContain(t, body, waiting, "give up by status page")
	_, overview := get(t, srv.Client(), srv.URL+"/")
	for _, p := range []string{body, overview} {
		if strings.Contains(p, "ghp_") {
			t.Error("a page shows the GitHub token")
		}
	}
}
