package redeliver

import (
	"context"
	"slices"
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

func TestPacerLearnsTheWindowThatWasHit(t *testing.T) {
	minute := Window{Limit: 80, Length: time.Minute}
	hour := Window{Limit: 500, Length: time.Hour}
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		want       []Window
	}{
		{"no retry-after: the shortest window", 0, []Window{minute}},
		{"a wait under a minute: the minute's window", 40 * time.Second, []Window{minute}},
		{"a wait of half an hour: the hour's, and the minute's", 30 * time.Minute, []Window{minute, hour}},
		{"a wait past every window: all of them", 2 * time.Hour, []Window{minute, hour}},
	} {
		p := NewPacer(0)
		p.Dormant(minute, hour)
		if len(p.Windows()) != 0 {
			t.Fatalf("%s: dormant windows active before a hit", tc.name)
		}
		got := p.Hit(tc.retryAfter)
		if !slices.Equal(got, tc.want) || !slices.Equal(p.Windows(), tc.want) {
			t.Errorf("%s: woke %v (active %v), want %v", tc.name, got, p.Windows(), tc.want)
		}
	}
}

// A dormant window counts requests without holding them back, so once
// woken it holds back at once if its limit was already used.
func TestPacerDormantWindowCountsRequests(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := NewPacer(0)
	p.Dormant(Window{Limit: 3, Length: time.Hour})
	for i := range 5 {
		if d := p.reserve(t0.Add(time.Duration(i) * time.Second)); d != 0 {
			t.Fatalf("request %d held back %s by a dormant window", i, d)
		}
	}
	p.Hit(0)
	if d := p.reserve(t0.Add(10 * time.Second)); d <= 0 {
		t.Fatal("a woken window whose limit was used let a request through")
	}
}

// A hold by a window is told once per request, naming the window; the
// pace's own short waits are not.
func TestPacerTellsLongHolds(t *testing.T) {
	t0 := time.Now() // Wait reads the wall clock
	hour := Window{Limit: 2, Length: time.Hour}
	p := NewPacer(0, hour)
	p.reserve(t0)
	p.reserve(t0.Add(time.Second))
	d, w := p.reserveWhy(t0.Add(2 * time.Second))
	if w != hour || d < HoldNotice {
		t.Fatalf("hold %s by %v, want the hour's window", d, w)
	}
	var told []Window
	p.OnHold(func(_ time.Duration, w Window) { told = append(told, w) })
	// The hold is told before the wait, which the deadline then ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); err == nil {
		t.Fatal("Wait went through a full window")
	}
	if len(told) != 1 || told[0] != hour {
		t.Errorf("told %v, want the hour's window once", told)
	}
}

// What an earlier run learned wakes the matching dormant window, and only
// learned windows are handed back for the next run.
func TestPacerWakesWhatAnEarlierRunLearned(t *testing.T) {
	minute := Window{Limit: 80, Length: time.Minute}
	hour := Window{Limit: 500, Length: time.Hour}
	set := Window{Limit: 1000, Length: 24 * time.Hour}
	p := NewPacer(1, set)
	p.Dormant(minute, hour)
	if got := p.Learned(); len(got) != 0 {
		t.Fatalf("learned %v before anything was learned", got)
	}
	p.Wake(Window{Limit: 400, Length: time.Hour}, Window{Limit: 7, Length: time.Second})
	want := []Window{set, {Limit: 400, Length: time.Hour}, {Limit: 7, Length: time.Second}}
	if !slices.Equal(p.Windows(), want) {
		t.Errorf("active %v, want %v", p.Windows(), want)
	}
	if got := p.Learned(); !slices.Equal(got, want[1:]) {
		t.Errorf("learned %v, want %v (not the window the caller set)", got, want[1:])
	}
	p.Hit(30 * time.Second)
	if got := p.Learned(); !slices.Equal(got, []Window{minute, want[1], want[2]}) {
		t.Errorf("after a hit, learned %v", got)
	}
}

