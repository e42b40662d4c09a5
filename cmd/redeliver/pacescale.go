//go:build !benchclock

package main

// paceScale is 1: the pacer keeps GitHub's own time. The benchmark builds
// with -tags benchclock to compress it (pacescale_bench.go), so the binary
// it measures is this one with only its pacer's clock sped up, and the
// shipped binary has no knob for it.
func paceScale() float64 { return 1 }
