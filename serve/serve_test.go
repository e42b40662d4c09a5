package serve

import (
	"maps"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/storetest"
)

// While the receiver is down and new deliveries keep failing, no attempt is
// spent; the poll after a delivery reaches it again redelivers every event
// that failed, each exactly once. The gauges and times to recovery come
// without reading the ledger whole (a day's outage on a busy hook leaves
// hundreds of thousands of events open).
func TestHeldWhileDownThenRedeliveredOnce(t *testing.T) {
	w := newWorld(t, worldOpts{store: func(st redeliver.Store) redeliver.Store { return storetest.NoWholeReads{Store: st} }})
	w.start()

	w.status.Store(503)
	var failed []string
	for range 10 { // ten minutes of outage, a failing event a minute
		failed = append(failed, w.send(w.hook, 1)...)
		w.advance(time.Minute)
	}
	if n := len(w.gh.Redeliveries()); n != 0 {
		t.Fatalf("%d redeliveries while the receiver was down, want 0", n)
	}
	if got := w.svc.Status().Targets[0].Receiver; got != HealthDown {
		t.Fatalf("receiver %s, want down", got)
	}
	if w.metric("redeliver_serve_held_polls_total") == 0 {
		t.Errorf("no held poll counted")
	}

	w.status.Store(200)
	w.send(w.hook, 1) // this one gets through: the receiver is back
	w.advance(DefaultSchedule().Hot)
	want := map[string]int{}
	for _, g := range failed {
		want[g] = 1
	}
	if got := w.redeliveries(); !maps.Equal(got, want) {
		t.Fatalf("after recovery: redeliveries %v, want each of %d failed events once", got, len(failed))
	}
	// Nothing more, however long it runs.
	w.advance(3 * time.Hour)
	if got := w.redeliveries(); !maps.Equal(got, want) {
		t.Fatalf("later: redeliveries %v, want each of %d failed events once", got, len(failed))
	}
	if got := w.metric("redeliver_serve_ledger_events", "state", "recovered"); got != float64(len(failed)) {
		t.Errorf("recovered gauge %v, want %d", got, len(failed))
	}
	if got := w.metric("redeliver_serve_time_to_recovery_seconds"); got != float64(len(failed)) {
		t.Errorf("time to recovery observed %v times, want %d", got, len(failed))
	}
}

// Where GitHub cannot ping the hook (an App's), when no newer delivery
// tells whether a failing receiver is back, one redelivery probes it now and then (the wait doubling); once a probe gets
// through, everything that failed goes at once, the probed event included.
func TestProbeWhenQuiet(t *testing.T) {
	w := newWorld(t, worldOpts{noPing: true})
	w.status.Store(503)
	failed := w.send(w.hook, 5)
	w.start()
	sch := DefaultSchedule()

	w.advance(sch.ProbeMin - time.Second)
	if n := len(w.gh.Redeliveries()); n != 0 {
		t.Fatalf("%d redeliveries before the first probe is due, want 0", n)
	}
	w.advance(sch.Hot)
	if n := len(w.gh.Redeliveries()); n != 1 {
		t.Fatalf("%d redeliveries after the first probe is due, want 1", n)
	}
	// The probe failed: the next one waits twice as long.
	w.advance(2*sch.ProbeMin - sch.Hot)
	if n := len(w.gh.Redeliveries()); n != 1 {
		t.Fatalf("%d redeliveries before the second probe is due, want 1", n)
	}
	w.status.Store(200)
	// A poll lets the second probe through, the next sees it succeed and
	// sends the events never asked, the one after that the probed one too.
	w.advance(3 * sch.Hot)
	got := w.redeliveries()
	if len(got) != len(failed) {
		t.Fatalf("after a probe got through: redeliveries %v, want all %d events", got, len(failed))
	}
	twice := 0
	for _, n := range got {
		if n == 2 {
			twice++
		}
	}
	if twice != 1 || len(w.gh.Redeliveries()) != len(failed)+1 {
		t.Fatalf("redeliveries %v: want the first probe's event twice, the others once", got)
	}
	w.advance(2 * time.Hour)
	if n := len(w.gh.Redeliveries()); n != len(failed)+1 {
		t.Fatalf("later: %d redeliveries, want %d", n, len(failed)+1)
	}
}

