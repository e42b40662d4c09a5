//go:build unix

package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/sqlite"
)

// Promise 1 — crash anywhere. The real binary is SIGKILLed at seeded points
// spread over listing, planning, redelivering (including between GitHub
// acting on a redelivery and the ledger recording it) and checkpointing,
// then rerun until it completes. Every failed guid must be redelivered
// exactly once in total, none missed, and the state must stay readable by
// `redeliver status` after every kill.

// killTrigger says when to kill a run.
type killTrigger struct {
	Kind  string // see triggerKinds
	Index int    // the Index-th matching request of the run
	Delay time.Duration
}

// triggerKinds, with their weights.
var triggerKinds = []struct {
	kind   string
	weight int
}{
	{"list", 20},        // a deliveries page arrives at GitHub: kill before it is answered
	{"list-end", 15},    // the last page of a target was answered: the run is planning
	{"post-arrive", 15}, // a redelivery request arrives: the intent is on disk, GitHub has not acted
	{"post-answer", 20}, // GitHub performed the redelivery and wrote 202; the run has not read it
	{"post-sent", 10},   // the 202 is on its way: the run is recording the outcome
	{"target-done", 5},  // the Index-th target's last redelivery was answered: prune and checkpoint follow
	{"delay", 15},       // a seeded random wall-clock delay: anywhere
}

func pickTrigger(rng *rand.Rand, lists, targets, remaining int, perPost time.Duration) killTrigger {
	total := 0
	for _, k := range triggerKinds {
		total += k.weight
	}
	n := rng.IntN(total)
	kind := ""
	for _, k := range triggerKinds {
		if n < k.weight {
			kind = k.kind
			break
		}
		n -= k.weight
	}
	switch kind {
	case "list":
		return killTrigger{Kind: kind, Index: 1 + rng.IntN(max(lists, 1))}
	case "list-end":
		return killTrigger{Kind: kind, Index: 1 + rng.IntN(max(targets, 1))}
	case "post-arrive", "post-answer", "post-sent":
		return killTrigger{Kind: kind, Index: 1 + rng.IntN(max(remaining, 1))}
	case "target-done":
		return killTrigger{Kind: kind, Index: 1 + rng.IntN(max(targets, 1))}
	}
	span := 30*time.Millisecond + time.Duration(remaining)*perPost
	return killTrigger{Kind: "delay", Delay: time.Duration(rng.Int64N(int64(span)))}
}

// killer arms a trigger on a world's tap for one child.
type killer struct {
	w     *world
	c     *child
	trig  killTrigger
	once  sync.Once
	fired atomic.Bool
	phase string // where the kill landed, as the request log shows it

	lists, listEnds, posts, done atomic.Int32
	postIdx                      sync.Map // *call → int
	timer                        *time.Timer
}

func (k *killer) fire(phase string) {
	k.once.Do(func() {
		k.c.kill()
		k.phase = phase
		k.fired.Store(true)
	})
}

func arm(w *world, c *child, trig killTrigger) *killer {
	k := &killer{w: w, c: c, trig: trig}
	w.tap.setHook(func(st stage, cl *call) bool {
		if k.fired.Load() {
			return st != stageArrive // a dead client's stragglers: drop new ones
		}
		switch cl.Kind {
		case "list":
			if st == stageArrive {
				if n := int(k.lists.Add(1)); trig.Kind == "list" && n == trig.Index {
					k.fire("listing")
					return false
				}
			}
			if st == stageSent && !cl.Next && cl.Status == 200 {
				if n := int(k.listEnds.Add(1)); trig.Kind == "list-end" && n == trig.Index {
					k.fire("planning")
				}
			}
		case "redeliver":
			switch st {
			case stageArrive:
				n := int(k.posts.Add(1))
				k.postIdx.Store(cl, n)
				if trig.Kind == "post-arrive" && n == trig.Index {
					k.fire("redelivering: intent on disk, request not yet at GitHub")
					return false
				}
			case stageAnswer:
				if n, _ := k.postIdx.Load(cl); trig.Kind == "post-answer" && n == trig.Index {
					k.fire("between GitHub's 202 and the ledger write")
				}
			case stageSent:
				if n, _ := k.postIdx.Load(cl); trig.Kind == "post-sent" && n == trig.Index {
					k.fire("redelivering: recording the 202")
				}
				if trig.Kind == "target-done" && w.hookDone(cl.Hook) {
					if n := int(k.done.Add(1)); n == trig.Index {
						k.fire("checkpointing")
					}
				}
			}
		}
		return true
	})
	if trig.Kind == "delay" {
		k.timer = time.AfterFunc(trig.Delay, func() {
			k.once.Do(func() {
				k.c.kill()
				k.phase = classifyKill(w, w.tap.snapshot())
				k.fired.Store(true)
			})
		})
	}
	return k
}

