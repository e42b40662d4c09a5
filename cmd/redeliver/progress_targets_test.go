package main

import (
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// TestProgressSeveralTargets: off a terminal, several targets at once get
// a line each every 30 s, in the order they began; a hold of the shared
// pacer is told once, naming the targets with redeliveries left.
func TestProgressSeveralTargets(t *testing.T) {
	ios, _, stderr := testStreams(nil, false)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := newTargetsProgress(ios, true, true, 3)
	p.now = func() time.Time { return now }
	const a, b, c = "org/acme/hooks/1", "org/acme/hooks/2", "org/acme/hooks/3"
	p.begin(a)
	p.begin(b)
	p.update(redeliver.Progress{Target: a, Pages: 1, Attempts: 100})
	p.update(redeliver.Progress{Target: b, ToSend: 10})
	now = now.Add(31 * time.Second)
	p.update(redeliver.Progress{Target: b, ToSend: 10, Redelivered: 5})
	p.done(a)
	p.begin(c)
	p.update(redeliver.Progress{Target: c, ToSend: 4})
	for range 2 { // two waiters on the same hold
		p.hold(40*time.Second, redeliver.Window{Limit: 80, Length: time.Minute})
	}
	want := []string{
		"progress: org/acme/hooks/1: listing, 1 pages and 100 attempts so far",
		"progress: org/acme/hooks/2: redelivered 5 of 10 (9.7 a minute, about 31s left)",
		"progress: org/acme/hooks/2, org/acme/hooks/3: waiting 40s, until 12:01:11 UTC, for GitHub's limit of 80 redeliveries in 1m0s",
	}
	if got := strings.Split(strings.TrimSpace(stderr.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestProgressSeveralTargetsOnATerminal: on a terminal, one bar counts the
// targets done.
func TestProgressSeveralTargetsOnATerminal(t *testing.T) {
	ios, _, stderr := testStreams(nil, true)
	p := newTargetsProgress(ios, true, true, 2)
	for _, tg := range []string{"org/acme/hooks/1", "org/acme/hooks/2"} {
		p.begin(tg)
		p.update(redeliver.Progress{Target: tg, ToSend: 3, Redelivered: 1})
	}
	p.done("org/acme/hooks/1")
	if !strings.Contains(stderr.String(), "targets done; 1 in progress") {
		t.Errorf("no bar of the targets: %q", stderr.String())
	}
	p.done("org/acme/hooks/2")
	p.finish()
}
