package main

import (
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// TestProgressLinesOffATerminal: off a terminal a long run prints a plain
// line at most every 30 s, with counts, rate and time left; a short one
// prints none.
func TestProgressLinesOffATerminal(t *testing.T) {
	ios, _, stderr := testStreams(nil, false)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := newProgress(ios, true)
	p.now = func() time.Time { return now }
	const target = "org/acme/hooks/1"
	p.update(redeliver.Progress{Target: target, Pages: 1, Attempts: 100})
	now = now.Add(10 * time.Second)
	p.update(redeliver.Progress{Target: target, Pages: 2, Attempts: 200})
	if stderr.String() != "" {
		t.Fatalf("a line before 30 s: %q", stderr.String())
	}
	now = now.Add(25 * time.Second)
	p.update(redeliver.Progress{Target: target, Pages: 3, Attempts: 300})
	p.update(redeliver.Progress{Target: target, ToSend: 100})
	for i := 1; i <= 40; i++ {
		now = now.Add(time.Second)
		p.update(redeliver.Progress{Target: target, ToSend: 100, Redelivered: i})
	}
	p.done()
	want := []string{
		"progress: org/acme/hooks/1: listing, 3 pages and 300 attempts so far",
		"progress: org/acme/hooks/1: redelivered 30 of 100 (60.0 a minute, about 1m10s left)",
	}
	if got := strings.Split(strings.TrimSpace(stderr.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestProgressBarsOnATerminal: on a terminal a long listing shows a live
// count of pages, then a bar for the redeliveries.
func TestProgressBarsOnATerminal(t *testing.T) {
	ios, _, stderr := testStreams(nil, true)
	p := newProgress(ios, true)
	const target = "org/acme/hooks/1"
	for i := 1; i <= 5; i++ {
		p.update(redeliver.Progress{Target: target, Pages: i, Attempts: 100 * i})
	}
	if !strings.Contains(stderr.String(), "listing "+target) {
		t.Fatalf("no listing bar on a terminal: %q", stderr.String())
	}
	for i := 1; i <= 20; i++ {
		p.update(redeliver.Progress{Target: target, ToSend: 20, Redelivered: i})
	}
	p.done()
	if !strings.Contains(stderr.String(), "redelivering "+target) {
		t.Errorf("no redelivery bar on a terminal: %q", stderr.String())
	}
}
