package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/redeliver/redeliver"
)

// progress shows how a run goes, on stderr: a bar on a terminal once a
// target has enough redeliveries planned to need one; elsewhere (a CI
// log, a cron mail) a plain line at most every lineEvery, so a long run
// is never silent.
type progress struct {
	ios   *streams
	bar   bool // draw a bar (stderr is a terminal, the output is text)
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex               // the engine reports from its workers
	b       *progressbar.ProgressBar // redeliveries
	lb      *progressbar.ProgressBar // pages listed
	started time.Time                // of the current target's redeliveries
	last    time.Time                // the last plain line, or the target's start
}

// longRun is how many planned redeliveries make a target worth a bar.
const longRun = 10

// longListing is how many pages make a listing worth a bar (a spinner
// with the pages and attempts so far: the total is not known).
const longListing = 3

// lineEvery is the most time between two plain progress lines.
const lineEvery = 30 * time.Second

func newProgress(ios *streams, text bool) *progress {
	return &progress{ios: ios, bar: ios.errTTY && text, every: lineEvery, now: time.Now}
}

func (p *progress) update(ev redeliver.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ios.errTTY {
		switch {
		case !p.bar:
		case ev.ToSend >= longRun:
			p.draw(ev)
		case ev.ToSend == 0 && ev.Pages >= longListing:
			p.drawListing(ev)
		}
		return
	}
	now := p.now()
	if p.last.IsZero() {
		p.last = now
	}
	if ev.ToSend > 0 && p.started.IsZero() {
		p.started = now
	}
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	fmt.Fprintln(p.ios.err, progressLine(ev, now.Sub(p.started)))
}

// progressLine says where a target is: listing, or redelivering with the
// rate so far and the time left at that rate.
func progressLine(ev redeliver.Progress, sending time.Duration) string {
	if ev.ToSend == 0 {
		return fmt.Sprintf("progress: %s: listing, %d pages and %d attempts so far", ev.Target, ev.Pages, ev.Attempts)
	}
	line := fmt.Sprintf("progress: %s: redelivered %d of %d", ev.Target, ev.Redelivered, ev.ToSend)
	if secs := sending.Seconds(); secs > 0 && ev.Redelivered > 0 {
		rate := float64(ev.Redelivered) / secs
		left := time.Duration(float64(ev.ToSend-ev.Redelivered) / rate * float64(time.Second))
		line += fmt.Sprintf(" (%.1f a minute, about %s left)", rate*60, left.Round(time.Second))
	}
	return line
}

func (p *progress) drawListing(ev redeliver.Progress) {
	if p.lb == nil {
		p.lb = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(p.ios.err),
			progressbar.OptionSetDescription("listing "+ev.Target),
			progressbar.OptionShowCount(),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionClearOnFinish())
	}
	p.lb.Describe(fmt.Sprintf("listing %s: %d attempts in", ev.Target, ev.Attempts))
	_ = p.lb.Set(ev.Pages)
}

func (p *progress) draw(ev redeliver.Progress) {
	if p.lb != nil { // the listing is over
		_ = p.lb.Finish()
		p.lb = nil
	}
	if p.b == nil {
		p.b = progressbar.NewOptions(ev.ToSend,
			progressbar.OptionSetWriter(p.ios.err),
			progressbar.OptionSetDescription("redelivering "+ev.Target),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish())
	}
	_ = p.b.Set(ev.Redelivered)
}

// hold tells that the pacer holds the requests back for one of GitHub's
// windows, and until when: on a terminal in the bar, elsewhere as a line
// (always: a wait of minutes must not look like a hang).
func (p *progress) hold(target string, wait time.Duration, w redeliver.Window) {
	p.mu.Lock()
	defer p.mu.Unlock()
	until := p.now().Add(wait).UTC().Format("15:04:05 UTC")
	what := fmt.Sprintf("waiting %s, until %s, for GitHub's limit of %d redeliveries in %s", wait.Round(time.Second), until, w.Limit, w.Length)
	if p.b != nil {
		p.b.Describe("redelivering " + target + " (" + what + ")")
		return
	}
	fmt.Fprintf(p.ios.err, "progress: %s: %s\n", target, what)
	p.last = p.now()
}

// done ends a target: the bar is cleared, the plain lines start afresh.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range []**progressbar.ProgressBar{&p.b, &p.lb} {
		if *b != nil {
			_ = (*b).Finish()
			*b = nil
		}
	}
	p.started, p.last = time.Time{}, time.Time{}
}
