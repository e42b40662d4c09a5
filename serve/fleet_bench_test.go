package serve

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

var (
	fleetHours = flag.Int("serve.hours", 3, "BenchmarkServeFleet: emulated hours of traffic")
	fleetJSON  = flag.String("serve.json", "", "BenchmarkServeFleet: also write the figures as JSON to this file")
)

// FleetFigures are what BenchmarkServeFleet measured.
type FleetFigures struct {
	Hooks                   int     `json:"hooks"`
	Hours                   int     `json:"hours"`
	Events                  int     `json:"events"`
	Failed                  int     `json:"failed"`
	MTTRP50                 float64 `json:"mttr_p50_s"`
	MTTRP95                 float64 `json:"mttr_p95_s"`
	MTTRMax                 float64 `json:"mttr_max_s"`
	BilledCallsPerHour      float64 `json:"billed_calls_per_hour"`
	NotModifiedCalls        int     `json:"not_modified_calls"`
	Redelivered             int     `json:"redelivered"`
	Missed                  int     `json:"missed"`
	Duplicated              int     `json:"duplicated"`
	AttemptsDuringOutages   int     `json:"attempts_spent_during_outages"`
	DocsScheduleMeanWaitSec float64 `json:"docs_schedule_mean_wait_s"`
}

// 50 hooks on github.com's rate limits, an event every 5 minutes on each
// on average, and random receiver outages (5 to 60 minutes, about one a
// hook every 3 hours) during -serve.hours, then an hour more of traffic. MTTR is from the end of an event's outage to its
// first successful delivery, in emulated seconds. The docs workflow's
// schedule for comparison: a run every 6 hours, so an event waits for the
// next run, 3 hours on average.
func BenchmarkServeFleet(b *testing.B) {
	for b.Loop() {
		f := runFleet(b, 50, *fleetHours)
		b.ReportMetric(f.MTTRP50, "mttr_p50_s")
		b.ReportMetric(f.MTTRP95, "mttr_p95_s")
		b.ReportMetric(f.MTTRMax, "mttr_max_s")
		b.ReportMetric(f.BilledCallsPerHour, "billed/h")
		b.ReportMetric(float64(f.NotModifiedCalls), "304s")
		b.ReportMetric(float64(f.Missed), "missed")
		b.ReportMetric(float64(f.Duplicated), "duplicated")
		b.ReportMetric(float64(f.AttemptsDuringOutages), "attempts_in_outages")
		if *fleetJSON != "" {
			data, _ := json.MarshalIndent(f, "", "  ")
			if err := os.WriteFile(*fleetJSON, append(data, '\n'), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func runFleet(b *testing.B, hooks, hours int) FleetFigures {
	w := newWorld(b, worldOpts{hooks: hooks - 1})
	rng := rand.New(rand.NewPCG(7, 11))
	ids := w.hookIDs()
	rcv := map[int64]*ghfake.Receiver{}
	outageEnd := map[int64]time.Time{} // the current or last outage's end, per hook
	ends := map[int64][]time.Time{}    // every outage's end, per hook
	for _, h := range ids {
		rcv[h] = w.gh.NewReceiver()
		w.gh.SetHookURL(h, rcv[h].URL())
	}
	w.start()
	start := w.fc.Now()
	billed0, nm0 := w.billedAndNotModified()
	type sent struct {
		hook int64
		end  time.Time // the end of the outage it failed in
	}
	failed := map[string]sent{}
	events := 0
	// Outages start during the first hours; traffic goes on for one more
	// hour, in which every outage ends.
	for minute := range (hours + 1) * 60 {
		now := w.fc.Now()
		for _, h := range ids {
			if minute < hours*60 && now.After(outageEnd[h]) && rng.IntN(180) == 0 {
				end := now.Add(time.Duration(5+rng.IntN(56)) * time.Minute)
				outageEnd[h] = end
				ends[h] = append(ends[h], end)
				rcv[h].FailUntil(end, 503)
			}
			if rng.IntN(5) == 0 {
				a, err := w.gh.Send(h, "push", "", nil)
				if err != nil {
					b.Fatal(err)
				}
				events++
				if a.StatusCode < 200 || a.StatusCode >= 300 {
					failed[a.GUID] = sent{h, outageEnd[h]}
				}
			}
		}
		w.advance(time.Minute)
	}
	w.advance(DefaultSchedule().Idle)
	billed, nm := w.billedAndNotModified()

	f := FleetFigures{Hooks: hooks, Hours: hours, Events: events, Failed: len(failed),
		BilledCallsPerHour: float64(billed-billed0) / w.fc.Since(start).Hours(), NotModifiedCalls: nm - nm0,
		Redelivered: len(w.gh.Redeliveries()), DocsScheduleMeanWaitSec: 3 * 3600}
	okAt := map[string][]time.Time{}
	for _, h := range ids {
		for _, d := range rcv[h].Deliveries() {
			if d.Answer == 200 {
				okAt[d.GUID] = append(okAt[d.GUID], d.At)
			}
		}
		for _, a := range w.gh.Attempts(h) {
			if a.Redelivery && (a.StatusCode < 200 || a.StatusCode >= 300) {
				f.AttemptsDuringOutages++
			}
		}
	}
	var mttr []float64
	for g, s := range failed {
		oks := okAt[g]
		switch {
		case len(oks) == 0:
			f.Missed++
			continue
		case len(oks) > 1:
			f.Duplicated++
		}
		// From the end of the outage that ended last before the event got
		// through (another may have begun before the first ended's events
		// were recovered).
		end := s.end
		for _, e := range ends[s.hook] {
			if !e.After(oks[0]) && e.After(end) {
				end = e
			}
		}
		s.end = end
		mttr = append(mttr, max(0, oks[0].Sub(s.end).Seconds()))
	}
	slices.Sort(mttr)
	if n := len(mttr); n > 0 {
		f.MTTRP50, f.MTTRP95, f.MTTRMax = mttr[n/2], mttr[min(n-1, n*95/100)], mttr[n-1]
	}
	w.stop()
	return f
}
