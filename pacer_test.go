package redeliver

import (
	"testing"
	"time"
)

// The sliding windows, driven with synthetic times (no waiting).
func TestPacerWindows(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := NewPacer(0, Window{Limit: 3, Length: time.Minute}, Window{Limit: 5, Length: time.Hour})
	for i := range 3 {
		if d := p.reserve(t0.Add(time.Duration(i) * time.Second)); d != 0 {
			t.Fatalf("request %d waits %s; the first 3 in a minute go at once", i, d)
		}
	}
	// The 4th must wait until the 1st leaves the minute (plus the margin).
	if d := p.reserve(t0.Add(10 * time.Second)); d != 50*time.Second+600*time.Millisecond {
		t.Fatalf("4th request waits %s, want 50.6s", d)
	}
	if d := p.reserve(t0.Add(time.Minute + 600*time.Millisecond)); d != 0 {
		t.Fatalf("4th request at the window's end waits %s", d)
	}
	p.reserve(t0.Add(2*time.Minute + time.Second))
	// Five in the hour: the 6th waits for the hour to pass the first one,
	// however free the minute is.
	want := time.Hour + 36*time.Second - 10*time.Minute
	if d := p.reserve(t0.Add(10 * time.Minute)); d != want {
		t.Fatalf("6th request waits %s, want %s", d, want)
	}
	if n := len(p.windows[1].at); n != 5 {
		t.Fatalf("a request that waits must not be counted: %d in the hour", n)
	}
}

// No windows: the per-second limiter alone decides.
func TestPacerWithoutWindows(t *testing.T) {
	p := NewPacer(0, Window{Limit: 0, Length: time.Minute})
	for i := range 1000 {
		if d := p.reserve(time.Unix(0, 0)); d != 0 {
			t.Fatalf("request %d waits %s", i, d)
		}
	}
}
