//go:build unix

package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
)

// Promise 2 — faults. Runs under seeded random fault schedules from the
// emulator: 10% 5xx, connection resets, latency spikes, secondary-limit
// bursts, primary-limit exhaustion, and an installation token that expires
// mid-run. Every scenario ends, over as many reruns as it takes, with every
// recoverable guid redelivered exactly once, no request sent before a wait
// GitHub asked for was over (srv.Violations() empty), in bounded time.
//
// The engine runs in-process (redeliver.Runner over githubapi and sqlite,
// wired as cmd/redeliver wires them) so a hundred scenarios stay fast.

// faultPlan is one scenario's schedule.
type faultPlan struct {
	Seed        uint64
	Hooks       []string
	AppOnly     bool // installation tokens (TokenTTL 10 min) for org and repo hooks
	ExpireAt    int  // AppOnly: the request at which the emulator clock jumps 11 min
	Secondary   int  // secondary-limit answers in a burst (0: none)
	Primary     bool // one primary-limit exhaustion
	LimitAfter  int  // the limit faults start after this many requests
	Concurrency int
}

func (p faultPlan) String() string {
	return fmt.Sprintf("seed %d hooks %v appOnly %v secondary %d primary %v concurrency %d", p.Seed, p.Hooks, p.AppOnly, p.Secondary, p.Primary, p.Concurrency)
}

func newFaultPlan(seed uint64) faultPlan {
	rng := rand.New(rand.NewPCG(seed, 0xfa017))
	p := faultPlan{Seed: seed, Concurrency: 1 + rng.IntN(2)}
	kinds := []string{"org", "repo", "app"}
	for range 1 + rng.IntN(3) {
		p.Hooks = append(p.Hooks, kinds[rng.IntN(len(kinds))])
	}
	p.AppOnly = rng.IntN(4) == 0
	if p.AppOnly && !slices.ContainsFunc(p.Hooks, func(k string) bool { return k != "app" }) {
		p.Hooks = append(p.Hooks, "org")
	}
	p.ExpireAt = 3 + rng.IntN(20)
	switch r := rng.IntN(10); {
	case r < 2:
		p.Secondary = 1 + rng.IntN(2)
	case r < 3:
		p.Primary = true
	}
	p.LimitAfter = rng.IntN(25)
	return p
}

// faultOutcome is what one scenario did.
type faultOutcome struct {
	Runs, Requests, Status5xx, Resets, Slow, Primary, Secondary, Violations, Race, Failed, Redelivered int
	Wall                                                                                               time.Duration
	Problems                                                                                           []string
}

