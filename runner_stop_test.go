package redeliver_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/mock"
	"github.com/redeliver/redeliver/sqlite"
)

// The Runner's stop rules, reached on demand by wrapping the real emulator
// client and SQLite store in function-field fakes.

// seedFailed gives the fixture's hook n failed events, oldest first.
func seedFailed(f *fixture, n int, at time.Time) {
	var seeds []ghfake.Seed
	for i := range n {
		seeds = append(seeds, ghfake.Seed{GUID: fmt.Sprintf("g%02d", i), At: at.Add(time.Duration(i) * time.Second), StatusCode: 503})
	}
	f.gh.SeedAttempts(f.hook, seeds)
}

func (f *fixture) runWith(src redeliver.Source, rd redeliver.Redeliverer, st redeliver.Store) (*redeliver.Report, error) {
	r := &redeliver.Runner{Source: src, Redeliverer: rd, Store: st, Policy: redeliver.DefaultPolicy(),
		Pacer: redeliver.NewPacer(0), Concurrency: 1}
	return r.Run(context.Background(), f.target)
}

func TestRunnerStopsWhenTheIntentCannotBeRecorded(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 3, t0.Add(-time.Hour))
	puts := 0
	st := &mock.Store{Store: f.store, PutFn: func(ctx context.Context, key string, es ...redeliver.LedgerEntry) error {
		puts++
		if puts == 1 {
			return f.store.Put(ctx, key, es...) // the plan's entries
		}
		return errors.New("disk full")
	}}
	rep, err := f.runWith(f.client, f.client, st)
	if err == nil || !strings.Contains(err.Error(), "recording the intent") || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the failed intent write", err)
	}
	if rep.Stopped != "the state store failed" || len(f.gh.Redeliveries()) != 0 {
		t.Fatalf("stopped %q with %d redeliveries; want a stop before any request", rep.Stopped, len(f.gh.Redeliveries()))
	}
	if cp, ok, _ := f.store.Checkpoint(context.Background(), f.target.Key()); ok && cp.RunAt.After(time.Time{}) {
		t.Errorf("checkpoint moved to %+v after a store failure", cp)
	}
}

func TestRunnerStopsWhenTheOutcomeCannotBeRecorded(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 3, t0.Add(-time.Hour))
	puts := 0
	st := &mock.Store{Store: f.store, PutFn: func(ctx context.Context, key string, es ...redeliver.LedgerEntry) error {
		puts++
		if puts == 3 { // plan, intent, then the outcome of the first request
			return errors.New("I/O error")
		}
		return f.store.Put(ctx, key, es...)
	}}
	rep, err := f.runWith(f.client, f.client, st)
	if err == nil || !strings.Contains(err.Error(), "recording the outcome") {
		t.Fatalf("err = %v, want the failed outcome write", err)
	}
	if got := len(f.gh.Redeliveries()); got != 1 {
		t.Fatalf("%d redeliveries, want 1: the run stops after the request whose outcome was lost", got)
	}
	// The intent stays in the ledger: the next run reconciles it from the
	// listing instead of asking again.
	if e := f.entry(t, "g00"); e.IntentAt.IsZero() {
		t.Errorf("ledger lost the intent of the request whose outcome failed: %+v", e)
	}
	if rep.Stopped != "the state store failed" {
		t.Errorf("stopped %q", rep.Stopped)
	}
	rep = f.run(t, redeliver.DefaultPolicy())
	if n := redeliveredGUIDs(f.gh)["g00"]; n != 1 {
		t.Errorf("g00 redelivered %d times, want once (reconciled, not asked again)", n)
	}
	_ = rep
}

func TestRunnerStopsWhenGitHubRefusesTheCredentials(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 4, t0.Add(-time.Hour))
	calls := 0
	rd := &mock.Redeliverer{Redeliverer: f.client, RedeliverFn: func(ctx context.Context, tg redeliver.Target, id int64) (time.Time, error) {
		calls++
		if calls == 2 {
			return time.Time{}, redeliver.Errorf(redeliver.EAuth, "bad credentials")
		}
		return f.client.Redeliver(ctx, tg, id)
	}}
	rep, err := f.runWith(f.client, rd, f.store)
	if redeliver.ErrorCode(err) != redeliver.EAuth || rep.Stopped != "GitHub refused the credentials" {
		t.Fatalf("err %v stopped %q, want an auth stop", err, rep.Stopped)
	}
	if calls != 2 || rep.Redelivered != 1 {
		t.Errorf("%d requests, %d redelivered; want the run to end at the refusal", calls, rep.Redelivered)
	}
}

