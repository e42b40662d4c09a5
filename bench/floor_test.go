package main

import (
	"testing"
	"time"
)

func TestFloorCalls(t *testing.T) {
	for _, c := range []struct{ attempts, failed, state, want int }{
		{2000, 20, 2, 20 + 20 + 2},
		{2001, 20, 0, 21 + 20},
		{0, 0, 0, 0},
		{1_000_000, 500_000, 0, 10_000 + 500_000},
	} {
		if got := floorCalls(c.attempts, c.failed, c.state); got != c.want {
			t.Errorf("floorCalls(%d, %d, %d) = %d, want %d", c.attempts, c.failed, c.state, got, c.want)
		}
	}
}

func TestEnvelopeFloor(t *testing.T) {
	for _, c := range []struct {
		name             string
		attempts, failed int
		want             time.Duration
	}{
		// 80 content-creating requests a minute: 20 fit at once.
		{"20 POSTs", 2000, 20, 0},
		// 80 at 0 s, 80 at 60 s, 40 at 120 s.
		{"200 POSTs", 2000, 200, 2 * time.Minute},
		// 500 an hour: 500 within the first 6 minutes (80 a minute), the
		// next 500 from the hour on.
		{"1000 POSTs", 2000, 1000, time.Hour + 6*time.Minute},
		// Ten hours' worth: 9 full hours, then 6 minutes.
		{"5000 POSTs", 10_000, 5000, 9*time.Hour + 6*time.Minute},
		// 900 points a minute for the list route: 900 pages a minute.
		{"2000 pages", 200_000, 0, 2 * time.Minute},
		// 5000 requests an hour: 10 000 pages need a second hour, and
		// within each hour 900 a minute.
		{"10000 pages", 1_000_000, 0, time.Hour + 5*time.Minute},
	} {
		if got := envelopeFloor(dotcom, c.attempts, c.failed, 0); got != c.want {
			t.Errorf("%s: envelopeFloor = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSimulatePaced(t *testing.T) {
	// One POST a second (the docs script's octokit pace) meets the hourly
	// limit after 500 and waits for the hour once per 500.
	s := simulate(githubEnvelope, jobRequests(0, 1500, 0, 0, time.Second))
	want := 2*time.Hour + 499*time.Second
	if s.End != want || s.Waits != 2 {
		t.Errorf("1500 POSTs at 1/s: end %v waits %d, want %v and 2", s.End, s.Waits, want)
	}
}

func TestCases(t *testing.T) {
	for _, list := range [][]benchCase{quickCases(), fullCases()} {
		seen := map[string]bool{}
		for _, c := range list {
			if seen[c.Name()] {
				t.Errorf("case %s twice", c.Name())
			}
			seen[c.Name()] = true
		}
	}
	// The quick run's JSON must hold a 2,000- and a 20,000-attempt window
	// the script finishes: few failures, never stopped early.
	var small, large bool
	for _, c := range quickCases() {
		if c.Regime == ghes && c.ScriptSampleOff && float64(c.Attempts)*c.Ratio <= 30 {
			small = small || c.Attempts == 2000
			large = large || c.Attempts == 20_000
		}
	}
	if !small || !large {
		t.Errorf("quick cases lack a 2,000 or a 20,000-attempt window the script can finish")
	}
	if got := (benchCase{Regime: ghes, Attempts: 20_000, Ratio: 0.001, Latency: 50 * time.Millisecond}).Name(); got != "ghes/50ms/20k/0.1%" {
		t.Errorf("name %q", got)
	}
}