func runFaultScenario(t *testing.T, p faultPlan) faultOutcome {
	var out faultOutcome
	began := time.Now()
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	var hooks []hookSpec
	for i, k := range p.Hooks {
		hooks = append(hooks, hookSpec{Kind: k, Hist: ghfake.History{N: 60 + rng.IntN(140), FailureRatio: 0.15 + 0.15*rng.Float64(),
			NoResponseRatio: 0.3, RecoveredRatio: 0.2, Seed: int64(p.Seed*100) + int64(i), From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}})
	}
	opts := worldOpts{Platform: ghfake.DotCom, Hooks: hooks, NoToken: p.AppOnly}
	if p.AppOnly {
		opts.TokenTTL = 10 * time.Minute
	}
	w := newWorld(t, opts)
	srv := w.srv
	srv.SetFaultSeed(int64(p.Seed))
	srv.AddFault(ghfake.Fault{Kind: ghfake.FaultLatency, Latency: time.Duration(20+rng.IntN(130)) * time.Millisecond, Probability: 0.05})
	srv.AddFault(ghfake.Fault{Kind: ghfake.FaultStatus, Status: []int{500, 502, 503}[rng.IntN(3)], Probability: 0.10})
	srv.AddFault(ghfake.Fault{Kind: ghfake.FaultReset, Probability: 0.03})
	if p.Secondary > 0 {
		srv.AddFault(ghfake.Fault{Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, Times: p.Secondary, After: p.LimitAfter})
	}
	if p.Primary {
		srv.AddFault(ghfake.Fault{Kind: ghfake.FaultPrimaryLimit, RetryAfter: 1, Times: 1, After: p.LimitAfter})
	}
	if p.AppOnly {
		var n atomic.Int32
		w.tap.setHook(func(st stage, c *call) bool {
			if st == stageArrive && int(n.Add(1)) == p.ExpireAt {
				srv.Clock().Advance(11 * time.Minute) // the installation token (TTL 10 min) is now expired
			}
			return true
		})
	}
	var targets []redeliver.Target
	for _, h := range w.hooks {
		if !slices.Contains(targets, h.Target) {
			targets = append(targets, h.Target)
		}
	}
	cfg := githubapi.Config{BaseURL: w.apiURL, AppID: appID, PrivateKeyPEM: appKeyPEM(), HTTPTimeout: 10 * time.Second}
	if !p.AppOnly {
		cfg.Token = secretToken
	}
	path := filepath.Join(w.dir, "state.db")
	clean := false
	for run := 0; run < 20 && !clean; run++ {
		out.Runs++
		pacer := redeliver.NewPacer(0)
		c := cfg
		c.OnSecondaryLimit = pacer.Slow
		gh, err := githubapi.New(c)
		if err != nil {
			t.Fatalf("githubapi.New: %v", err)
		}
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		runErr, redelivered := false, 0
		for _, tg := range targets {
			r := &redeliver.Runner{Source: gh, Redeliverer: gh, Store: st, Policy: redeliver.DefaultPolicy(),
				Pacer: pacer, Concurrency: p.Concurrency, Probe: true}
			rep, err := r.Run(ctx, tg)
			if err != nil || rep.Errors > 0 || rep.Stopped != "" {
				runErr = true
			}
			redelivered += rep.Redelivered
		}
		if ctx.Err() != nil {
			out.Problems = append(out.Problems, fmt.Sprintf("run %d hit its 2-minute bound", run))
		}
		cancel()
		st.Close()
		if dup := w.duplicates(); dup > 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("run %d: %d guids redelivered twice", run, dup))
			break
		}
		missing := len(w.exactlyOnce()) > 0
		clean = !runErr && redelivered == 0 && !missing
		srv.Clock().Advance(16 * time.Minute) // the next run, past the pending grace
	}
	w.tap.setHook(nil)
	if !clean {
		out.Problems = append(out.Problems, "no clean run after 20 runs")
	}
	out.Problems = append(out.Problems, w.exactlyOnce()...)
	// A violation is a request that reached GitHub inside a wait it had
	// asked for. With one request at a time there must be none. With two,
	// the other request may already have been under way when the limit
	// answer came (see TestSecondaryLimitConcurrent): at most one per limit
	// answer the schedule injected, counted apart.
	if v := srv.Violations(); len(v) > 0 {
		injected := p.Secondary
		if p.Primary {
			injected++
		}
		switch {
		case p.Concurrency == 1:
			out.Violations = len(v)
		case len(v) <= injected*(p.Concurrency-1):
			out.Race = len(v)
		default:
			out.Violations = len(v)
		}
		if out.Violations > 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("%d requests sent before the wait GitHub asked for was over (first: %+v)", len(v), v[0]))
		}
	}
	for _, byCode := range srv.Statuses() {
		for code, n := range byCode {
			switch {
			case code == 0:
				out.Resets += n
			case code >= 500:
				out.Status5xx += n
			}
		}
	}
	out.Requests = srv.TotalRequests()
	out.Primary, out.Secondary = srv.LimitResponsesByKind()
	out.Failed = w.totalFailed()
	out.Redelivered = len(srv.Redeliveries())
	out.Wall = time.Since(began)
	return out
}

func TestFaultSchedules(t *testing.T) {
	n := 100
	if heavy {
		n = 400
	}
	fig := newFigures(t)
	began := time.Now()
	outs := make([]faultOutcome, n)
	plans := make([]faultPlan, n)
	// Scenarios are independent (one emulator and one state each) and mostly
	// wait on retry-after and backoff timers, so several run side by side.
	var next atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				plans[i] = newFaultPlan(uint64(i + 1))
				t.Run(fmt.Sprintf("seed%03d", i+1), func(t *testing.T) {
					outs[i] = runFaultScenario(t, plans[i])
					for _, p := range outs[i].Problems {
						t.Errorf("%s: %s", plans[i], p)
					}
				})
			}
		})
	}
	wg.Wait()

	var tot faultOutcome
	var walls []time.Duration
	runsHist := map[string]int{}
	appOnly, withSecondary, withPrimary := 0, 0, 0
	for i, o := range outs {
		tot.Runs += o.Runs
		tot.Requests += o.Requests
		tot.Status5xx += o.Status5xx
		tot.Resets += o.Resets
		tot.Primary += o.Primary
		tot.Secondary += o.Secondary
		tot.Violations += o.Violations
		tot.Race += o.Race
		tot.Failed += o.Failed
		tot.Redelivered += o.Redelivered
		walls = append(walls, o.Wall)
		runsHist[fmt.Sprintf("%02d runs", o.Runs)]++
		if plans[i].AppOnly {
			appOnly++
		}
		if plans[i].Secondary > 0 {
			withSecondary++
		}
		if plans[i].Primary {
			withPrimary++
		}
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	fig.add("command: go test ./reliability -run TestFaultSchedules -v   (REDELIVER_HEAVY=1: %d scenarios)", 400)
	fig.add("scenarios: %d (1–3 hooks each, 60–200 attempts per hook, 15–30%% failed; DotCom emulator, rate limits on)", n)
	fig.add("schedules: 10%% 5xx and 3%% resets and 5%% latency spikes (20–150 ms) on every route; %d with a secondary-limit burst, %d with a primary-limit exhaustion (retry-after 1 s); %d App-only with installation tokens (TTL 10 min) expiring mid-run (clock +11 min)", withSecondary, withPrimary, appOnly)
	fig.add("requests served: %d; injected 5xx answers: %d; resets: %d; primary-limit answers: %d; secondary-limit answers: %d", tot.Requests, tot.Status5xx, tot.Resets, tot.Primary, tot.Secondary)
	fig.add("failed guids: %d; redeliveries GitHub performed: %d; requests sent before a retry-after/reset expired (violations): %d; requests already under way at --concurrency 2 when the other one's limit answer came (see TestSecondaryLimitConcurrent): %d", tot.Failed, tot.Redelivered, tot.Violations, tot.Race)
	fig.add("runs per scenario until a clean run (all redelivered, nothing left): total %d", tot.Runs)
	fig.counts("scenarios by runs needed", runsHist)
	fig.add("scenario wall time: median %s, max %s; whole test %s (10 scenarios at a time)", walls[len(walls)/2].Round(time.Millisecond), walls[len(walls)-1].Round(time.Millisecond), time.Since(began).Round(time.Second))
	if maxWall := walls[len(walls)-1]; maxWall > 90*time.Second {
		t.Errorf("a scenario took %s: not bounded", maxWall)
	}
}

