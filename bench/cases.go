package main

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// regime is how the emulator limits requests.
type regime string

const (
	// ghes is GitHub Enterprise Server as shipped: rate limiting off,
	// API under /api/v3. redeliver runs with its GHES speed settings.
	ghes regime = "ghes"
	// dotcom is github.com with its documented primary and secondary
	// limits enforced (ghfake.Budget), redeliveries counted as content
	// creation (80 a minute, 500 an hour). redeliver runs at its default
	// pace (one request at a time, 1/s, learning the windows), scaled in
	// time with the limits.
	dotcom regime = "dotcom"
	// dotcomNoContent is the other github.com world: GitHub does not
	// document whether redeliveries count as content creation, and here
	// they do not (ghfake Budget.RedeliveriesNotContent).
	dotcomNoContent regime = "dotcom-nocontent"
)

// github reports whether the regime is one of github.com's worlds.
func (r regime) github() bool { return r == dotcom || r == dotcomNoContent }

// noContentScale compresses github.com's time in the world where
// redeliveries are not content: redeliver keeps the docs script's pace
// there (1/s), so a POST's own latency must stay far below the compressed
// second for the drain time to be redeliver's and not the compression's.
const noContentScale = 20

// target names the target a case checks, if any.
type target string

const (
	targetSpeed    target = "speed"    // GHES, 50 ms, ~2,000 failed guids: ≥ 50× faster than the script
	targetEnvelope target = "envelope" // github.com rules, ~5,000-failure backlog: ≤ 1.05 × floor, no limit responses
	targetMemory   target = "memory"   // 1,000,000 attempts: peak RSS ≤ 64 MiB
	// targetScriptPace: github.com, redeliveries not content, a backlog:
	// drains in ≤ 1.0 × the docs script's time.
	targetScriptPace target = "script-pace"
)

// benchCase is one history and set of conditions both programs run against.
type benchCase struct {
	Regime   regime
	Attempts int           // attempts in the window
	Ratio    float64       // fraction of attempts whose event failed
	Latency  time.Duration // added to every API request
	Target   target
	// ScriptLimit and ToolLimit override the programs' time limits for
	// this case (full runs only).
	ScriptLimit time.Duration
	ToolLimit   time.Duration
	// ScriptSampleOff runs the script to its end or its limit, never
	// stopping it early once its pace is known.
	ScriptSampleOff bool
	// NoScript runs redeliver alone (a check of redeliver, not a comparison).
	NoScript bool
	// Scale overrides the envelope's compression for redeliver (-scale).
	Scale float64
	// Postgres puts the state on PostgreSQL (see postgres.go).
	Postgres bool
	// Hooks, above 1, is a config of that many hooks (manyhooks.go).
	Hooks int
}

// Name is the case's stable identifier, e.g. "ghes/50ms/20k/10%".
func (c benchCase) Name() string {
	n := fmt.Sprintf("%s/%dms/%s/%s", c.Regime, c.Latency.Milliseconds(), size(c.Attempts), pct(c.Ratio))
	if c.Target == targetEnvelope || c.Target == targetScriptPace {
		n += "/backlog"
	}
	if c.Scale > 0 {
		n += fmt.Sprintf("/x%g", c.Scale)
	}
	if c.Postgres {
		n += "/postgres"
	}
	if c.Hooks > 1 {
		n += fmt.Sprintf("/%dhooks", c.Hooks)
	}
	return n
}

// seed makes the same history for the same case in every run.
func (c benchCase) seed() int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%g", c.Attempts, c.Ratio)
	return int64(h.Sum64() >> 1)
}