func TestRunnerStopsAfterFiveRefusalsInARow(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 8, t0.Add(-time.Hour))
	calls := 0
	rd := &mock.Redeliverer{RedeliverFn: func(context.Context, redeliver.Target, int64) (time.Time, error) {
		calls++
		return time.Time{}, fmt.Errorf("%w: 422", redeliver.ErrRefused)
	}}
	rep, err := f.runWith(f.client, rd, f.store)
	if err != nil {
		t.Fatalf("err = %v; refusals are not fatal", err)
	}
	if calls != 5 || rep.Errors != 5 || rep.Deferred != 3 || rep.Stopped != "GitHub refused 5 redeliveries in a row" {
		t.Errorf("calls %d errors %d deferred %d stopped %q; want 5 refused, 3 left for the next run", calls, rep.Errors, rep.Deferred, rep.Stopped)
	}
}

func TestRunnerRefusalAtTheHorizonIsExpired(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	// Delivered 71.5 h ago: within the 72 h horizon when planned, within an
	// hour of it when refused, so GitHub's refusal means it expired.
	seedFailed(f, 1, t0.Add(-71*time.Hour-30*time.Minute))
	p := redeliver.DefaultPolicy()
	p.SinceAgo = 72 * time.Hour
	rd := &mock.Redeliverer{RedeliverFn: func(context.Context, redeliver.Target, int64) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%w: 422 too old", redeliver.ErrRefused)
	}}
	r := &redeliver.Runner{Source: f.client, Redeliverer: rd, Store: f.store, Policy: p, Pacer: redeliver.NewPacer(0), Concurrency: 1}
	rep, err := r.Run(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.entry(t, "g00"); e.State != redeliver.StateExpired {
		t.Errorf("ledger state %s, want expired", e.State)
	}
	if len(rep.Items) != 1 || rep.Items[0].Verdict != redeliver.VerdictExpired {
		t.Errorf("items %+v, want g00 expired", rep.Items)
	}
}

func TestRunnerReportsAFailedCheckpointRead(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	st := &mock.Store{Store: f.store, CheckpointFn: func(context.Context, string) (redeliver.Checkpoint, bool, error) {
		return redeliver.Checkpoint{}, false, errors.New("database is locked")
	}}
	rep, err := f.runWith(f.client, f.client, st)
	if err == nil || !strings.Contains(rep.Error, "reading the checkpoint: database is locked") {
		t.Fatalf("err %v, report error %q", err, rep.Error)
	}
	if f.gh.TotalRequests() != 0 {
		t.Errorf("GitHub was asked %d things after the store failed", f.gh.TotalRequests())
	}
}

func TestListStopsAtACursorLoop(t *testing.T) {
	now := t0
	pages := map[string]redeliver.Page{
		"":  {ServerTime: now, Next: "A", Attempts: attemptsAt(now.Add(-time.Minute))},
		"A": {ServerTime: now, Next: "B", Attempts: attemptsAt(now.Add(-2 * time.Minute))},
		"B": {ServerTime: now, Next: "A", Attempts: attemptsAt(now.Add(-3 * time.Minute))},
	}
	calls := 0
	src := &mock.Source{ListAttemptsFn: func(_ context.Context, _ redeliver.Target, c string) (redeliver.Page, error) {
		calls++
		return pages[c], nil
	}}
	tgt := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 1}
	l, err := redeliver.List(context.Background(), src, tgt, func(redeliver.Page) time.Time { return now.Add(-24 * time.Hour) }, func(redeliver.Attempt) {}, nil)
	if err == nil || !strings.Contains(err.Error(), "loop back") || calls != 3 || l.Complete {
		t.Fatalf("err %v after %d calls (complete %v); want a loop error after 3 pages", err, calls, l.Complete)
	}
}

