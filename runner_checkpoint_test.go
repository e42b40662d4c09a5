package redeliver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/mock"
)

// The checkpoint never jumps past events nobody examined.

func TestCheckpointIgnoresADateHeaderFarAhead(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	p := redeliver.DefaultPolicy()
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "ok", At: t0.Add(-time.Minute), StatusCode: 200}})
	f.run(t, p)

	// A server whose Date header runs two days ahead of its attempts.
	skewed := &mock.Source{ListAttemptsFn: func(ctx context.Context, tg redeliver.Target, c string) (redeliver.Page, error) {
		pg, err := f.client.ListAttempts(ctx, tg, c)
		pg.ServerTime = pg.ServerTime.Add(48 * time.Hour)
		return pg, err
	}}
	f.clock.Advance(time.Hour)
	r := &redeliver.Runner{Source: skewed, Redeliverer: f.client, Store: f.store, Policy: p, Pacer: redeliver.NewPacer(0), Concurrency: 1}
	if _, err := r.Run(context.Background(), f.target); err != nil {
		t.Fatal(err)
	}
	cp, _, _ := f.store.Checkpoint(context.Background(), f.target.Key())
	if cp.Time.After(f.clock.Now()) {
		t.Fatalf("checkpoint %s moved past the attempts' clock (%s)", cp.Time, f.clock.Now())
	}

	// Events delivered after that run are examined by the next one.
	f.clock.Advance(time.Hour)
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "late", StatusCode: 503}})
	f.clock.Advance(time.Minute)
	if rep := f.run(t, p); rep.Redelivered != 1 {
		t.Fatalf("redelivered %d, want the event delivered after the skewed run", rep.Redelivered)
	}
}

func TestCheckpointStaysWhenSinceStartsAfterIt(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	p := redeliver.DefaultPolicy()
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "ok", At: t0.Add(-time.Minute), StatusCode: 200}})
	f.run(t, p)
	before, _, _ := f.store.Checkpoint(context.Background(), f.target.Key())

	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "missed", At: t0.Add(time.Hour), StatusCode: 503}})
	f.clock.Advance(3 * time.Hour)
	short := p
	short.SinceAgo = 30 * time.Minute
	rep := f.run(t, short)
	if rep.Redelivered != 0 || rep.CheckpointHeld == "" {
		t.Fatalf("--since 30m: redelivered %d, held %q", rep.Redelivered, rep.CheckpointHeld)
	}
	if len(rep.Uncovered) == 0 || !strings.Contains(rep.Uncovered[0].Reason, "--since") {
		t.Errorf("uncovered %+v, want the span --since skipped", rep.Uncovered)
	}
	if cp, _, _ := f.store.Checkpoint(context.Background(), f.target.Key()); !cp.Time.Equal(before.Time) {
		t.Fatalf("checkpoint moved from %s to %s", before.Time, cp.Time)
	}
	if rep := f.run(t, p); rep.Redelivered != 1 {
		t.Fatalf("the next run redelivered %d, want the event --since skipped", rep.Redelivered)
	}
}

func TestSinceInTheFutureIsRefused(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	p := redeliver.DefaultPolicy()
	p.Since = t0.Add(48 * time.Hour)
	r := &redeliver.Runner{Source: f.client, Redeliverer: f.client, Store: f.store, Policy: p, Pacer: redeliver.NewPacer(0), Concurrency: 1}
	_, err := r.Run(context.Background(), f.target)
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("err = %v, want --since refused", err)
	}
	if _, ok, _ := f.store.Checkpoint(context.Background(), f.target.Key()); ok {
		t.Error("a checkpoint was written")
	}
}

func TestFirstRunAnchorsAtTheRunsStart(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	p := redeliver.DefaultPolicy()
	// The run began an hour before it reached this target.
	start := t0.Add(-time.Hour)
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{{GUID: "early", At: start.Add(-p.FirstWindow + 10*time.Minute), StatusCode: 503}})
	r := &redeliver.Runner{Source: f.client, Redeliverer: f.client, Store: f.store, Policy: p, Pacer: redeliver.NewPacer(0), Concurrency: 1, Start: start}
	rep, err := r.Run(context.Background(), f.target)
	if err != nil || rep.Redelivered != 1 {
		t.Fatalf("redelivered %d (err %v), want the event within the window of the run's start", rep.Redelivered, err)
	}
}

func TestAnchorFirstRunLeavesAnExistingCheckpoint(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	ctx, key, p := context.Background(), f.target.Key(), redeliver.DefaultPolicy()
	if err := redeliver.AnchorFirstRun(ctx, f.store, key, p, t0); err != nil {
		t.Fatal(err)
	}
	cp, ok, _ := f.store.Checkpoint(ctx, key)
	if want := redeliver.Anchor(p, t0); !ok || !cp.Time.Equal(want.Time) {
		t.Fatalf("anchor %+v, want %+v", cp, want)
	}
	if err := redeliver.AnchorFirstRun(ctx, f.store, key, p, t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := f.store.Checkpoint(ctx, key); !again.Time.Equal(cp.Time) {
		t.Errorf("a second anchor moved the checkpoint to %s", again.Time)
	}
}

func TestRunnerCountsForeignRedeliveries(t *testing.T) {
	f := newFixture(t, ghfake.Options{}, false)
	f.gh.SeedAttempts(f.hook, []ghfake.Seed{
		{GUID: "a", At: t0.Add(-2 * time.Hour), StatusCode: 503},
		{GUID: "a", At: t0.Add(-time.Hour), StatusCode: 503, Redelivery: true},
		{GUID: "b", At: t0.Add(-2 * time.Hour), StatusCode: 503},
		{GUID: "b", At: t0.Add(-time.Hour), StatusCode: 200, Redelivery: true},
	})
	rep := f.run(t, redeliver.DefaultPolicy())
	if rep.Foreign != 2 {
		t.Fatalf("foreign redeliveries %d, want 2 (one failed, one recovered, neither ours)", rep.Foreign)
	}
	// Ours are not foreign, in this run or the next.
	f.clock.Advance(2 * time.Hour)
	if rep := f.run(t, redeliver.DefaultPolicy()); rep.Foreign != 0 {
		t.Errorf("second run counted %d foreign redeliveries, want 0", rep.Foreign)
	}
}
