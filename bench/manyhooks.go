package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// Many hooks in one run: a config of 50 hooks of different sizes on GHES
// (rate limiting off, 50 ms a request), which redeliver works on side by
// side (run --parallel, by default 16 where rate limiting is off). It is
// measured against the same run of its largest hook alone: the target is
// ≤ 1.2 × that time. redeliver alone: the docs script takes one hook.

// targetManyHooks: the config's run within 1.2 × its largest hook alone.
const targetManyHooks target = "many-hooks"

// manyHooksTarget is the most the config's run may take, in times its
// largest hook alone.
const manyHooksTarget = 1.2

// manyHooksCase is the case: Attempts is the largest hook's window.
func manyHooksCase() benchCase {
	return benchCase{Regime: ghes, Attempts: 20_000, Ratio: 0.10, Latency: 50 * time.Millisecond,
		Hooks: 50, NoScript: true, Target: targetManyHooks}
}

// hookSizes are the windows of the case's hooks, in the config's order:
// the largest in the middle (it is not begun first), the others from 200
// to 4,100 attempts.
func hookSizes(c benchCase) []int {
	sizes := make([]int, c.Hooks)
	for i := range sizes {
		sizes[i] = 200 + (i*37%40)*100
	}
	sizes[c.Hooks/2] = c.Attempts
	return sizes
}

// runManyHooks runs the largest hook alone, then the whole config, each
// on a fresh emulator with the same histories.
func (b *bench) runManyHooks(ctx context.Context, c benchCase) *caseResult {
	t0 := time.Now().Truncate(time.Second)
	sizes := hookSizes(c)
	total := 0
	for _, n := range sizes {
		total += n
	}
	cr := &caseResult{Name: c.Name(), Regime: c.Regime, Attempts: total, Ratio: c.Ratio,
		Latency: c.Latency.Milliseconds(), Target: c.Target, Pages: 0}
	for _, n := range sizes {
		cr.Pages += pages(n)
	}
	alone := b.runHooks(ctx, c, t0, []int{c.Hooks / 2})
	if ctx.Err() != nil {
		return cr
	}
	all := make([]int, c.Hooks)
	for i := range all {
		all[i] = i
	}
	r := b.runHooks(ctx, c, t0, all)
	cr.Tool, cr.Alone = r, alone
	cr.Failed = r.Redelivered + r.Missed - r.Duplicated
	note := fmt.Sprintf("%d hooks of %s to %s attempts (%s in all); the largest alone: %.2f s (%d redeliveries, %d missed, %d duplicated)",
		c.Hooks, thousands(minSize(sizes)), thousands(c.Attempts), thousands(total), alone.WallS, alone.Redelivered, alone.Missed, alone.Duplicated)
	r.Notes = append(r.Notes, note)
	if ratio, ok := cr.manyHooksRatio(); ok {
		verdict := "met"
		if ratio > manyHooksTarget {
			verdict = "missed"
		}
		r.Notes = append(r.Notes, fmt.Sprintf("%d hooks in %.2f × the largest alone (target ≤ %g: %s)", c.Hooks, ratio, manyHooksTarget, verdict))
	}
	return cr
}

// manyHooksRatio is the config's time over its largest hook's alone, when
// both runs finished.
func (cr *caseResult) manyHooksRatio() (float64, bool) {
	if cr.Tool == nil || cr.Alone == nil || !cr.Tool.Complete || !cr.Alone.Complete || cr.Alone.WallS <= 0 {
		return 0, false
	}
	return cr.Tool.WallS / cr.Alone.WallS, true
}

func minSize(sizes []int) int { return slices.Min(sizes) }

