package serve

import (
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
