//go:build benchclock

package main

import (
	"os"
	"strconv"
)

// paceScale compresses the pacer's time by $REDELIVER_BENCH_PACE_SCALE, for
// the benchmark, whose GitHub emulator compresses its rate-limit windows
// alike: the per-second pace grows and the per-minute and per-hour windows
// shrink by the factor, and the windows learned are kept in GitHub's time.
// Only a binary built with -tags benchclock reads it.
func paceScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("REDELIVER_BENCH_PACE_SCALE"), 64); err == nil && v >= 1 {
		return v
	}
	return 1
}