func (k *killer) disarm() {
	if k.timer != nil {
		k.timer.Stop()
	}
	k.w.tap.setHook(nil)
}

// hookDone reports whether every failed guid of a hook has been redelivered.
func (w *world) hookDone(hook int64) bool {
	got := w.redeliveries()[hook]
	for _, h := range w.hooks {
		if h.ID != hook {
			continue
		}
		for _, g := range h.Stats.FailedGUIDs {
			if got[g] == 0 {
				return false
			}
		}
	}
	return true
}

// classifyKill names the phase a run was in when it died, from the requests
// GitHub saw.
func classifyKill(w *world, calls []call) string {
	lists := 0
	for _, c := range calls {
		if c.Kind == "redeliver" && !c.Done {
			if c.Status != 0 {
				return "between GitHub's 202 and the ledger write"
			}
			return "redelivering: request at GitHub"
		}
		if c.Kind == "list" {
			lists++
		}
	}
	if lists == 0 {
		return "startup: auth, lock, hooks"
	}
	last := calls[len(calls)-1]
	switch last.Kind {
	case "list":
		if !last.Done || last.Next {
			return "listing"
		}
		return "planning"
	case "redeliver":
		if w.hookDone(last.Hook) {
			return "checkpointing"
		}
		return "redelivering: recording the 202"
	}
	return "listing"
}

// quiesce waits (bounded) until every request the tap saw was answered, so
// a dead client's last request has finished at GitHub before the next run.
func (w *world) quiesce(t testing.TB) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		busy := false
		for _, c := range w.tap.snapshot() {
			if !c.Done && c.Status != 0 {
				busy = true
			}
		}
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("requests of a killed run still in flight after 10s")
}

// statusReadable runs `redeliver status --state` and checks it reads the
// state; it returns the status report.
func statusReadable(t testing.TB, w *world, state string) (statusReport, result) {
	t.Helper()
	r := run(t, w.env(), "status", "--state", state, "--api-url", w.apiURL, "--output", "json")
	var st statusReport
	if r.Code != 0 {
		return st, r
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Errorf("status JSON does not parse: %v\n%s", err, r)
	}
	return st, r
}

// openIntents reads the ledger (read-only) and adds to accepted and unsent
// the guids whose intent is still set, split by whether GitHub performed
// that redelivery.
func openIntents(t testing.TB, w *world, accepted, unsent map[string]bool) {
	t.Helper()
	if fi, err := os.Stat(w.state); err != nil || fi.Size() == 0 {
		return
	}
	st, err := sqlite.OpenReadOnly(w.state)
	if err != nil {
		return // statusReadable reports it
	}
	defer st.Close()
	got := w.redeliveries()
	ctx := context.Background()
	for _, h := range w.hooks {
		es, err := st.Entries(ctx, h.Target.Key())
		if err != nil {
			t.Errorf("ledger of %s: %v", h.Target.Key(), err)
			continue
		}
		for _, e := range es {
			if e.IntentAt.IsZero() {
				continue
			}
			if got[h.ID][e.GUID] > 0 {
				accepted[e.GUID] = true
			} else {
				unsent[e.GUID] = true
			}
		}
	}
}

func TestCrashAnywhere(t *testing.T) {
	kills := 50
	if heavy {
		kills = 250
	}
	crashCampaign(t, crashOpts{kills: kills, perScenario: 5})
}

// The docs script's state (Actions variables, no lock, ledger written at
// the end of a run): a killed run loses its unwritten ledger entries, and
// the next run must still not redeliver twice, by what GitHub lists.
func TestCrashAnywhereActionsVariables(t *testing.T) {
	crashCampaign(t, crashOpts{kills: 15, perScenario: 5, actions: true})
}

// The receiver stays down, so every event keeps failing: whatever the kills,
// no event gets two redeliveries closer than the documented spacing, nor
// more than --max-attempts.
func TestCrashAnywhereReceiverDown(t *testing.T) {
	crashCampaign(t, crashOpts{kills: 20, perScenario: 5, receiverDown: true})
}

type crashOpts struct {
	kills, perScenario int
	actions            bool // state in Actions variables (one org hook)
	receiverDown       bool
}

