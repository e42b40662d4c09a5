package redeliver_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
)

// The Runner against the real emulator, GitHub adapter and SQLite store:
// the rules that span several runs, where the ledger matters.

type fixture struct {
	gh     *ghfake.Server
	clock  *ghfake.Clock
	client *githubapi.Client
	store  *sqlite.Store
	hook   int64
	target redeliver.Target
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, opts ghfake.Options, receiverUp bool) *fixture {
	t.Helper()
	f := &fixture{clock: ghfake.NewClock(t0)}
	opts.Clock = f.clock
	f.gh = ghfake.New(opts)
	t.Cleanup(f.gh.Close)
	f.gh.AddOrg("acme")
	f.gh.AddToken(ghfake.Token{Value: "test-token", All: true})
	f.hook = f.gh.AddOrgHook("acme", ghfake.HookConfig{URL: receiverURL(t, receiverUp)})
	f.target = redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: f.hook}
	c, err := githubapi.New(githubapi.Config{BaseURL: f.gh.URL() + "/", Token: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	return f
}

// receiverURL is a receiver answering 200, or a port where nothing listens.
func receiverURL(t *testing.T, up bool) string {
	t.Helper()
	if up {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/hook"
}

func (f *fixture) run(t *testing.T, p redeliver.Policy, mods ...func(*redeliver.Runner)) *redeliver.Report {
	t.Helper()
	r := &redeliver.Runner{Source: f.client, Redeliverer: f.client, Store: f.store, Policy: p,
		Pacer: redeliver.NewPacer(0), Concurrency: 1}
	for _, m := range mods {
		m(r)
	}
	rep, err := r.Run(context.Background(), f.target)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

func (f *fixture) entry(t *testing.T, guid string) redeliver.LedgerEntry {
	t.Helper()
	es, err := f.store.Entries(context.Background(), f.target.Key())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.GUID == guid {
			return e
		}
	}
	t.Fatalf("no ledger entry for %s", guid)
	return redeliver.LedgerEntry{}
}

func redeliveredGUIDs(gh *ghfake.Server) map[string]int {
	n := map[string]int{}
	for _, r := range gh.Redeliveries() {
		n[r.GUID]++
	}
	return n
}

// A failed guid whose next attempt is not due yet falls behind the
// checkpoint; the ledger carries it and redelivers the attempt it knows.
func TestRunnerLedgerCarriesGuidBehindCheckpoint(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "g1", At: t0.Add(-time.Hour), StatusCode: 503}})
	p := redeliver.DefaultPolicy()

	if rep := f.run(t, p); rep.Redelivered != 1 {
		t.Fatalf("run 1: redelivered %d, want 1", rep.Redelivered)
	}
	first := f.gh.Redeliveries()[0]

	f.clock.Advance(30 * time.Minute) // the redelivery failed; next one due after 1 h
	// A newer event delivered fine moves the checkpoint past g1's attempts
	// (the checkpoint follows the newest attempt listed, not GitHub's clock).
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "g2", At: t0.Add(20 * time.Minute), StatusCode: 200}})
	if rep := f.run(t, p); rep.Redelivered != 0 || rep.Waiting != 1 {
		t.Fatalf("run 2: redelivered %d waiting %d, want 0 and 1", rep.Redelivered, rep.Waiting)
	}

	f.clock.Advance(3 * time.Hour) // the failed attempt is now behind the checkpoint
	rep := f.run(t, p)
	if rep.Events != 1 {
		t.Fatalf("run 3 listed %d events; only g2 should be, g1 behind the checkpoint", rep.Events)
	}
	if rep.Redelivered != 1 {
		t.Fatalf("run 3: redelivered %d, want 1 (carried by the ledger)", rep.Redelivered)
	}
	rs := f.gh.Redeliveries()
	if len(rs) != 2 || rs[1].GUID != "g1" || rs[1].DeliveryID != first.NewAttemptID {
		t.Fatalf("run 3 redelivered %+v; want the attempt made by the first redelivery (%d)", rs, first.NewAttemptID)
	}
	if e := f.entry(t, "g1"); e.Requests != 2 || e.State != redeliver.StatePending {
		t.Fatalf("ledger: %+v", e)
	}
}

// A redelivery GitHub accepted but has not performed yet is pending: the
// next run does not ask again; once it shows and failed, spacing applies.
func TestRunnerPendingUntilRedeliveryShows(t *testing.T) {
	f := newFixture(t, ghfake.Options{DeferRedeliveries: true}, false)
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "g1", At: t0.Add(-time.Hour), StatusCode: 0}})
	p := redeliver.DefaultPolicy()

	f.run(t, p)
	f.clock.Advance(5 * time.Minute)
	if rep := f.run(t, p); rep.Pending != 1 || rep.Redelivered != 0 {
		t.Fatalf("run 2: pending %d redelivered %d, want 1 and 0", rep.Pending, rep.Redelivered)
	}
	if n := f.gh.ProcessRedeliveries(); n != 1 {
		t.Fatalf("processed %d redeliveries, want 1", n)
	}
	f.clock.Advance(2 * time.Hour)
	if rep := f.run(t, p); rep.Redelivered != 1 {
		t.Fatalf("run 3: redelivered %d, want 1", rep.Redelivered)
	}
	if got := redeliveredGUIDs(f.gh)["g1"]; got != 2 {
		t.Fatalf("g1 redelivered %d times, want 2", got)
	}
}