// runHooks runs redeliver once on a config of the case's hooks numbered
// in which (their histories are the same in every run).
func (b *bench) runHooks(ctx context.Context, c benchCase, t0 time.Time, which []int) *runResult {
	sizes := hookSizes(c)
	srv := ghfake.New(ghfake.Options{Clock: ghfake.NewRunningClock(time.Now()), RedeliveryWorkers: 8, Platform: ghfake.GHES})
	srv.AddRepo(org, repo)
	srv.AddToken(ghfake.Token{Value: token, Orgs: []string{org}})
	srv.AddFault(ghfake.Fault{Kind: ghfake.FaultLatency, Latency: c.Latency})
	e := &emulator{srv: srv, failed: map[string]bool{}, apiURL: srv.URL() + "/api/v3"}
	defer b.release(e)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "api_url: %s\ntargets:\n", e.apiURL)
	for _, i := range which {
		hook := srv.AddOrgHook(org, ghfake.HookConfig{URL: b.receiverAt, Secret: "benchmark"})
		st := srv.SeedHistory(hook, ghfake.History{
			N: sizes[i], From: t0.Add(-23 * time.Hour), To: t0.Add(-time.Minute),
			FailureRatio: c.Ratio, NoResponseRatio: 0.25, Seed: c.seed() + int64(i),
		})
		for _, g := range st.FailedGUIDs {
			e.failed[g] = true
		}
		e.stats.Attempts += st.Attempts
		fmt.Fprintf(&cfg, "  - org: %s\n    hook: %d\n", org, hook)
	}
	r := &runResult{Program: progTool, FloorCalls: floorCalls(0, len(e.failed), 0)}
	for _, i := range which {
		r.FloorCalls += pages(sizes[i])
	}
	if len(which) == 1 {
		r.Program = progTool + " (largest hook alone)"
	}
	dir, err := os.MkdirTemp(b.work, "hooks-")
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
		return r
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "redeliver.yaml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o644); err != nil {
		r.Notes = append(r.Notes, err.Error())
		return r
	}
	report := filepath.Join(dir, "report.json")
	// --no-probe: the case measures time side by side; a probe is one
	// list call per hook, which the floor (+1 for a whole run) does not
	// count fifty times.
	args := []string{"run", "--config", config, "--state", filepath.Join(dir, "state.db"),
		"--output", "json", "--report", report, "--rate", "0", "--concurrency", "16", "--no-probe"}
	launchResult := filepath.Join(dir, "launched.json")
	cmd := exec.CommandContext(ctx, b.self, append([]string{launchFlag, launchResult, "--", b.tool}, args...)...)
	cmd.Dir, cmd.Env = dir, append(baseEnv(dir), "GITHUB_TOKEN="+token)
	var stderr, stdout tailBuffer
	stderr.max, stdout.max = 256<<10, 64<<10
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	b.log("  %s (%d hooks)", strings.Join(cmd.Args, " "), len(which))
	r.LoadAvg = loadAverage()
	limit := b.cfg.toolLimit
	if c.ToolLimit > 0 && !b.cfg.quick {
		limit = c.ToolLimit
	}
	timer := time.AfterFunc(limit, func() {
		if cmd.Process != nil {
			cmd.Process.Signal(os.Interrupt) // the launcher kills redeliver and reports
		}
	})
	start := time.Now()
	err = cmd.Run()
	stopped := !timer.Stop()
	r.WallS = time.Since(start).Seconds()
	r.stderrTail = stderr.String()
	r.Complete = !stopped && ctx.Err() == nil
	if stopped {
		r.Stopped = fmt.Sprintf("time limit (%s)", limit)
	}
	if l, lerr := readLaunched(launchResult); lerr == nil && l.Error == "" {
		r.WallS = time.Duration(l.WallNS).Seconds()
		r.ExitCode = l.ExitCode
		r.PeakRSSBytes = l.MaxRSSKiB * 1024
		if r.Complete && l.ExitCode != 0 {
			r.Notes = append(r.Notes, "exited with code "+strconv.Itoa(l.ExitCode)+": "+lastLine(r.stderrTail))
		}
	} else {
		r.Notes = append(r.Notes, fmt.Sprintf("no report from the launcher: %v %v", lerr, err))
	}
	b.collect(e, r, c, progTool, report, stdout.String())
	if r.WallS > 0 {
		r.PageRate = float64(r.ByRoute["list"]) / r.WallS
		r.PostRate = float64(r.ByRoute["redeliver"]) / r.WallS
	}
	return r
}
