package redeliver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// pagedSource serves fixed pages: answers GitHub could give that the
// emulator, being correct, never does (a cursor that does not advance).
type pagedSource struct {
	pages []redeliver.Page
	calls int
}

func (s *pagedSource) ListAttempts(_ context.Context, _ redeliver.Target, cursor string) (redeliver.Page, error) {
	s.calls++
	i := 0
	if cursor != "" {
		i = int(cursor[0] - '0')
	}
	return s.pages[i], nil
}

func attemptsAt(ts ...time.Time) []redeliver.Attempt {
	var out []redeliver.Attempt
	for i, t := range ts {
		out = append(out, redeliver.Attempt{ID: int64(100 - i), GUID: "g", DeliveredAt: t, Status: "OK", StatusCode: 200})
	}
	return out
}

func TestListGuardsTheCrawl(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cut := func(redeliver.Page) time.Time { return now.Add(-time.Hour) }
	tgt := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 1}
	for _, tc := range []struct {
		name     string
		pages    []redeliver.Page
		calls    int
		taken    int
		complete bool
		stopped  string
	}{
		{"an empty first page is a quiet, complete listing",
			[]redeliver.Page{{ServerTime: now, Next: "1"}}, 1, 0, true, ""},
		{"the page that reaches the cutoff is the last one read",
			[]redeliver.Page{
				{ServerTime: now, Next: "1", Attempts: attemptsAt(now.Add(-10*time.Minute), now.Add(-20*time.Minute))},
				{ServerTime: now, Next: "2", Attempts: attemptsAt(now.Add(-50*time.Minute), now.Add(-2*time.Hour))},
				{ServerTime: now, Attempts: attemptsAt(now.Add(-3 * time.Hour))},
			}, 2, 3, true, ""},
		{"a page of attempts all older than the cutoff ends it",
			[]redeliver.Page{
				{ServerTime: now, Next: "1", Attempts: attemptsAt(now.Add(-10 * time.Minute))},
				{ServerTime: now, Next: "2", Attempts: attemptsAt(now.Add(-2 * time.Hour))},
			}, 2, 1, true, ""},
		{"a cursor that does not advance ends it cleanly, marked incomplete",
			[]redeliver.Page{
				{ServerTime: now, Next: "1", Attempts: attemptsAt(now.Add(-10 * time.Minute))},
				{ServerTime: now, Next: "1", Attempts: attemptsAt(now.Add(-20 * time.Minute))},
			}, 2, 2, false, "same page cursor"},
		{"no next link ends it",
			[]redeliver.Page{{ServerTime: now, Attempts: attemptsAt(now.Add(-10 * time.Minute))}}, 1, 1, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &pagedSource{pages: tc.pages}
			taken := 0
			l, err := redeliver.List(context.Background(), src, tgt, cut, func(redeliver.Attempt) { taken++ }, nil)
			if err != nil {
				t.Fatal(err)
			}
			if src.calls != tc.calls || taken != tc.taken || l.Complete != tc.complete {
				t.Fatalf("calls %d taken %d complete %v; want %d %d %v", src.calls, taken, l.Complete, tc.calls, tc.taken, tc.complete)
			}
			if tc.stopped != "" && !strings.Contains(l.Stopped, tc.stopped) {
				t.Fatalf("stopped %q, want it to mention %q", l.Stopped, tc.stopped)
			}
		})
	}
}