// A run that died after recording its intent: if GitHub lists the
// redelivery, it counts and is not asked again; if not, the guid waits
// for the grace period, then is asked.
func TestRunnerReconcilesIntent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ghfake.Options{}, false)
	ids := f.gh.SeedAttempts(f.hook, []ghfake.Seed{
		{GUID: "sent", At: t0.Add(-2 * time.Hour), StatusCode: 500},
		{GUID: "sent", At: t0.Add(-time.Minute), StatusCode: 500, Redelivery: true}, // GitHub did it
		{GUID: "lost", At: t0.Add(-2 * time.Hour), StatusCode: 500},
	})
	intent := t0.Add(-time.Minute)
	err := f.store.Put(ctx, f.target.Key(),
		redeliver.LedgerEntry{GUID: "sent", Event: "push", FirstSeen: t0.Add(-2 * time.Hour), AttemptID: ids[0], AttemptAt: t0.Add(-2 * time.Hour), IntentAt: intent, State: redeliver.StateFailed},
		redeliver.LedgerEntry{GUID: "lost", Event: "push", FirstSeen: t0.Add(-2 * time.Hour), AttemptID: ids[2], AttemptAt: t0.Add(-2 * time.Hour), IntentAt: intent, State: redeliver.StateFailed},
	)
	if err != nil {
		t.Fatal(err)
	}
	p := redeliver.DefaultPolicy()
	rep := f.run(t, p, func(r *redeliver.Runner) { r.Policy.Since = t0.Add(-3 * time.Hour) })
	if rep.Redelivered != 0 || rep.Pending != 1 || rep.Waiting != 1 {
		t.Fatalf("run 1: redelivered %d pending %d waiting %d; want 0, 1 (lost, in grace), 1 (sent, spaced)", rep.Redelivered, rep.Pending, rep.Waiting)
	}
	if e := f.entry(t, "sent"); e.Requests != 1 || !e.IntentAt.IsZero() || !e.LastRequest.Equal(intent) {
		t.Fatalf("sent: %+v; want the intent counted as a request", e)
	}
	f.clock.Advance(20 * time.Minute)
	f.run(t, p)
	got := redeliveredGUIDs(f.gh)
	if got["lost"] != 1 || got["sent"] != 0 {
		t.Fatalf("redeliveries %v; want lost once (the intent never reached GitHub) and sent never", got)
	}
}

// When a run cannot send everything, never-asked guids go first, oldest
// first; the rest are deferred and go next time.
func TestRunnerFairOrderUnderCap(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, true)
	var seeds []ghfake.Seed
	for i, g := range []string{"e", "d", "c", "b", "a"} { // a is the oldest
		seeds = append(seeds, ghfake.Seed{GUID: g, At: t0.Add(-time.Duration(i+1) * time.Hour), StatusCode: 502})
	}
	f.gh.SeedAttempts(f.hook, seeds)
	p := redeliver.DefaultPolicy()
	p.MaxRedeliveries = 2
	rep := f.run(t, p)
	if rep.Redelivered != 2 || rep.Deferred != 3 {
		t.Fatalf("redelivered %d deferred %d, want 2 and 3", rep.Redelivered, rep.Deferred)
	}
	rs := f.gh.Redeliveries()
	if rs[0].GUID != "a" || rs[1].GUID != "b" {
		t.Fatalf("order %s, %s; want the oldest first: a, b", rs[0].GUID, rs[1].GUID)
	}
	f.clock.Advance(time.Minute)
	f.run(t, p)
	rs = f.gh.Redeliveries()
	if len(rs) != 4 || rs[2].GUID != "c" || rs[3].GUID != "d" {
		t.Fatalf("second run redelivered %v; want c then d", rs[2:])
	}
}

// A long run whose redeliveries keep failing stops early for that target
// instead of knocking the receiver over again.
func TestRunnerProbeStopsWhenReceiverStillFailing(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	var seeds []ghfake.Seed
	for i := range 40 {
		seeds = append(seeds, ghfake.Seed{At: t0.Add(-time.Duration(i+1) * time.Minute), StatusCode: 0})
	}
	f.gh.SeedAttempts(f.hook, seeds)
	rep := f.run(t, redeliver.DefaultPolicy(), func(r *redeliver.Runner) { r.Probe = true })
	if rep.Redelivered != 20 || rep.Deferred != 20 {
		t.Fatalf("redelivered %d deferred %d; want a stop after the first 20", rep.Redelivered, rep.Deferred)
	}
	if !strings.Contains(rep.Stopped, "receiver is still failing") {
		t.Fatalf("stopped: %q", rep.Stopped)
	}
}

