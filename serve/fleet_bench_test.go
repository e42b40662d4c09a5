package serve_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/redeliver/redeliver/serve/fleet"
)

var (
	fleetHours = flag.Int("serve.hours", 3, "BenchmarkServeFleet: emulated hours in which outages begin (one more hour of traffic follows)")
	fleetJSON  = flag.String("serve.json", "", "BenchmarkServeFleet: also write the figures as JSON to this file")
)

// 50 hooks on github.com's rate limits, an event every 5 minutes on each
// on average, and random receiver outages (5 to 60 minutes, about one a
// hook every 3 hours) during -serve.hours, then an hour more of traffic.
// MTTR is from the end of an event's outage to its first successful
// delivery, in emulated seconds. `go run ./bench -serve` runs the same
// simulation and compares the docs workflow's schedule.
func BenchmarkServeFleet(b *testing.B) {
	for b.Loop() {
		f, err := fleet.Run(context.Background(), fleet.Options{Hooks: 50, Hours: *fleetHours, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(f.MTTRP50, "mttr_p50_s")
		b.ReportMetric(f.MTTRP95, "mttr_p95_s")
		b.ReportMetric(f.MTTRMax, "mttr_max_s")
		b.ReportMetric(f.BilledCallsPerHour, "billed/h")
		b.ReportMetric(float64(f.NotModifiedCalls), "304s")
		b.ReportMetric(float64(f.Missed), "missed")
		b.ReportMetric(float64(f.Duplicated), "duplicated")
		b.ReportMetric(float64(f.AttemptsDuringOutages), "attempts_in_outages")
		b.ReportMetric(float64(f.Pings), "pings")
		if *fleetJSON != "" {
			data, _ := json.MarshalIndent(f, "", "  ")
			if err := os.WriteFile(*fleetJSON, append(data, '\n'), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}