// A backlog larger than SpillAt moves to the disk queue and is sent the
// same: every guid once, in fair order.
func TestRunnerSpillsALargeBacklogToDisk(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 30, t0.Add(-time.Hour))
	spills := 0
	r := &redeliver.Runner{Source: f.client, Redeliverer: f.client, Store: f.store, Policy: redeliver.DefaultPolicy(),
		Pacer: redeliver.NewPacer(0), Concurrency: 1, SpillAt: 5, MaxItems: 10,
		Spill: func() (redeliver.Queue, error) { spills++; return sqlite.NewQueue(t.TempDir()) }}
	rep, err := r.Run(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	if spills != 1 || rep.Redelivered != 30 || len(rep.Items) != 10 || rep.ItemsOmitted != 20 {
		t.Fatalf("spills %d redelivered %d items %d omitted %d", spills, rep.Redelivered, len(rep.Items), rep.ItemsOmitted)
	}
	rs := f.gh.Redeliveries()
	for i, r := range rs {
		if want := fmt.Sprintf("g%02d", i); r.GUID != want {
			t.Fatalf("redelivery %d was %s, want %s (oldest first)", i, r.GUID, want)
		}
	}
}

// A listing that fails half way still tells how far it got, and a stop
// carries its reason as a code.
func TestRunnerReportsAnInterruptedListing(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	var seeds []ghfake.Seed
	for i := range 150 {
		seeds = append(seeds, ghfake.Seed{At: t0.Add(-time.Hour + time.Duration(i)*time.Second), StatusCode: 200})
	}
	f.gh.SeedAttempts(f.hook, seeds)
	calls := 0
	src := &mock.Source{ListAttemptsFn: func(ctx context.Context, tg redeliver.Target, c string) (redeliver.Page, error) {
		if calls++; calls == 2 {
			return redeliver.Page{}, context.DeadlineExceeded
		}
		return f.client.ListAttempts(ctx, tg, c)
	}}
	rep, err := f.runWith(src, f.client, f.store)
	if err == nil || rep.Pages != 1 || rep.From.IsZero() || len(rep.Uncovered) != 1 {
		t.Fatalf("err %v, pages %d, from %s, uncovered %v; want page 1 told and the rest uncovered", err, rep.Pages, rep.From, rep.Uncovered)
	}
}

func TestRunnerStopReasonIsACode(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 6, t0.Add(-time.Hour))
	rd := &mock.Redeliverer{RedeliverFn: func(context.Context, redeliver.Target, int64) (time.Time, error) {
		return time.Time{}, redeliver.Errorf(redeliver.ERateLimited, "secondary rate limit")
	}}
	rep, _ := f.runWith(f.client, rd, f.store)
	if rep.StopReason != redeliver.StopRateLimited || rep.Deferred != 6 {
		t.Fatalf("stop reason %q, deferred %d; want rate_limited and all 6 left", rep.StopReason, rep.Deferred)
	}
}

// holding is a Redeliverer that holds every redelivery before it is paced.
type holding struct {
	redeliver.Redeliverer
	asked int
}

func (h *holding) Held(t redeliver.Target) error {
	h.asked++
	return redeliver.Errorf(redeliver.ERateLimited, "held: the receiver is failing")
}

// Redeliver holds too, as serve's gate does.
func (h *holding) Redeliver(context.Context, redeliver.Target, int64) (time.Time, error) {
	return time.Time{}, h.Held(redeliver.Target{})
}

// A held redelivery spends neither a store write nor a place in the pacer's
// windows: serve holds a failing receiver's redeliveries, and writes or
// window places spent on them would delay the real ones once it is back.
func TestRunnerHoldsBeforePacingOrRecording(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	seedFailed(f, 3, t0.Add(-time.Hour))
	puts := 0
	st := &mock.Store{Store: f.store, PutFn: func(ctx context.Context, key string, es ...redeliver.LedgerEntry) error {
		for _, e := range es {
			if !e.IntentAt.IsZero() {
				puts++
			}
		}
		return f.store.Put(ctx, key, es...)
	}}
	h := &holding{Redeliverer: f.client}
	pacer := redeliver.NewPacer(1, redeliver.Window{Limit: 1, Length: time.Hour})
	r := &redeliver.Runner{Source: f.client, Redeliverer: h, Store: st, Policy: redeliver.DefaultPolicy(),
		Pacer: pacer, Concurrency: 1}
	rep, err := r.Run(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	if h.asked == 0 || puts != 0 || len(f.gh.Redeliveries()) != 0 {
		t.Fatalf("asked %d, intents written %d, redeliveries %d: want held before any intent", h.asked, puts, len(f.gh.Redeliveries()))
	}
	if rep.Deferred != 3 {
		t.Errorf("deferred %d, want 3", rep.Deferred)
	}
	// The window of one an hour is untouched: a request may go at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pacer.Wait(ctx); err != nil {
		t.Errorf("the pacer's window was spent by held redeliveries: %v", err)
	}
}