// A dry run asks GitHub for nothing but the listing and writes nothing.
func TestRunnerDryRun(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, true)
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "g", At: t0.Add(-time.Hour), StatusCode: 404}})
	rep := f.run(t, redeliver.DefaultPolicy(), func(r *redeliver.Runner) { r.DryRun = true })
	if rep.Redelivered != 1 || len(rep.Items) != 1 || rep.Items[0].GUID != "g" {
		t.Fatalf("dry run report: %+v", rep)
	}
	if n := len(f.gh.Redeliveries()); n != 0 {
		t.Fatalf("dry run redelivered %d", n)
	}
	keys, _ := f.store.Targets(context.Background())
	if len(keys) != 0 {
		t.Fatalf("dry run wrote state for %v", keys)
	}
}

// A checkpoint older than the horizon is reported as a span nobody could
// check; an empty hook is a quiet, complete run.
func TestRunnerReportsCoverage(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, true)
	rep := f.run(t, redeliver.DefaultPolicy())
	if !rep.Complete || rep.Events != 0 || len(rep.Uncovered) != 0 {
		t.Fatalf("empty hook: %+v", rep)
	}
	f.clock.Advance(5 * 24 * time.Hour)
	rep = f.run(t, redeliver.DefaultPolicy())
	if len(rep.Uncovered) != 1 || !strings.Contains(rep.Uncovered[0].Reason, "horizon") {
		t.Fatalf("uncovered: %+v", rep.Uncovered)
	}
	if want := t0.Add(5*24*time.Hour - redeliver.HorizonDotCom); !rep.Uncovered[0].To.Equal(want) {
		t.Fatalf("uncovered until %s, want %s", rep.Uncovered[0].To, want)
	}
}

// A receiver shown healthy by the first probe costs no more listing calls.
func TestRunnerProbesAHealthyReceiverOnce(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, true)
	var seeds []ghfake.Seed
	for i := range 250 {
		seeds = append(seeds, ghfake.Seed{At: t0.Add(-time.Duration(i+1) * time.Second), StatusCode: 500})
	}
	f.gh.SeedAttempts(f.hook, seeds)
	rep := f.run(t, redeliver.DefaultPolicy(), func(r *redeliver.Runner) { r.Probe = true })
	if rep.Redelivered != 250 || rep.Stopped != "" {
		t.Fatalf("redelivered %d, stopped %q", rep.Redelivered, rep.Stopped)
	}
	if n := f.gh.RequestCount("GET /orgs/{org}/hooks/{hook_id}/deliveries"); n != rep.Pages+1 {
		t.Fatalf("%d listing calls for %d pages: want one probe, after the first 20", n, rep.Pages)
	}
}

// At the docs script's pace (ProbeIfDown), a listing whose newest
// deliveries succeeded shows the receiver up, and the probe's listing call
// is saved; newest deliveries failing, or a faster run, still probe.
func TestRunnerProbesOnlyWhenInDoubt(t *testing.T) {
	for _, c := range []struct {
		name        string
		newestOK    int // the newest 10 deliveries: how many succeeded
		probeIfDown bool
		want        int // listing calls beyond the pages
	}{
		{"receiver back, script pace", 10, true, 0},
		{"receiver flaky, script pace", 5, true, 0},
		{"receiver down, script pace", 1, true, 1},
		{"receiver back, faster than the script", 10, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, ghfake.Options{}, true)
			var seeds []ghfake.Seed
			for i := range 10 {
				code := 500
				if i < c.newestOK {
					code = 200
				}
				seeds = append(seeds, ghfake.Seed{At: t0.Add(-time.Duration(i+1) * time.Second), StatusCode: code})
			}
			for i := range 40 {
				seeds = append(seeds, ghfake.Seed{At: t0.Add(-time.Hour - time.Duration(i)*time.Second), StatusCode: 502})
			}
			f.gh.SeedAttempts(f.hook, seeds)
			rep := f.run(t, redeliver.DefaultPolicy(), func(r *redeliver.Runner) { r.Probe, r.ProbeIfDown = true, c.probeIfDown })
			if want := 50 - c.newestOK; rep.Redelivered != want || rep.Stopped != "" {
				t.Fatalf("redelivered %d, stopped %q; want %d, not stopped", rep.Redelivered, rep.Stopped, want)
			}
			if n := f.gh.RequestCount("GET /orgs/{org}/hooks/{hook_id}/deliveries"); n != rep.Pages+c.want {
				t.Fatalf("%d listing calls for %d pages; want %d beyond them", n, rep.Pages, c.want)
			}
		})
	}
}