func crashCampaign(t *testing.T, o crashOpts) {
	fig := newFigures(t)
	phases := map[string]int{}
	var (
		kills, runs, scenarios, guids, completedEarly, statusRuns int
		accepted, unsent                                          = map[string]bool{}, map[string]bool{}
		began                                                     = time.Now()
		spacingChecked                                            int
	)
	for seed := uint64(1); kills < o.kills; seed++ {
		if seed > uint64(o.kills) {
			t.Fatalf("only %d kills after %d scenarios", kills, seed-1)
		}
		scenarios++
		rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
		kinds := []string{"org", "org", "repo", "app"}
		if o.actions {
			kinds = []string{"org"} // an Actions-variable state holds one target
		}
		var hooks []hookSpec
		for i, kind := range kinds {
			hooks = append(hooks, hookSpec{Kind: kind, Hist: ghfake.History{
				N: 250 + rng.IntN(200), FailureRatio: 0.2 + rng.Float64()*0.1, NoResponseRatio: 0.3,
				RecoveredRatio: 0.2, Seed: int64(seed*10) + int64(i), From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute),
			}})
		}
		w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: hooks, ReceiverDown: o.receiverDown})
		guids += w.totalFailed()
		conc := []string{"1", "4"}[rng.IntN(2)]
		// --lock-wait 0: a lock a killed run left behind would fail the
		// next run at once.
		common := []string{"--rate", "0", "--concurrency", conc, "--output", "json", "--lock-wait", "0"}
		var args []string
		stateArg := w.state
		if o.actions {
			w.srv.AddRepo("acme", "ops")
			stateArg = "actions:acme/ops/LAST_REDELIVERY"
			args = append([]string{"run", "--api-url", w.apiURL, "--org", "acme", "--hook", strconv.FormatInt(w.hooks[0].ID, 10),
				"--state", stateArg}, common...)
		} else {
			args = append(append([]string{"run", "--config", w.writeConfig("")}, common...), w.appArgs()...)
		}
		pages := 0
		for _, h := range w.hooks {
			pages += (h.Stats.Attempts + 99) / 100
		}
		perPost := 6 * time.Millisecond
		check := func(when string) {
			if o.receiverDown {
				spacingChecked = w.checkSpacing(t, when, 5, time.Hour)
			} else if dup := w.duplicates(); dup > 0 {
				t.Fatalf("scenario %d: %s: %d guids redelivered twice", seed, when, dup)
			}
		}

		for k := 0; k < o.perScenario && kills < o.kills; {
			remaining := 0
			got := w.redeliveries()
			for hook, gs := range w.failed() {
				for _, g := range gs {
					if got[hook][g] == 0 || o.receiverDown {
						remaining++
					}
				}
			}
			if remaining == 0 {
				break
			}
			trig := pickTrigger(rng, pages, len(w.hooks), remaining, perPost)
			c := start(t, w.env(), args...)
			kl := arm(w, c, trig)
			res := c.wait(t, time.Minute)
			kl.disarm()
			kl.once.Do(func() {}) // returns once a kill in progress has been recorded
			runs++
			w.quiesce(t)
			check(fmt.Sprintf("after run %d (%+v)", runs, trig))
			if !kl.fired.Load() || !res.Killed {
				completedEarly++
				if res.Code != 0 {
					t.Errorf("scenario %d: an unkilled run failed: %s", seed, res)
				}
			} else {
				k++
				kills++
				phases[kl.phase]++
				if !o.actions {
					openIntents(t, w, accepted, unsent)
				}
				st, sr := statusReadable(t, w, stateArg)
				statusRuns++
				if sr.Code != 0 {
					t.Errorf("scenario %d kill %d (%s, %+v): `redeliver status` cannot read the state: %s", seed, k, kl.phase, trig, sr)
				} else if len(st.Targets) > len(w.hooks) {
					t.Errorf("status lists %d targets, the world has %d", len(st.Targets), len(w.hooks))
				}
			}
			w.tap.reset()
			// Half the reruns come at once (pending intents must then be
			// left alone); the others after the engine's 15-minute grace,
			// as the next scheduled run would.
			if rng.IntN(2) == 0 {
				w.srv.Clock().Advance(16 * time.Minute)
			}
		}

		// Run to completion, as the schedule would, past the grace each time.
		finished := false
		for i := 0; i < 12 && !finished; i++ {
			w.srv.Clock().Advance(16 * time.Minute)
			res := run(t, w.env(), args...)
			runs++
			w.tap.reset()
			check(fmt.Sprintf("completing run %d", i))
			if res.Code != 0 {
				t.Errorf("scenario %d: completing run %d: %s", seed, i, res)
				continue
			}
			rep := parseReport(t, res)
			if o.receiverDown {
				// Done when every failed event has had its first redelivery.
				got := w.redeliveries()
				finished = true
				for hook, gs := range w.failed() {
					for _, g := range gs {
						finished = finished && got[hook][g] > 0
					}
				}
			} else {
				finished = rep.Totals.Redelivered == 0 && rep.Totals.Pending == 0 && rep.Totals.Failed == 0
			}
		}
		if !finished {
			t.Errorf("scenario %d: still work left after 12 completing runs", seed)
		}
		if !o.receiverDown {
			if p := w.exactlyOnce(); len(p) > 0 {
				t.Errorf("scenario %d (%s, concurrency %s): %v", seed, w.hookKinds(), conc, p)
			}
		}
	}
	cmd := strings.TrimPrefix(t.Name(), "Test")
	fig.add("command: go test ./reliability -run Test%s -v", cmd)
	what := "4 hooks each: 2 org, 1 repo, 1 App, SQLite state"
	if o.actions {
		what = "1 org hook each, state in Actions variables (the docs script's)"
	}
	fig.add("scenarios: %d (%s; 250–450 attempts per hook, 20–30%% failed; receiver down: %v), failed guids: %d", scenarios, what, o.receiverDown, guids)
	fig.add("kills (SIGKILL): %d; runs of the binary: %d (of which %d finished before their kill point); status reads after kills: %d", kills, runs, completedEarly, statusRuns)
	fig.counts("kills by phase", phases)
	if !o.actions {
		fig.add("guids a kill left with an intent GitHub had already acted on (202 not recorded): %d; with an intent whose request never reached GitHub: %d", len(accepted), len(unsent))
	}
	if o.receiverDown {
		fig.add("redeliveries checked for spacing (n-th followed by the next ≥ 1h × 2^(n-1)) and ≤ 5 per event: %d", spacingChecked)
	} else {
		fig.add("every failed guid redelivered exactly once: %v", !t.Failed())
	}
	fig.add("wall time %s", time.Since(began).Round(time.Second))
}