func size(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func pct(r float64) string {
	s := fmt.Sprintf("%.2f", r*100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// quickCases finish in about three minutes with the script's runs: the two
// windows the JSON reports (failures few enough for the script to finish),
// the speed target and the envelope target.
func quickCases() []benchCase {
	return []benchCase{
		{Regime: ghes, Attempts: 2000, Ratio: 0.01, ScriptSampleOff: true},
		{Regime: ghes, Attempts: 20_000, Ratio: 0.001, ScriptSampleOff: true},
		{Regime: ghes, Attempts: 20_000, Ratio: 0.10, Latency: 50 * time.Millisecond, Target: targetSpeed},
		{Regime: dotcom, Attempts: 10_000, Ratio: 0.50, Target: targetEnvelope},
		{Regime: dotcomNoContent, Attempts: 2000, Ratio: 0.50, Target: targetScriptPace},
		postgresCases()[0],
		manyHooksCase(),
	}
}

// fullCases is the matrix, reduced where a run would not fit the
// hour (each reduction is explained in BENCHMARKS.md by omittedCases).
func fullCases() []benchCase {
	var cs []benchCase
	ratios := []float64{0.01, 0.10, 0.50}
	for _, n := range []int{2000, 20_000, 200_000, 1_000_000} {
		for _, r := range ratios {
			c := benchCase{Regime: ghes, Attempts: n, Ratio: r}
			if n == 1_000_000 {
				c.Target = targetMemory
				// 100,000 and 500,000 redeliveries: room to finish, so the
				// peak is measured over the whole run (a limit, not a pace).
				c.ToolLimit = map[float64]time.Duration{0.10: 12 * time.Minute, 0.50: 35 * time.Minute}[r]
				if r == 0.01 {
					// Long enough for the script to list the whole window,
					// so its memory at 1,000,000 attempts is measured.
					c.ScriptLimit = 7 * time.Minute
				} else {
					// The same listing again: enough to measure its pace.
					c.ScriptLimit = time.Minute
				}
			}
			cs = append(cs, c)
		}
	}
	// The memory target's largest window: 100,000 pages. redeliver alone,
	// as the script would take hours just to list it.
	cs = append(cs, benchCase{Regime: ghes, Attempts: 10_000_000, Ratio: 0.01, Target: targetMemory,
		NoScript: true, ToolLimit: 30 * time.Minute})
	for _, n := range []int{2000, 20_000} {
		for _, r := range ratios {
			c := benchCase{Regime: ghes, Attempts: n, Ratio: r, Latency: 50 * time.Millisecond}
			if n == 20_000 && r == 0.10 {
				c.Target = targetSpeed
			}
			cs = append(cs, c)
		}
	}
	// 2,000 pages at 50 ms and more: redeliver needs longer than the
	// default limit just to list them.
	cs = append(cs, benchCase{Regime: ghes, Attempts: 200_000, Ratio: 0.10, Latency: 50 * time.Millisecond, ToolLimit: 4 * time.Minute})
	for _, c := range []struct {
		n int
		r float64
	}{{2000, 0.01}, {2000, 0.10}, {2000, 0.50}, {20_000, 0.01}, {20_000, 0.10}} {
		cs = append(cs, benchCase{Regime: dotcom, Attempts: c.n, Ratio: c.r})
		if c.n*int(c.r*100) <= 2000*10 { // ≤ 200 POSTs: ≤ 10 s a case at 1/s ÷ 20
			cs = append(cs, benchCase{Regime: dotcomNoContent, Attempts: c.n, Ratio: c.r})
		}
	}
	// Redeliveries not content: never slower than the script on a backlog.
	cs = append(cs, benchCase{Regime: dotcomNoContent, Attempts: 2000, Ratio: 0.50, Target: targetScriptPace})
	// The envelope target: a 5,000-failure backlog. The script gets long
	// enough to reach github.com's 500-an-hour limit on content creation.
	cs = append(cs, benchCase{Regime: dotcom, Attempts: 10_000, Ratio: 0.50, Target: targetEnvelope,
		ScriptLimit: 9 * time.Minute, ScriptSampleOff: true})
	// The same drain compressed only 60×, redeliver alone: what the
	// compression does to redeliver's margins at the windows' edges
	// (three hours of github.com time in about two minutes).
	cs = append(cs, benchCase{Regime: dotcom, Attempts: 3000, Ratio: 0.50, Target: targetEnvelope, Scale: 60, NoScript: true,
		ToolLimit: 5 * time.Minute})
	cs = append(cs, postgresCases()...)
	cs = append(cs, manyHooksCase())
	return cs
}

// omittedCases says which cells of the matrix the full run leaves
// out, and why.
func omittedCases() []string {
	return []string{
		"ghes/50ms at 200,000 attempts with 1% and 50% failures, and at 1,000,000 attempts: listing alone takes each program " +
			"≥ 100 s (200k) and ≥ 500 s (1M) at 50 ms a page; 200k at 10% is kept as the latency case for large windows.",
		"dotcom at 20,000 attempts with 50% failures (floor 19 h, about 2 minutes compressed 600×, and twice that for the " +
			"script's sample): left out to keep the run within the hour.",
		"dotcom at 200,000 and 1,000,000 attempts: their floors are 3 h to 1,000 h (github.com allows 500 content-creating " +
			"requests an hour), and the compression cannot shrink the listing: 2,000 to 10,000 pages take redeliver seconds " +
			"to a minute of real time, which 600× compression would count as hours of github.com time. The floors are in the table below.",
		"dotcom with 50 ms latency: the limits are compressed in time, latency is not, so 50 ms a request would stand for " +
			"30 s of github.com time; under the envelope (1 request a second) 50 ms is noise anyway.",
	}
}