// After a secondary limit nothing goes until its retry-after is over.
func TestPacerHoldsUntilRetryAfter(t *testing.T) {
	p := NewPacer(0)
	p.Dormant(Window{Limit: 80, Length: time.Minute})
	p.Hit(40 * time.Second)
	if d := p.reserve(time.Now()); d < 39*time.Second || d > 40*time.Second {
		t.Fatalf("held %s after a 40s retry-after", d)
	}
	if d := p.reserve(time.Now().Add(41 * time.Second)); d != 0 {
		t.Fatalf("still held %s after the retry-after", d)
	}
}

// The request GitHub refused counts in the windows when it is sent again,
// after the retry-after, as GitHub counts it: not when it was refused.
func TestPacerCountsTheRefusedRequestWhenResent(t *testing.T) {
	p := NewPacer(0)
	p.Dormant(Window{Limit: 2, Length: time.Hour})
	t0 := time.Now()
	p.reserve(t0)
	p.reserve(t0.Add(time.Second))
	p.reserve(t0.Add(2 * time.Second)) // refused by GitHub
	p.Hit(10 * time.Minute)
	w := p.windows[0]
	if last := w.at[len(w.at)-1]; last.Before(t0.Add(10 * time.Minute)) {
		t.Fatalf("the refused request counts at %s, want at the end of the wait", last.Sub(t0))
	}
}

// A request counts in the windows from its answer, which comes after
// GitHub counted it: its slot frees no sooner than GitHub's does.
func TestPacerCountsFromTheAnswer(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := NewPacer(0, Window{Limit: 2, Length: time.Minute})
	p.reserve(t0)
	p.reserve(t0.Add(time.Second))
	p.Answered(t0.Add(5 * time.Second)) // the first took 5 s to come back
	if got := p.windows[0].at; !got[0].Equal(t0.Add(5*time.Second)) || !got[1].Equal(t0.Add(5*time.Second)) {
		t.Fatalf("stamps %v: want both at the first answer (kept in order)", got)
	}
	p.Answered(t0.Add(2 * time.Second)) // the second's answer: no earlier than it counts
	if d := p.reserve(t0.Add(time.Minute + 2*time.Second)); d <= 0 {
		t.Fatal("a slot freed a minute after the request was let go, before its answer's minute was over")
	}
	p.Answered(t0) // an answer nothing waits for changes nothing
	if d := p.reserve(t0.Add(time.Minute + 6*time.Second)); d != 0 {
		t.Fatalf("held %s after the answers' minute was over", d)
	}
}

// SlowFor halves the pace for a while, then the pace from before the
// first slowdown comes back; another answer meanwhile halves again and
// starts the wait anew.
func TestPacerSlowForComesBack(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := NewPacer(2)
	p.slowFor(time.Hour, t0)
	if r := p.Rate(); r != 1 {
		t.Fatalf("pace after a slowdown %v/s, want 1", r)
	}
	p.slowFor(time.Hour, t0.Add(30*time.Minute))
	if r := p.Rate(); r != 0.5 {
		t.Fatalf("pace after a second slowdown %v/s, want 0.5", r)
	}
	p.restore(t0.Add(time.Hour + 29*time.Minute))
	if r := p.Rate(); r != 0.5 {
		t.Fatalf("pace before the hour from the last slowdown %v/s, want still 0.5", r)
	}
	p.restore(t0.Add(time.Hour + 30*time.Minute))
	if r := p.Rate(); r != 2 {
		t.Fatalf("pace an hour after the last slowdown %v/s, want 2 again", r)
	}
	u := NewPacer(0) // unlimited: 10 a second while slowed
	u.slowFor(time.Minute, t0)
	if r := u.Rate(); r != 10 {
		t.Fatalf("unlimited pacer slowed to %v/s, want 10", r)
	}
	u.restore(t0.Add(time.Minute))
	if r := u.Rate(); r != 0 {
		t.Fatalf("unlimited pacer after its slowdown: %v/s, want unlimited", r)
	}
}