// Each poll lists only what is new: after the first poll read the whole
// window (three pages), a poll after one new delivery reads one page.
func TestOnlyNewPagesAreRead(t *testing.T) {
	w := newWorld(t, worldOpts{})
	var seeds []ghfake.Seed
	for i := range 250 {
		seeds = append(seeds, ghfake.Seed{At: w.gh.Clock().Now().Add(-time.Hour + time.Duration(i)*time.Second), StatusCode: 200})
	}
	w.gh.SeedAttempts(w.hook, seeds)
	const route = "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	w.start()
	if n := w.gh.RequestCount(route); n != 3 {
		t.Fatalf("first poll: %d list requests, want 3", n)
	}
	w.advance(5 * time.Minute) // well past the lag: the next poll may stop early
	before := w.gh.RequestCount(route)
	w.takePolls()
	w.send(w.hook, 1)
	w.advance(DefaultSchedule().Idle)
	polls := w.takePolls()
	news := 0
	for _, p := range polls {
		news += p.NewAttempts
		if p.Report.Pages != 1 {
			t.Errorf("a later poll read %d pages, want 1", p.Report.Pages)
		}
	}
	if news != 1 {
		t.Errorf("later polls saw %d new attempts, want 1", news)
	}
	if n := w.gh.RequestCount(route) - before; n != len(polls) {
		t.Fatalf("%d list requests for %d polls, want one each", n, len(polls))
	}
}

// An idle poll is a conditional request GitHub answers 304: an hour of a
// quiet hook costs no billed call at all, and the metrics say so.
func TestIdlePollsCostNothing(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.send(w.hook, 3)
	w.start()
	const route = "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	billed := w.gh.BilledCount(route)
	w.takePolls() // the first poll: nothing cached yet
	w.advance(time.Hour)
	polls := w.takePolls()
	if len(polls) < 30 {
		t.Fatalf("%d polls in an idle hour, want at least 30 (every 2 minutes)", len(polls))
	}
	if n := w.gh.BilledCount(route) - billed; n != 0 {
		t.Errorf("%d billed list calls in an idle hour, want 0", n)
	}
	if n := w.gh.NotModifiedCount(route); n != len(polls) {
		t.Errorf("%d answers 304 for %d polls, want one each", n, len(polls))
	}
	for _, p := range polls {
		if !p.NotModified || p.Err != nil {
			t.Fatalf("an idle poll: not modified %v, error %v", p.NotModified, p.Err)
		}
	}
	if got := w.metric("redeliver_serve_api_calls_total", "route", route, "status", "304"); got != float64(len(polls)) {
		t.Errorf("api_calls_total{status=304} = %v, want %d", got, len(polls))
	}
	// Something new: one billed call, and the poll sees it.
	w.send(w.hook, 1)
	w.advance(DefaultSchedule().Idle)
	if n := w.gh.BilledCount(route) - billed; n != 1 {
		t.Errorf("%d billed list calls after a new delivery, want 1", n)
	}
}

// A hook busier than the budget allows: polls are stretched to stay within
// the share of the hourly quota, the log and the metrics say so, and the
// schedule comes back once the hook is quiet again.
func TestBudgetStretchesAndRecovers(t *testing.T) {
	w := newWorld(t, worldOpts{ghfake: ghfake.Options{PrimaryLimit: 120}})
	w.start()
	const route = "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	billed := func() int {
		n := 0
		for _, c := range w.gh.Billed() {
			n += c
		}
		return n
	}
	start := billed()
	stretched := false
	for range 120 { // an hour with a new delivery every 30 s
		w.send(w.hook, 1)
		w.advance(30 * time.Second)
		stretched = stretched || w.metric("redeliver_serve_budget_stretched") == 1
	}
	spent := billed() - start
	t.Logf("billed calls in the busy hour: %d", spent)
	// Half of 120 an hour, plus the bucket's burst (5) and the first poll.
	if spent > 60+5+1 {
		t.Errorf("%d billed calls in the busy hour, want at most 66 (half of the 120 quota)", spent)
	}
	if spent < 40 {
		t.Errorf("%d billed calls in the busy hour: the budget was not used", spent)
	}
	if !stretched || !w.logs.has("API budget low: polls are stretched") {
		t.Errorf("stretch not reported (metric seen %v)", stretched)
	}
	if w.metric("redeliver_serve_budget_delayed_polls_total") == 0 {
		t.Errorf("no delayed poll counted")
	}
	// Quiet again: 304s cost nothing, the bucket refills, polls are back
	// on their schedule.
	w.advance(time.Hour)
	if w.metric("redeliver_serve_budget_stretched") != 0 || !w.logs.has("API budget recovered") {
		t.Errorf("the budget did not recover after a quiet hour")
	}
	if n := w.gh.RequestCount(route); n == 0 {
		t.Fatal("no list request at all")
	}
}
