package redeliver

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacer spaces mutating requests. Its default is GitHub's best practice and
// documented limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api): one at a time, at least a second apart,
// and no more content-creating requests than GitHub allows in a minute (80)
// and in an hour (500), counted over sliding windows as GitHub counts them,
// so a long backlog drains at the pace GitHub allows without being told
// off. When GitHub or the receiver pushes back, Slow halves the pace for the
// rest of the run.
type Pacer struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	windows []*window
	onHold  func(wait time.Duration, w Window)
	// until holds every request back until GitHub's retry-after is over:
	// a request sent into a known limit window is only refused again.
	until time.Time
	// unanswered counts the requests let go whose answer Answered has not
	// heard yet: the newest entries of every window.
	unanswered int
	// normal is the pace SlowFor lowered, restored at slowUntil.
	normal    rate.Limit
	slowUntil time.Time
}

// HoldNotice is the shortest hold that OnHold hears about: waits for the
// pace itself (a second or so) are not news.
const HoldNotice = 5 * time.Second

// OnHold sets fn to hear when a window holds a request back for
// HoldNotice or more, with how long and which window: so a long run says
// what it waits for and until when, instead of falling silent.
func (p *Pacer) OnHold(fn func(wait time.Duration, w Window)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onHold = fn
}

// Window is a cap of Limit requests in any span of Length.
type Window struct {
	Limit  int
	Length time.Duration
}

// GitHubWindows are GitHub's content-creation limits: 80 a minute, 500 an
// hour. Whether redeliveries count as content creation is not documented,
// so they are paced as if they do.
var GitHubWindows = []Window{{Limit: 80, Length: time.Minute}, {Limit: 500, Length: time.Hour}}

// window remembers when the last Limit requests went. A dormant window
// remembers them too but does not hold requests back until it is woken.
type window struct {
	Window
	at      []time.Time
	dormant bool
	// learned: woken by a secondary limit (Hit) or by what an earlier run
	// learned (Wake), not set by the caller.
	learned bool
}

// NewPacer allows perSecond requests a second (≤ 0: unlimited) and at most
// each window's Limit in any span of its Length (a zero Limit is no cap).
func NewPacer(perSecond float64, windows ...Window) *Pacer {
	l := rate.Limit(perSecond)
	if perSecond <= 0 {
		l = rate.Inf
	}
	p := &Pacer{lim: rate.NewLimiter(l, 1)}
	for _, w := range windows {
		if w.Limit > 0 && w.Length > 0 {
			p.windows = append(p.windows, &window{Window: w})
		}
	}
	return p
}

// Wait blocks until the next request may go, and counts it as gone.
func (p *Pacer) Wait(ctx context.Context) error {
	p.restore(time.Now())
	if err := p.lim.Wait(ctx); err != nil {
		return err
	}
	for told := false; ; told = true {
		d, w := p.reserveWhy(time.Now())
		if d <= 0 {
			return nil
		}
		p.mu.Lock()
		fn := p.onHold
		p.mu.Unlock()
		if fn != nil && !told && d >= HoldNotice {
			fn(d, w)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reserve counts a request at now if every window has room, or says how
// long until one has.
func (p *Pacer) reserve(now time.Time) time.Duration {
	d, _ := p.reserveWhy(now)
	return d
}

// reserveWhy is reserve, also naming the window that holds the longest.
func (p *Pacer) reserveWhy(now time.Time) (time.Duration, Window) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var wait time.Duration
	var why Window
	if d := p.until.Sub(now); d > 0 {
		wait = d
	}
	for _, w := range p.windows {
		for len(w.at) > 0 && !now.Before(w.at[0].Add(w.Length)) {
			w.at = w.at[1:]
		}
		if w.dormant {
			continue
		}
		if len(w.at) >= w.Limit {
			// A margin of a hundredth of the window absorbs the time
			// between our clock and GitHub's stamping of the request.
			if d := w.at[len(w.at)-w.Limit].Add(w.Length + w.Length/100).Sub(now); d > wait {
				wait, why = d, w.Window
			}
		}
	}
	if wait > 0 {
		return wait, why
	}
	for _, w := range p.windows {
		if w.dormant && len(w.at) >= w.Limit {
			w.at = w.at[1:]
		}
		w.at = append(w.at, now)
	}
	if len(p.windows) > 0 {
		p.unanswered++
	}
	return 0, Window{}
}

// Answered tells the pacer that GitHub answered one of the requests it let
// go, at at: the oldest request not yet answered then counts in the
// windows from at. GitHub counts a request when it arrives, which may be
// well after the pacer let it go (the intent is written first, the network
// and a busy machine take their time); counted from its answer, which
// comes after its arrival, it leaves GitHub's window no sooner than
// GitHub's own count does, so a window kept is never overrun. Requests let
// go later than it count from at too, if they counted from earlier: the
// windows stay in order, and later is the safe side.
func (p *Pacer) Answered(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unanswered == 0 {
		return
	}
	for _, w := range p.windows {
		for i := max(len(w.at)-p.unanswered, 0); i < len(w.at); i++ {
			if w.at[i].Before(at) {
				w.at[i] = at
			}
		}
	}
	p.unanswered--
}

// Dormant adds windows kept in reserve: requests are counted against them
// but not held back until a secondary rate limit wakes them (Hit). A pacer
// that learns starts at the pace of GitHub's docs script and keeps to a
// limit only once GitHub has shown it applies.
func (p *Pacer) Dormant(windows ...Window) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range windows {
		if w.Limit > 0 && w.Length > 0 {
			p.windows = append(p.windows, &window{Window: w, dormant: true})
		}
	}
}

// Hit wakes the dormant windows a secondary-limit answer points at: the
// shortest one at least as long as GitHub's retry-after, and every shorter
// one (a wait of a minute or less is the minute's window, a longer one the
// hour's). With no retry-after it wakes the shortest. It returns the
// windows woken, so the caller can remember them for later runs. Until
// retry-after is over no request goes.
func (p *Pacer) Hit(retryAfter time.Duration) []Window {
	p.mu.Lock()
	defer p.mu.Unlock()
	if retryAfter > 0 {
		if u := time.Now().Add(retryAfter); u.After(p.until) {
			p.until = u
		}
		// The refused request, the last let go, is sent again once the
		// wait is over: GitHub counts it then, not when it was refused.
		for _, w := range p.windows {
			if n := len(w.at); n > 0 && w.at[n-1].Before(p.until) {
				w.at[n-1] = p.until
			}
		}
	}
	var target time.Duration
	for _, w := range p.windows {
		if w.dormant && (target == 0 || w.Length < target) {
			target = w.Length // the shortest, unless retry-after says more
		}
	}
	if retryAfter > 0 {
		for _, w := range p.windows {
			if w.dormant && w.Length >= retryAfter && (target < retryAfter || w.Length < target) {
				target = w.Length
			}
		}
		if target < retryAfter { // longer than every window: the longest
			for _, w := range p.windows {
				if w.dormant {
					target = max(target, w.Length)
				}
			}
		}
	}
	var woken []Window
	for _, w := range p.windows {
		if w.dormant && w.Length <= target {
			w.dormant, w.learned = false, true
			woken = append(woken, w.Window)
		}
	}
	return woken
}

// Wake keeps to windows an earlier run learned from GitHub: the dormant
// window of the same length is woken (at the lower of the two limits), and
// a window no dormant one matches is added. A later run so starts within
// the limits that apply instead of meeting them again.
func (p *Pacer) Wake(windows ...Window) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, lw := range windows {
		if lw.Limit <= 0 || lw.Length <= 0 {
			continue
		}
		found := false
		for _, w := range p.windows {
			if w.Length == lw.Length && (w.dormant || w.learned) {
				w.Limit = min(w.Limit, lw.Limit)
				w.dormant, w.learned, found = false, true, true
			}
		}
		if !found {
			p.windows = append(p.windows, &window{Window: lw, learned: true})
		}
	}
}