// checkSpacing checks every guid's redeliveries so far: at most max, the
// n-th followed by the next no sooner than base × 2^(n-1). It returns how
// many redeliveries it looked at.
func (w *world) checkSpacing(t *testing.T, when string, max int, base time.Duration) int {
	t.Helper()
	byGUID := map[string][]time.Time{}
	n := 0
	for _, r := range w.srv.Redeliveries() {
		k := strconv.FormatInt(r.HookID, 10) + "/" + r.GUID
		byGUID[k] = append(byGUID[k], r.At)
		n++
	}
	for k, ts := range byGUID {
		if len(ts) > max {
			t.Errorf("%s: %s redelivered %d times (max %d)", when, k, len(ts), max)
		}
		for i := 1; i < len(ts); i++ {
			if gap, min := ts[i].Sub(ts[i-1]), base<<(i-1); gap < min {
				t.Errorf("%s: %s: redelivery #%d came %s after #%d, want ≥ %s", when, k, i+1, gap, i, min)
			}
		}
	}
	return n
}

// A first run (no checkpoint yet) killed while listing, and the next run at
// the next scheduled time (6 h later): the failed events of the first run's
// window must still be found. The first window is "the last 24 hours" of
// the run that makes it; if the run that made it died, the next one must
// not silently start 6 hours later.
func TestCrashFirstRunWindow(t *testing.T) {
	w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: []hookSpec{{Kind: "org", Hist: ghfake.History{
		N: 480, FailureRatio: 0.1, Seed: 7, From: t0.Add(-24*time.Hour + time.Minute), To: t0.Add(-time.Minute)}}}})
	args := []string{"run", "--api-url", w.apiURL, "--org", "acme", "--hook", strconv.FormatInt(w.hooks[0].ID, 10),
		"--state", w.state, "--rate", "0", "--output", "json"}
	c := start(t, w.env(), args...)
	kl := arm(w, c, killTrigger{Kind: "list", Index: 2})
	res := c.wait(t, time.Minute)
	kl.disarm()
	kl.once.Do(func() {})
	if !res.Killed {
		t.Fatalf("the first run was not killed while listing: %s", res)
	}
	w.tap.reset()
	w.srv.Clock().Advance(6 * time.Hour) // the next scheduled run
	var reports []runReport
	for i := 0; i < 3; i++ {
		res = run(t, w.env(), args...)
		if res.Code != 0 {
			t.Fatalf("rerun %d: %s", i, res)
		}
		reports = append(reports, parseReport(t, res))
		w.srv.Clock().Advance(16 * time.Minute)
	}
	if p := w.exactlyOnce(); len(p) > 0 {
		tg := reports[0].Targets[0]
		t.Errorf("BUG: a first run killed while listing, rerun 6 h later: %v; the rerun looked back only to %s "+
			"(the killed run's window began %s) and reported no uncovered span (%d)",
			p, tg.From.Format(time.RFC3339), t0.Add(-24*time.Hour).Format(time.RFC3339), len(tg.Uncovered))
	}
}
