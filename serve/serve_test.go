package serve

import (
	"github.com/redeliver/redeliver/ghfake"
	"maps"
	"testing"
	"time"
)

// While the receiver is down and new deliveries keep failing, no attempt is
// spent; the poll after a delivery reaches it again redelivers every event
// that failed, each exactly once.
func TestHeldWhileDownThenRedeliveredOnce(t *testing.T) {
	w := newWorld(t, worldOpts{})
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

// When no newer delivery tells whether a failing receiver is back, one
// redelivery probes it now and then (the wait doubling); once a probe gets
// through, everything that failed goes at once, the probed event included.
func TestProbeWhenQuiet(t *testing.T) {
	w := newWorld(t, worldOpts{})
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
