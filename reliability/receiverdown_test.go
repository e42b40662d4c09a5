//go:build unix

package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// Promise 3 — the receiver is down for days and never recovers. A run every
// 6 hours (emulator clock) for 4 days: each failed event gets at most
// --max-attempts redeliveries in total (counting those GitHub lists from
// elsewhere), the n-th followed by the next no sooner than
// retry-base × 2^(n-1), and is then reported exhausted, once; attempts past
// GitHub's 3-day horizon are reported expired and never sent.
func TestReceiverDownForDays(t *testing.T) {
	fig := newFigures(t)
	w := newWorld(t, worldOpts{Platform: ghfake.DotCom, ReceiverDown: true, Hooks: []hookSpec{{Kind: "org"}, {Kind: "repo"}, {Kind: "repo"}}})
	orgHook, repoHook, patientHook := w.hooks[0].ID, w.hooks[1].ID, w.hooks[2].ID

	type group struct {
		name        string
		hook        int64
		guids       []string
		ids         map[int64]bool // every attempt id of the group
		maxAttempts int
		base        time.Duration
		prior       int // redeliveries GitHub already lists (another tool)
		expired     bool
	}
	groupN := 0
	seed := func(g *group, n int, at func(i int) time.Time, prior []time.Duration) {
		g.ids = map[int64]bool{}
		groupN++
		for i := range n {
			guid := fmt.Sprintf("%08x-0000-4000-8000-%012x", groupN, i)
			seeds := []ghfake.Seed{{GUID: guid, Event: "push", At: at(i), StatusCode: []int{0, 502, 503}[i%3]}}
			for _, d := range prior {
				seeds = append(seeds, ghfake.Seed{GUID: guid, Event: "push", At: at(i).Add(d), StatusCode: 0, Redelivery: true})
			}
			for _, id := range w.srv.SeedAttempts(g.hook, seeds) {
				g.ids[id] = true
			}
			g.guids = append(g.guids, guid)
		}
	}
	fresh := &group{name: "fresh", hook: orgHook, maxAttempts: 5, base: time.Hour}
	seed(fresh, 30, func(i int) time.Time { return t0.Add(-time.Duration(1+i%20) * time.Hour) }, nil)
	other := &group{name: "other", hook: orgHook, maxAttempts: 5, base: time.Hour, prior: 2}
	seed(other, 5, func(i int) time.Time { return t0.Add(-10 * time.Hour) }, []time.Duration{time.Hour, 3 * time.Hour})
	old := &group{name: "old", hook: orgHook, maxAttempts: 5, base: time.Hour, expired: true}
	seed(old, 10, func(i int) time.Time { return t0.Add(-73*time.Hour - time.Duration(i)*2*time.Hour) }, nil)
	repo := &group{name: "repo", hook: repoHook, maxAttempts: 3, base: 2 * time.Hour}
	seed(repo, 12, func(i int) time.Time { return t0.Add(-time.Duration(1+i) * time.Hour) }, nil)
	// Redelivered 8 times already by another tool, on a target allowing 10:
	// the next is due 128 h after the last, long after the 3-day horizon,
	// so it waits and is then reported expired, never sent.
	waiting := &group{name: "waiting", hook: patientHook, maxAttempts: 10, base: time.Hour, prior: 8, expired: true}
	var eight []time.Duration
	for i := range 8 {
		eight = append(eight, time.Duration(i+1)*15*time.Minute)
	}
	seed(waiting, 4, func(i int) time.Time { return t0.Add(-12 * time.Hour) }, eight)
	groups := []*group{fresh, other, old, repo, waiting}

	cfg := filepath.Join(w.dir, "config.yaml")
	writeCfg := func(since string) {
		text := fmt.Sprintf("api_url: %s\nstate: %s\ntargets:\n  - org: acme\n    hook: %d\n%s  - repo: acme/api\n    hook: %d\n    max_attempts: 3\n    retry_base: 2h\n%s  - repo: acme/api\n    hook: %d\n    max_attempts: 10\n%s",
			w.apiURL, w.state, orgHook, since, repoHook, since, patientHook, since)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	reported := map[string][]string{} // guid → verdicts reported (exhausted, expired), one per run
	runs, stopped := 0, 0
	for day := time.Duration(0); day <= 4*24*time.Hour; day += 6 * time.Hour {
		// The first run looks back 5 days, so the events past the horizon
		// are seen at all; later runs go from the checkpoint.
		since := ""
		if day == 0 {
			since = "    since: 5d\n"
		}
		writeCfg(since)
		res := run(t, w.env(), "run", "--config", cfg, "--rate", "0", "--output", "json")
		runs++
		if res.Code != 0 {
			t.Fatalf("run at +%s: %s", day, res)
		}
		for _, tg := range parseReport(t, res).Targets {
			if tg.Stopped != "" {
				stopped++
			}
			for _, it := range tg.Items {
				if it.Verdict == "exhausted" || it.Verdict == "expired" {
					reported[it.GUID] = append(reported[it.GUID], it.Verdict)
				}
			}
		}
		w.srv.Clock().Advance(6 * time.Hour)
	}

	// What GitHub was asked, per guid, in order.
	asked := map[string][]time.Time{}
	for _, r := range w.srv.Redeliveries() {
		asked[r.GUID] = append(asked[r.GUID], r.At)
	}
	posted := map[int64]int{} // attempt id → redelivery requests (accepted or not)
	for _, c := range w.tap.snapshot() {
		if c.Kind == "redeliver" {
			parts := strings.Split(c.Path, "/")
			id, _ := strconv.ParseInt(parts[len(parts)-2], 10, 64)
			posted[id]++
		}
	}
	gaps := map[string]int{}
	total := 0
	for _, g := range groups {
		for _, guid := range g.guids {
			times := asked[guid]
			total += len(times)
			if g.expired {
				if len(times) > 0 {
					t.Errorf("%s: %s is past the horizon but was redelivered %d times", g.name, guid, len(times))
				}
				if !slices.Equal(reported[guid], []string{"expired"}) {
					t.Errorf("%s: %s reported %v, want expired once", g.name, guid, reported[guid])
				}
				continue
			}
			if want := g.maxAttempts - g.prior; len(times) != want {

				t.Errorf("%s: %s redelivered %d times by us, want %d (max %d, %d listed from elsewhere)", g.name, guid, len(times), want, g.maxAttempts, g.prior)
			}
			for i := 1; i < len(times); i++ {
				n := g.prior + i // times[i-1] was the n-th redelivery
				min := g.base << (n - 1)
				gap := times[i].Sub(times[i-1])
				key := fmt.Sprintf("%s #%d→#%d (≥ %s)", g.name, n, n+1, min)
				if old, ok := gaps[key]; !ok || int(gap/time.Hour) < old {
					gaps[key] = int(gap / time.Hour)
				}
				if gap < min {
					t.Errorf("%s: %s: redelivery #%d came %s after #%d, want ≥ %s", g.name, guid, n+1, gap, n, min)
				}
			}
			if !slices.Equal(reported[guid], []string{"exhausted"}) {
				t.Errorf("%s: %s reported %v, want exhausted once", g.name, guid, reported[guid])
			}
		}
		if g.expired {
			for id := range g.ids {
				if posted[id] > 0 {
					t.Errorf("%s: attempt %d is past the horizon, but %d redelivery requests were sent for it", g.name, id, posted[id])
				}
			}
		}
	}
	fig.add("command: go test ./reliability -run TestReceiverDownForDays -v")
	fig.add("runs: %d (every 6 h of emulator time over 4 days), receiver down throughout; redeliveries requested: %d", runs, total)
	fig.add("target runs the receiver probe stopped early (\"the receiver is still failing\"; the rest waits for the next run): %d", stopped)
	fig.add("org hook (max-attempts 5, retry-base 1h): %d fresh failures → 5 each; %d with 2 redeliveries listed from elsewhere → 3 each; %d past the 3-day horizon → 0, reported expired", len(fresh.guids), len(other.guids), len(old.guids))
	fig.add("repo hook (max_attempts 3, retry_base 2h): %d failures → 3 each", len(repo.guids))
	fig.add("repo hook (max_attempts 10): %d failures already redelivered 8 times elsewhere, next due after 128 h → 0 sent, reported expired when their last attempt passed 72 h", len(waiting.guids))
	fig.counts("shortest observed gap in hours between consecutive redeliveries", gaps)
}
