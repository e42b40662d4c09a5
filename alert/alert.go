// Package alert tells people when events are lost for good: an event
// becomes exhausted or expired, or a target's listing has a gap nobody
// checked. Each is told once per notifier, never again on later runs or
// after a restart, because what was told is recorded in the state (Marks).
// Notifiers: a GitHub issue per target (GitHubIssues) and a Slack-compatible
// or generic JSON webhook (Webhook). Failures to tell are retried with
// backoff and counted; they never stop recovery.
package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/redeliver/redeliver"
)

// Kind is what an alert is about.
type Kind string

// Alert kinds.
const (
	KindExhausted Kind = "exhausted" // every redelivery allowed failed (or a person gave up)
	KindExpired   Kind = "expired"   // past GitHub's redelivery horizon before it succeeded
	KindGap       Kind = "gap"       // a span of time whose deliveries nobody checked
)

// Alert is one thing worth telling.
type Alert struct {
	Kind      Kind           `json:"kind"`
	GUID      string         `json:"guid,omitempty"`
	Event     string         `json:"event,omitempty"`
	Action    string         `json:"action,omitempty"`
	Attempts  int            `json:"redeliveries,omitempty"` // redeliveries used
	FirstSeen time.Time      `json:"first_seen,omitzero"`
	GivenUpBy string         `json:"given_up_by,omitempty"` // a person gave up on the status page
	Gap       redeliver.Span `json:"gap,omitzero"`
}

// Notice is what a notifier is told about one target after one pass.
type Notice struct {
	Target string  `json:"target"` // redeliver.Target.Key()
	Name   string  `json:"name"`   // redeliver.Target.String()
	Alerts []Alert `json:"alerts"` // oldest first
	// PageURL links to the target on the status page, when one is served.
	PageURL string    `json:"page_url,omitempty"`
	At      time.Time `json:"at"`
}

// Notifier tells people about a target's new alerts.
type Notifier interface {
	// Name identifies the notifier in marks, logs and metrics; it must stay
	// the same across runs ("webhook", "github-issues").
	Name() string
	// Notify tells n, which has at least one alert. An error wrapped with
	// Permanent is not retried.
	Notify(ctx context.Context, n Notice) error
}

// Resolver is a Notifier that also says when a target is healthy again (a
// GitHub issue is closed then).
type Resolver interface {
	Notifier
	// Resolve tells that the target key (named name) is healthy again.
	Resolve(ctx context.Context, key, name string) error
}

// Permanent marks an error that retrying will not fix (a 4xx answer).
func Permanent(err error) error { return backoff.Permanent(err) }

// Marks is where what has been told is remembered: the state store
// (sqlite.Store implements it). Marks are per target: subject → mark.
type Marks interface {
	// AlertMarks returns the target's marks.
	AlertMarks(ctx context.Context, key string) (map[string]string, error)
	// SetAlertMarks records marks (subject → mark) in one transaction.
	SetAlertMarks(ctx context.Context, key string, at time.Time, marks map[string]string) error
}

// Input is what a pass over one target found, for Check.
type Input struct {
	Key, Name string
	// Entries are the target's ledger entries after the pass: those lost
	// for good (exhausted, expired) and any open one (failed, pending),
	// which keeps the target from being called healthy. Others are ignored.
	Entries []redeliver.LedgerEntry
	// Uncovered are the spans the pass reported nobody checked.
	Uncovered []redeliver.Span
	// Failed says the pass itself failed (an error for the target): the
	// target is not called healthy then.
	Failed bool
	// Now is when the pass ended (GitHub's clock).
	Now time.Time
}

// Result is what Check did.
type Result struct {
	// New counts alerts not yet told by every notifier.
	New int
	// Sent counts notices delivered, Resolved targets reported healthy.
	Sent, Resolved int
	// Errors are failures that outlasted the retries (they are tried
	// again on the next pass); never fatal.
	Errors []string
}

// Alerter decides what is new, tells it to every notifier, and marks it.
// Its methods are safe for concurrent use on different targets; a process
// calls Check for a target after each pass over it, from the goroutine
// that runs the passes of that target.
type Alerter struct {
	Notifiers []Notifier
	Marks     Marks
	// PageURL is the status page's base URL ("" when none), linked from
	// the notices.
	PageURL string
	// Tries is how many times one notice is tried in one pass (default 3);
	// Backoff is the first wait between tries (default 2s), doubling.
	Tries   int
	Backoff time.Duration
	// Pause is how long a notifier that failed every try is left alone
	// before the next pass tries it again (default 1m, doubling to 1h
	// while it keeps failing).
	Pause  time.Duration
	Logger *slog.Logger
	// Wall is the clock for pauses; nil: time.Now.
	Wall func() time.Time

	mu     sync.Mutex
	stats  map[string]*Stats
	paused map[string]pause
}

