package fleet

import (
	"context"
	"testing"
	"time"
)

// A small fleet for an emulated hour and a half: every failed event is
// recovered once, no attempt of an event is spent during an outage
// (pings tell when a receiver is back), and the docs model is filled in.
func TestSmallFleet(t *testing.T) {
	f, err := Run(context.Background(), Options{Hooks: 6, Hours: 2, Seed: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *f)
	if f.Outages == 0 || f.Failed == 0 {
		t.Fatalf("the world had %d outages and %d failed events: pick another seed", f.Outages, f.Failed)
	}
	if f.Missed != 0 || f.Duplicated != 0 || f.Redelivered != f.Failed {
		t.Errorf("missed %d, duplicated %d, redelivered %d of %d failed", f.Missed, f.Duplicated, f.Redelivered, f.Failed)
	}
	if f.AttemptsDuringOutages != 0 {
		t.Errorf("%d attempts spent during outages, want 0", f.AttemptsDuringOutages)
	}
	if f.Pings == 0 || f.MTTRMax > 150 || len(f.ServeTTR) != f.Failed {
		t.Errorf("pings %d, MTTR max %v s, %d times to recovery", f.Pings, f.MTTRMax, len(f.ServeTTR))
	}
	if !f.Docs.Modelled || len(f.Docs.TTR) != f.Failed || f.Docs.MTTRP50 < 600 {
		t.Errorf("docs model: %+v", f.Docs)
	}
}

// The docs script's model: a run at 00:15, 06:15, 12:15 and 18:15 UTC
// asks once for every event that failed since the last run; one that meets
// the receiver still down is asked again at the next run.
func TestDocsModel(t *testing.T) {
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	outages := map[int64][]outage{1: {{at(0, 30), at(2, 0)}}, 2: {{at(5, 0), at(7, 0)}}}
	failed := map[string]failure{
		"a": {hook: 1, at: at(1, 0), end: at(2, 0)},  // asked at 06:15: 4 h 15 min after the outage
		"b": {hook: 2, at: at(5, 30), end: at(7, 0)}, // 06:15 fails, 12:15 gets through: 5 h 15 min
	}
	sent := map[int64][]time.Time{1: {at(1, 0)}, 2: {at(5, 30)}}
	d := docsModel(failed, outages, sent, 2, 24)
	if d.AttemptsDuringOutages != 1 || d.Redelivered != 3 || d.Missed != 0 {
		t.Errorf("attempts during outages %d, redelivered %d, missed %d; want 1, 3, 0", d.AttemptsDuringOutages, d.Redelivered, d.Missed)
	}
	want := []float64{(4*time.Hour + 15*time.Minute).Seconds(), (5*time.Hour + 15*time.Minute).Seconds()}
	if len(d.TTR) != 2 || d.TTR[0] != want[0] || d.TTR[1] != want[1] {
		t.Errorf("times to recovery %v, want %v", d.TTR, want)
	}
	// 2 hooks, a run every 6 hours: one page + 2 variable calls each, plus
	// 3 redeliveries over 24 hours.
	if w := 2*3/6.0 + 3/24.0; d.BilledCallsPerHour != w {
		t.Errorf("billed calls an hour %v, want %v", d.BilledCallsPerHour, w)
	}
}
