package main

import (
	"github.com/schollz/progressbar/v3"

	"github.com/redeliver/redeliver"
)

// progress draws a bar on stderr, only when stderr is a terminal and the
// run is long enough to need one.
type progress struct {
	enabled bool
	ios     *streams
	bar     *progressbar.ProgressBar
}

// longRun is how many planned redeliveries make a run worth a bar.
const longRun = 30

func newProgress(ios *streams, text bool) *progress {
	return &progress{enabled: ios.errTTY && text, ios: ios}
}

func (p *progress) update(ev redeliver.Progress) {
	if !p.enabled || ev.ToSend < longRun {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(ev.ToSend,
			progressbar.OptionSetWriter(p.ios.err),
			progressbar.OptionSetDescription("redelivering "+ev.Target),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish())
	}
	_ = p.bar.Set(ev.Redelivered)
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