// Stats count one notifier's work since the Alerter was made.
type Stats struct {
	Sent     int // notices delivered
	Resolved int // healthy-again notices delivered
	Retries  int // tries that failed and were tried again
	Failures int // notices that failed every try
	// LastError is the newest failure's message.
	LastError string
}

type pause struct {
	until time.Time
	next  time.Duration
}

// markFor is what an event's mark says it was told: its kind and the
// redeliveries it had, so an event retried by a person and exhausted again
// is told again.
func markFor(k Kind, used int) string { return string(k) + "/" + strconv.Itoa(used) }

// coverage is the subject of a target's gap mark; openSubject keeps, per
// notifier, that a target was reported unhealthy and not yet resolved.
const coverage = "coverage"

func openSubject(notifier string) string { return "open:" + notifier }

// told parses a mark: what was told and which notifiers told it.
func told(mark string) (what string, by []string) {
	what, list, _ := strings.Cut(mark, "|")
	if list != "" {
		by = strings.Split(list, ",")
	}
	return what, by
}

func join(what string, by []string) string {
	slices.Sort(by)
	return what + "|" + strings.Join(slices.Compact(by), ",")
}

// Check tells each notifier what in's target has that it has not told yet
// (summarized when there are many), records what was told, and, for
// Resolvers, says when the target is healthy again. Errors of notifiers are
// in Result.Errors and the stats; the error returned is the marks store's.
func (a *Alerter) Check(ctx context.Context, in Input) (Result, error) {
	var res Result
	if len(a.Notifiers) == 0 {
		return res, nil
	}
	marks, err := a.Marks.AlertMarks(ctx, in.Key)
	if err != nil {
		return res, err
	}
	type item struct {
		subject, what string
		alert         Alert
	}
	var items []item
	open := false
	for _, e := range in.Entries {
		var k Kind
		switch e.State {
		case redeliver.StateExhausted:
			k = KindExhausted
		case redeliver.StateExpired:
			k = KindExpired
		case redeliver.StateFailed, redeliver.StatePending:
			open = true
			continue
		default:
			continue
		}
		al := Alert{Kind: k, GUID: e.GUID, Event: e.Event, Action: e.Action, Attempts: e.Used(), FirstSeen: e.FirstSeen}
		if e.Manual == redeliver.ManualGiveUp {
			al.GivenUpBy = e.ManualBy
		}
		items = append(items, item{subject: e.GUID, what: markFor(k, e.Used()), alert: al})
	}
	slices.SortFunc(items, func(x, y item) int {
		if c := x.alert.FirstSeen.Compare(y.alert.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(x.subject, y.subject)
	})
	// Gaps: everything ending after the newest gap already told.
	gapWhat, gapBy := told(marks[coverage])
	var toldTo time.Time
	if gapWhat != "" {
		toldTo, _ = time.Parse(time.RFC3339Nano, gapWhat)
	}
	var newestGap time.Time
	for _, s := range in.Uncovered {
		if s.To.After(newestGap) {
			newestGap = s.To
		}
	}
	healthy := !open && len(in.Uncovered) == 0 && !in.Failed

	updates := map[string]string{}
	for _, n := range a.Notifiers {
		name := n.Name()
		var notice []Alert
		var subjects []item
		for _, it := range items {
			what, by := told(marks[it.subject])
			if what != it.what || !slices.Contains(by, name) {
				notice = append(notice, it.alert)
				subjects = append(subjects, it)
			}
		}
		var gapNew bool
		for _, s := range in.Uncovered {
			if s.To.After(toldTo) || (s.To.Equal(toldTo) && !slices.Contains(gapBy, name)) {
				notice = append(notice, Alert{Kind: KindGap, Gap: s})
				gapNew = true
			}
		}
		res.New = max(res.New, len(notice))
		if len(notice) > 0 {
			if !a.ready(name) {
				res.Errors = append(res.Errors, name+": paused after failures; tried again later")
				continue
			}
			nt := Notice{Target: in.Key, Name: in.Name, Alerts: notice, PageURL: a.pageURL(in.Key), At: in.Now}
			if err := a.try(ctx, name, func() error { return n.Notify(ctx, nt) }); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			res.Sent++
			a.count(name, func(s *Stats) { s.Sent++ })
			for _, it := range subjects {
				cur := updates[it.subject]
				if cur == "" {
					cur = marks[it.subject]
				}
				what, by := told(cur)
				if what != it.what {
					by = nil
				}
				updates[it.subject] = join(it.what, append(by, name))
			}
			if gapNew {
				cur := updates[coverage]
				if cur == "" {
					cur = marks[coverage]
				}
				what, by := told(cur)
				if what != newestGap.UTC().Format(time.RFC3339Nano) {
					by = nil
				}
				updates[coverage] = join(newestGap.UTC().Format(time.RFC3339Nano), append(by, name))
			}
			updates[openSubject(name)] = "open"
			continue
		}
		// Nothing new: a target reported before and healthy now is resolved.
		r, ok := n.(Resolver)
		if !ok || !healthy || marks[openSubject(name)] != "open" || !a.ready(name) {
			continue
		}
		if err := a.try(ctx, name, func() error { return r.Resolve(ctx, in.Key, in.Name) }); err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		res.Resolved++
		a.count(name, func(s *Stats) { s.Resolved++ })
		updates[openSubject(name)] = "resolved"
	}
	if len(updates) > 0 {
		if err := a.Marks.SetAlertMarks(context.WithoutCancel(ctx), in.Key, in.Now, updates); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (a *Alerter) pageURL(key string) string {
	if a.PageURL == "" {
		return ""
	}
	return strings.TrimSuffix(a.PageURL, "/") + "/target?key=" + key
}

// try runs op with retries and backoff, counting failures.
func (a *Alerter) try(ctx context.Context, name string, op func() error) error {
	tries, first := a.Tries, a.Backoff
	if tries <= 0 {
		tries = 3
	}
	if first <= 0 {
		first = 2 * time.Second
	}
	b := &backoff.ExponentialBackOff{InitialInterval: first, RandomizationFactor: 0.2, Multiplier: 2, MaxInterval: time.Minute}
	_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, op() },
		backoff.WithBackOff(b), backoff.WithMaxTries(uint(tries)), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, _ time.Duration) {
			a.count(name, func(s *Stats) { s.Retries++ })
			a.logger().Warn("alert not delivered; retrying", "notifier", name, "err", err)
		}))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.paused == nil {
		a.paused = map[string]pause{}
	}
	if err == nil {
		delete(a.paused, name)
		return nil
	}
	var pe *backoff.PermanentError
	if errors.As(err, &pe) {
		err = pe.Unwrap()
	}
	p := a.paused[name]
	if p.next == 0 {
		p.next = a.Pause
		if p.next <= 0 {
			p.next = time.Minute
		}
	}
	p.until = a.wall().Add(p.next)
	p.next = min(2*p.next, time.Hour)
	a.paused[name] = p
	s := a.statsLocked(name)
	s.Failures++
	s.LastError = err.Error()
	a.logger().Error("alert not delivered", "notifier", name, "err", err)
	return err
}