// With requests in flight side by side (--concurrency > 1), a request that
// was already under way when a concurrent one got a secondary limit can
// reach GitHub inside the wait: the client cannot recall it (the race
// go-github-ratelimit documents). What the client must do is stop at once:
// at most concurrency − 1 such requests per limit answer. The race shows
// under load, so eight runs go side by side, each against its own emulator.
func TestSecondaryLimitConcurrent(t *testing.T) {
	const worlds, concurrency = 8, 4
	fig := newFigures(t)
	var (
		mu    sync.Mutex
		lines []string
		total int
		wg    sync.WaitGroup
	)
	for i := range worlds {
		w := newWorld(t, worldOpts{Platform: ghfake.DotCom, Hooks: []hookSpec{{Kind: "org", Hist: ghfake.History{
			N: 100, FailureRatio: 0.8, Seed: int64(20 + i), From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}}}})
		w.srv.AddFault(ghfake.Fault{Kind: ghfake.FaultSecondaryLimit, Route: "POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
			RetryAfter: 1, Times: 1, After: 10 + 3*i})
		wg.Go(func() {
			pacer := redeliver.NewPacer(0)
			gh, err := githubapi.New(githubapi.Config{BaseURL: w.apiURL, Token: secretToken, OnSecondaryLimit: pacer.Slow})
			if err != nil {
				t.Error(err)
				return
			}
			st, err := sqlite.Open(w.state)
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			r := &redeliver.Runner{Source: gh, Redeliverer: gh, Store: st, Policy: redeliver.DefaultPolicy(), Pacer: pacer, Concurrency: concurrency}
			if _, err := r.Run(context.Background(), w.hooks[0].Target); err != nil {
				t.Errorf("world %d: %v", i, err)
			}
			if p := w.exactlyOnce(); len(p) > 0 {
				t.Errorf("world %d: %v", i, p)
			}
			calls := w.tap.snapshot()
			vs := w.srv.Violations()
			var gaps []string
			for _, v := range vs {
				// How long after the limit answer had left GitHub the
				// offending request arrived.
				var lim, off *call
				for j := range calls {
					c := &calls[j]
					if c.Status == 403 && c.Finished.Before(v.At) && (lim == nil || c.Finished.After(lim.Finished)) {
						lim = c
					}
					if !c.Arrived.After(v.At) && (off == nil || c.Arrived.After(off.Arrived)) {
						off = c
					}
				}
				if lim != nil && off != nil && off != lim {
					gaps = append(gaps, off.Arrived.Sub(lim.Finished).Round(10*time.Microsecond).String())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			total += len(vs)
			lines = append(lines, fmt.Sprintf("world %d: %d requests inside the wait (arrived %v after the limit answer left)", i, len(vs), gaps))
			if len(vs) > concurrency-1 {
				t.Errorf("world %d: %d requests reached GitHub inside a retry-after it had given, more than the %d that may already have been under way: %+v",
					i, len(vs), concurrency-1, vs)
			}
		})
	}
	wg.Wait()
	sort.Strings(lines)
	fig.add("command: go test ./reliability -run TestSecondaryLimitConcurrent -v")
	fig.add("%d runs at --concurrency %d side by side, one secondary limit (retry-after 1 s) each: %d requests reached GitHub inside a wait (allowed: up to %d per run, already under way)",
		worlds, concurrency, total, concurrency-1)
	for _, l := range lines {
		fig.add("%s", l)
	}
}
