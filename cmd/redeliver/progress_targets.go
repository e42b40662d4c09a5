package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/redeliver/redeliver"
)

// targetsProgress shows a run's progress over its targets: one target at
// a time as progress does; several at once as one bar of the targets done
// on a terminal, and elsewhere a line for each target in progress at most
// every lineEvery (a CI log reads them as it read one).
type targetsProgress struct {
	one *progress // one target at a time
	ios *streams
	bar bool

	mu      sync.Mutex
	current string // the target worked on, one at a time
	total   int
	ended   int
	b       *progressbar.ProgressBar
	order   []string                      // the targets in progress, as begun
	latest  map[string]redeliver.Progress // their last step
	started map[string]time.Time          // when their redeliveries began
	last    time.Time                     // the last lines
	told    string                        // the last hold told, not told twice
	every   time.Duration
	now     func() time.Time
}

func newTargetsProgress(ios *streams, text, several bool, total int) *targetsProgress {
	p := &targetsProgress{ios: ios, total: total, every: lineEvery, now: time.Now}
	if !several {
		p.one = newProgress(ios, text)
		return p
	}
	p.bar = ios.errTTY && text
	p.latest, p.started = map[string]redeliver.Progress{}, map[string]time.Time{}
	return p
}

// begin: the target's work starts.
func (p *targetsProgress) begin(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.one != nil {
		p.current = target
		return
	}
	p.order = append(p.order, target)
	if p.last.IsZero() {
		p.last = p.now()
	}
}

func (p *targetsProgress) update(ev redeliver.Progress) {
	if p.one != nil {
		p.one.update(ev)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if _, ok := p.started[ev.Target]; !ok && ev.ToSend > 0 {
		p.started[ev.Target] = now
	}
	p.latest[ev.Target] = ev
	if p.ios.errTTY {
		p.draw()
		return
	}
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	for _, t := range p.order {
		if ev, ok := p.latest[t]; ok {
			fmt.Fprintln(p.ios.err, progressLine(ev, now.Sub(p.started[t])))
		}
	}
}

// draw shows the targets done and the redeliveries so far (with p.mu).
func (p *targetsProgress) draw() {
	if !p.bar {
		return
	}
	if p.b == nil {
		p.b = progressbar.NewOptions(p.total,
			progressbar.OptionSetWriter(p.ios.err),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish())
	}
	sent, planned := 0, 0
	for _, t := range p.order {
		sent += p.latest[t].Redelivered
		planned += p.latest[t].ToSend
	}
	p.b.Describe(fmt.Sprintf("targets done; %d in progress, redelivered %d of %d planned", len(p.order), sent, planned))
	_ = p.b.Set(p.ended)
}

// hold tells that the shared pacer holds the redeliveries back. One
// target at a time, it names that target; several, those that have
// redeliveries left (listings are not held), once for every waiter.
func (p *targetsProgress) hold(wait time.Duration, w redeliver.Window) {
	p.mu.Lock()
	if p.one != nil {
		current := p.current
		p.mu.Unlock()
		p.one.hold(current, wait, w)
		return
	}
	defer p.mu.Unlock()
	var held []string
	for _, t := range p.order {
		if ev := p.latest[t]; ev.ToSend > ev.Redelivered {
			held = append(held, t)
		}
	}
	until := p.now().Add(wait).UTC().Format("15:04:05 UTC")
	what := fmt.Sprintf("waiting %s, until %s, for GitHub's limit of %d redeliveries in %s", wait.Round(time.Second), until, w.Limit, w.Length)
	key := until + what[strings.Index(what, ","):]
	if key == p.told {
		return // another waiter on the same hold
	}
	p.told = key
	if p.b != nil {
		p.b.Describe("targets done (" + what + ")")
		return
	}
	fmt.Fprintf(p.ios.err, "progress: %s: %s\n", strings.Join(held, ", "), what)
	p.last = p.now()
}

// done: the target's work ended.
func (p *targetsProgress) done(target string) {
	if p.one != nil {
		p.one.done()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended++
	for i, t := range p.order {
		if t == target {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	delete(p.latest, target)
	delete(p.started, target)
	if p.b != nil {
		_ = p.b.Set(p.ended)
		if p.ended == p.total {
			_ = p.b.Finish()
			p.b = nil
		}
	}
}

// finish clears the bar of a run that ended before all its targets did.
func (p *targetsProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.b != nil {
		_ = p.b.Finish()
		p.b = nil
	}
}
