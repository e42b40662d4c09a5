package serve

import (
	"testing"
	"time"
)

// Benchmarks in emulated time (go test -bench . ./serve/): they report
// what a day of serve costs and how fast it recovers, as custom metrics.
// For comparison, GitHub's docs workflow runs its script every 6 hours: a
// failed event waits 3 hours on average and 6 at worst before it is asked
// again, and every run lists the whole window since the previous one.

// An idle hour of 10 quiet hooks: every poll is a 304, none is billed.
func BenchmarkServeIdleHour(b *testing.B) {
	for b.Loop() {
		w := newWorld(b, worldOpts{hooks: 9})
		for _, h := range w.hookIDs() {
			w.send(h, 3)
		}
		w.start()
		billed0, nm0 := w.gh.TotalBilled(), w.gh.TotalNotModified()
		w.advance(time.Hour)
		billed, nm := w.gh.TotalBilled(), w.gh.TotalNotModified()
		b.ReportMetric(float64(billed-billed0)/10, "billed/hook/h")
		b.ReportMetric(float64(nm-nm0)/10, "304/hook/h")
		w.stop()
	}
}

// Time to recover after a 30-minute outage with an event a minute: from
// the moment the receiver is back until the last failed event was
// redelivered to it. "traffic": the next event arrives a minute later and
// shows the receiver back; "quiet": no more events, a probe finds out.
func BenchmarkServeTimeToRecover(b *testing.B) {
	for _, quiet := range []bool{false, true} {
		name := "traffic"
		if quiet {
			name = "quiet"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				w := newWorld(b, worldOpts{})
				w.start()
				w.status.Store(503)
				failed := 0
				for range 30 {
					w.send(w.hook, 1)
					failed++
					w.advance(time.Minute)
				}
				w.status.Store(200)
				back := w.fc.Now()
				if !quiet {
					w.advance(time.Minute)
					w.send(w.hook, 1)
				}
				w.advance(2 * time.Hour)
				var last time.Time
				ok := 0
				for _, r := range w.gh.Redeliveries() {
					if r.At.After(last) {
						last = r.At
					}
					if !r.At.Before(back) {
						ok++
					}
				}
				if ok < failed {
					b.Fatalf("%d of %d failed events redelivered after the outage", ok, failed)
				}
				b.ReportMetric(last.Sub(back).Seconds(), "ttr_s")
				b.ReportMetric(float64(len(w.gh.Redeliveries())-failed), "extra_attempts")
				w.stop()
			}
		})
	}
}
