package redeliver_test

import (
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

func TestCutoff(t *testing.T) {
	p := redeliver.DefaultPolicy()
	start := t0
	cp := redeliver.Checkpoint{Time: t0.Add(-6 * time.Hour)}
	since := p
	since.Since = t0.Add(-2 * time.Hour)
	ago := p
	ago.SinceAgo = 36 * time.Hour
	for _, tc := range []struct {
		name  string
		p     redeliver.Policy
		hasCP bool
		want  time.Time
	}{
		{"a first run looks back its first window", p, false, t0.Add(-24 * time.Hour)},
		{"a later run starts at the checkpoint less the overlap", p, true, cp.Time.Add(-10 * time.Minute)},
		{"--since a time wins over the checkpoint", since, true, t0.Add(-2 * time.Hour)},
		{"--since a duration counts back from the run's start", ago, true, t0.Add(-36 * time.Hour)},
	} {
		if got := redeliver.Cutoff(tc.p, cp, tc.hasCP, start); !got.Equal(tc.want) {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestNextCheckpoint(t *testing.T) {
	p := redeliver.DefaultPolicy()
	ago := p
	ago.SinceAgo = time.Hour
	prev := redeliver.Checkpoint{Time: t0.Add(-6 * time.Hour)}
	for _, tc := range []struct {
		name           string
		p              redeliver.Policy
		hasPrev        bool
		cutoff, newest time.Time
		runAt          time.Time
		want           time.Time
		held           bool
	}{
		{"a busy hook follows GitHub's clock", p, true, prev.Time.Add(-10 * time.Minute), t0.Add(-time.Minute), t0, t0, false},
		{"a quiet hook stays with its newest attempt", p, true, prev.Time.Add(-10 * time.Minute), t0.Add(-3 * time.Hour), t0, t0.Add(-3 * time.Hour), false},
		{"a Date header days ahead does not move it past the attempts", p, true, prev.Time.Add(-10 * time.Minute), t0, t0.Add(72 * time.Hour), t0, false},
		{"an empty hook keeps the stored checkpoint", p, true, prev.Time.Add(-10 * time.Minute), time.Time{}, t0, prev.Time, false},
		{"an empty hook's first run records its cutoff", p, false, t0.Add(-24 * time.Hour), time.Time{}, t0, t0.Add(-24 * time.Hour), false},
		{"--since after the checkpoint holds it", ago, true, t0.Add(-time.Hour), t0, t0, prev.Time, true},
		{"a clock behind the checkpoint is told", p, true, prev.Time.Add(-10 * time.Minute), prev.Time.Add(-time.Hour), prev.Time.Add(-time.Hour), prev.Time, true},
	} {
		got, held := redeliver.NextCheckpoint(tc.p, prev, tc.hasPrev, tc.cutoff, tc.newest, tc.runAt)
		if !got.Time.Equal(tc.want) || (held != "") != tc.held {
			t.Errorf("%s: got %s (held %q), want %s (held %v)", tc.name, got.Time, held, tc.want, tc.held)
		}
		if !got.RunAt.Equal(tc.runAt) {
			t.Errorf("%s: RunAt %s, want the run's clock %s", tc.name, got.RunAt, tc.runAt)
		}
	}
}

func TestPruneBefore(t *testing.T) {
	p := redeliver.DefaultPolicy()
	old := t0.Add(-p.Horizon - 24*time.Hour)
	if got := redeliver.PruneBefore(p, redeliver.Checkpoint{Time: t0}, t0); !got.Equal(old) {
		t.Errorf("recent checkpoint: prune before %s, want a day past the horizon %s", got, old)
	}
	stale := redeliver.Checkpoint{Time: t0.Add(-10 * 24 * time.Hour)}
	if got := redeliver.PruneBefore(p, stale, t0); !got.Before(stale.Time.Add(-p.Overlap)) {
		t.Errorf("stale checkpoint: prune before %s, want behind the next listing's cutoff", got)
	}
}