// Learned are the windows the pacer keeps to because GitHub showed they
// apply (Hit) or an earlier run learned so (Wake): what a PaceStore keeps
// for the next run. Windows the caller set are not among them.
func (p *Pacer) Learned() []Window {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ws []Window
	for _, w := range p.windows {
		if w.learned && !w.dormant {
			ws = append(ws, w.Window)
		}
	}
	return ws
}

// PaceStore keeps, per API host, the windows a Pacer learned there, so a
// later run starts within the limits GitHub showed apply instead of
// meeting them again. It is apart from Store: a store that cannot keep
// them (an Actions variable) need not implement it, and a run then learns
// anew, at the cost of one limit answer.
type PaceStore interface {
	// Pace returns the windows learned for apiHost (such as
	// "api.github.com" or "ghe.example.com/api/v3"); ok is false when none
	// were.
	Pace(ctx context.Context, apiHost string) (windows []Window, ok bool, err error)
	// SetPace records the windows learned for apiHost, replacing those
	// recorded before, in one transaction.
	SetPace(ctx context.Context, apiHost string, windows []Window) error
}

// Windows are the limits the pacer keeps to now (not the dormant ones).
func (p *Pacer) Windows() []Window {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ws []Window
	for _, w := range p.windows {
		if !w.dormant {
			ws = append(ws, w.Window)
		}
	}
	return ws
}

// Slow halves the pace; an unlimited pacer drops to 10 a second.
func (p *Pacer) Slow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lim.Limit()
	if l == rate.Inf {
		p.lim.SetLimit(10)
		return
	}
	p.lim.SetLimit(l / 2)
}

// SlowFor halves the pace as Slow does, for d: then the pace from before
// the first of the slowdowns in a row comes back. For a service that runs
// for weeks, where a limit answer now and then must not slow it for good;
// each answer within d halves again and starts d anew.
func (p *Pacer) SlowFor(d time.Duration) {
	p.slowFor(d, time.Now())
}

func (p *Pacer) slowFor(d time.Duration, now time.Time) {
	p.mu.Lock()
	if p.slowUntil.IsZero() {
		p.normal = p.lim.Limit()
	}
	p.slowUntil = now.Add(d)
	p.mu.Unlock()
	p.Slow()
}

// restore brings back the pace SlowFor lowered, once its time is over.
func (p *Pacer) restore(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.slowUntil.IsZero() && !now.Before(p.slowUntil) {
		p.lim.SetLimit(p.normal)
		p.slowUntil = time.Time{}
	}
}

// Rate is the current pace in requests a second (0: unlimited).
func (p *Pacer) Rate() float64 {
	if l := p.lim.Limit(); l != rate.Inf {
		return float64(l)
	}
	return 0
}
