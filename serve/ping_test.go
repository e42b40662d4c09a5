package serve

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const orgPingRoute = "POST /orgs/{org}/hooks/{hook_id}/pings"

// While the receiver is down the service pings the hook, at a doubling
// interval, and spends no attempt of any event; the first ping that gets
// through is read within pingCheck and every failed event is redelivered
// at once, each exactly once. The failed pings are never redelivered.
func TestPingsProbeTheDownReceiver(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.status.Store(503)
	failed := w.send(w.hook, 5)
	w.start()
	sch := DefaultSchedule()

	w.advance(sch.PingMin - time.Second)
	if n := w.gh.RequestCount(orgPingRoute); n != 0 {
		t.Fatalf("%d pings before the first is due, want 0", n)
	}
	// 30 s, then 60, 120, 120…: in 20 minutes about a dozen pings.
	w.advance(20 * time.Minute)
	pings := w.gh.RequestCount(orgPingRoute)
	if pings < 8 || pings > 14 {
		t.Errorf("%d pings in 20 minutes of outage, want 8 to 14 (30 s doubling to %s)", pings, sch.PingMax)
	}
	if got := w.metric("redeliver_serve_pings_total", "result", "ok"); got != float64(pings) {
		t.Errorf("pings_total{result=ok} %v, want %d", got, pings)
	}
	if n := len(w.gh.Redeliveries()); n != 0 {
		t.Fatalf("%d redeliveries while the receiver was down, want 0", n)
	}
	// The status tells how long it has been down and when the next ping goes.
	now := w.fc.Now()
	st := w.svc.Status().Targets[0]
	if st.Receiver != HealthDown || st.ReceiverSince.IsZero() || now.Sub(st.ReceiverSince) < 20*time.Minute {
		t.Errorf("status: receiver %s since %s; want down for 20 minutes or more (now %s)", st.Receiver, st.ReceiverSince, now)
	}
	// A ping goes with the first poll once it is due: up to a hot
	// interval late.
	if st.LastPing.IsZero() || now.Sub(st.LastPing) > sch.PingMax+sch.Hot || !st.NextPing.After(st.LastPing) || st.NextPing.Sub(st.LastPing) > sch.PingMax {
		t.Errorf("status: last ping %s, next %s (now %s); want the last within %s and the next at most %s after it", st.LastPing, st.NextPing, now, sch.PingMax+sch.Hot, sch.PingMax)
	}
	var pingGUIDs []string
	for _, a := range w.gh.Attempts(w.hook) {
		if a.Event == "ping" {
			if a.StatusCode != 503 {
				t.Errorf("a ping during the outage got %d", a.StatusCode)
			}
			pingGUIDs = append(pingGUIDs, a.GUID)
		}
	}
	if len(pingGUIDs) != pings {
		t.Fatalf("%d ping deliveries listed for %d pings", len(pingGUIDs), pings)
	}

	// Back: the next ping gets through, its delivery is read within
	// pingCheck, and the failed events go at once.
	back := w.fc.Now()
	w.status.Store(200)
	w.advance(sch.PingMax + pingCheck + time.Second)
	want := map[string]int{}
	for _, g := range failed {
		want[g] = 1
	}
	if got := w.redeliveries(); !maps.Equal(got, want) {
		t.Fatalf("after the receiver came back: redeliveries %v, want each of %d failed events once", got, len(failed))
	}
	var okPing time.Time
	for _, a := range w.gh.Attempts(w.hook) {
		if a.Event == "ping" && a.StatusCode == 200 && okPing.IsZero() {
			okPing = a.DeliveredAt
		}
	}
	if okPing.IsZero() || okPing.Before(back) {
		t.Fatalf("no successful ping after the receiver came back (%s)", back)
	}
	for _, r := range w.gh.Redeliveries() {
		if d := r.At.Sub(okPing); d < 0 || d > pingCheck {
			t.Errorf("redelivery of %s %s after the successful ping, want within %s", r.GUID, d, pingCheck)
		}
	}
	// Nothing more, however long it runs: no ping is redelivered, and no
	// more pings while the receiver is up.
	w.advance(3 * time.Hour)
	if got := w.redeliveries(); !maps.Equal(got, want) {
		t.Fatalf("later: redeliveries %v, want each of %d failed events once", got, len(failed))
	}
	if n := w.gh.RequestCount(orgPingRoute); n != pings+1 {
		t.Errorf("%d pings in all, want %d (none once the receiver is up)", n, pings+1)
	}
	if st := w.svc.Status().Targets[0]; st.Receiver != HealthUp || !st.NextPing.IsZero() || st.ReceiverSince.Before(back) {
		t.Errorf("status once back: receiver %s since %s, next ping %s; want up since it came back (%s), no ping planned", st.Receiver, st.ReceiverSince, st.NextPing, back)
	}
}

// New deliveries that fail count as evidence as much as a ping does: a
// busy hook is pinged only when nothing newer came for the ping interval.
func TestNoPingWhileNewDeliveriesTell(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.start()
	w.status.Store(503)
	for range 20 { // an event every 20 s
		w.send(w.hook, 1)
		w.advance(20 * time.Second)
	}
	if n := w.gh.RequestCount(orgPingRoute); n != 0 {
		t.Errorf("%d pings while failing deliveries came every 20 s, want 0", n)
	}
	if n := len(w.gh.Redeliveries()); n != 0 {
		t.Errorf("%d redeliveries while the receiver was down, want 0", n)
	}
}

// A stretched budget skips pings: the schedule waits for the budget.
func TestPingsWaitForTheBudget(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.status.Store(503)
	w.send(w.hook, 1)
	w.start()
	// Exhaust the service's own bucket for this credential.
	w.svc.mu.Lock()
	for _, b := range w.svc.budgets {
		for range 10 { // ten bursts: about 50 minutes of refill
			b.lim.ReserveN(w.fc.Now(), b.lim.Burst())
		}
	}
	w.svc.mu.Unlock()
	w.advance(5 * time.Minute)
	if n := w.gh.RequestCount(orgPingRoute); n != 0 {
		t.Errorf("%d pings while the budget was stretched, want 0", n)
	}
}

func TestScheduleValidatesPingIntervals(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ok := DefaultSchedule()
	zero := ok
	zero.PingMin, zero.PingMax = 0, 0 // the defaults
	if err := ok.Validate(); err != nil {
		t.Fatalf("default schedule: %v", err)
	}
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero ping intervals (the defaults): %v", err)
	}
	for _, tc := range []struct {
		name     string
		min, max time.Duration
	}{
		{"negative min", -time.Second, time.Minute},
		{"negative max", time.Second, -time.Minute},
		{"max below min", 5 * time.Minute, time.Minute},
		{"max below the default min", 0, 10 * time.Second},
	} {
		s := ok
		s.PingMin, s.PingMax = tc.min, tc.max
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), "ping intervals") {
			t.Errorf("%s: %v, want an error naming the ping intervals", tc.name, err)
		}
		if _, err := New(Config{Source: w.client, Redeliverer: w.client, Store: w.store, Schedule: s, Registry: prometheus.NewRegistry()}); err == nil {
			t.Errorf("%s: New accepted the schedule", tc.name)
		}
	}
}