// ready says whether a notifier is not paused after failures.
func (a *Alerter) ready(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.paused[name]
	return !ok || !a.wall().Before(p.until)
}

func (a *Alerter) wall() time.Time {
	if a.Wall != nil {
		return a.Wall()
	}
	return time.Now()
}

func (a *Alerter) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

func (a *Alerter) count(name string, f func(*Stats)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a.statsLocked(name))
}

func (a *Alerter) statsLocked(name string) *Stats {
	if a.stats == nil {
		a.stats = map[string]*Stats{}
	}
	if a.stats[name] == nil {
		a.stats[name] = &Stats{}
	}
	return a.stats[name]
}

// Stats returns each notifier's counts, by notifier name.
func (a *Alerter) Stats() map[string]Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]Stats{}
	for _, n := range a.Notifiers {
		out[n.Name()] = Stats{}
	}
	for k, v := range a.stats {
		out[k] = *v
	}
	return out
}

// InputFor is the Input for Check after a pass that produced rep, with the
// target's ledger entries as they stand after it.
func InputFor(rep *redeliver.Report, entries []redeliver.LedgerEntry) Input {
	at := rep.To
	if at.IsZero() {
		at = time.Now()
	}
	return Input{Key: rep.Target, Name: rep.Name, Entries: entries, Uncovered: rep.Uncovered,
		Failed: rep.Error != "", Now: at}
}
