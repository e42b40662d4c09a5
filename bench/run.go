package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// The two programs.
const (
	progScript = "script"
	progTool   = "redeliver"
)

// The emulator routes the job uses (ghfake counts requests by these names).
const (
	routeList      = "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	routeRedeliver = "POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"
	routeVarGet    = "GET /repos/{owner}/{repo}/actions/variables/{name}"
	routeVarCreate = "POST /repos/{owner}/{repo}/actions/variables"
	routeVarUpdate = "PATCH /repos/{owner}/{repo}/actions/variables/{name}"
	routeRateLimit = "GET /rate_limit"
)

// shortRoute names a route in tables.
func shortRoute(r string) string {
	switch r {
	case routeList:
		return "list"
	case routeRedeliver:
		return "redeliver"
	case routeVarGet:
		return "variable-get"
	case routeVarCreate:
		return "variable-create"
	case routeVarUpdate:
		return "variable-update"
	case routeRateLimit:
		return "rate_limit"
	}
	return r
}

const (
	org      = "acme"
	repo     = "ops"
	token    = "ghp_benchmark0000000000000000000000000000"
	variable = "LAST_REDELIVERY"
)

// stateCalls is the API calls a program's state needs at the least: the
// docs script reads and writes its repository variable; redeliver (with
// --state FILE) none.
func stateCalls(prog string) int {
	if prog == progScript {
		return 2
	}
	return 0
}

// runResult is what one program did in one case.
type runResult struct {
	Program string `json:"program"`
	// WallS is the measured wall time: to the program's exit, or to the
	// moment the benchmark stopped it.
	WallS float64 `json:"wall_s"`
	// Complete is true when the program ran to its own end.
	Complete bool `json:"complete"`
	// Stopped says why the benchmark stopped it, if it did.
	Stopped string `json:"stopped,omitempty"`
	// ExtrapolatedS estimates the whole run from the measured pace (only
	// when stopped); ExtrapolationBasis says how.
	ExtrapolatedS      float64 `json:"extrapolated_s,omitempty"`
	ExtrapolationBasis string  `json:"extrapolation_basis,omitempty"`
	// ExpectedLimitResponses is, for an extrapolated run under the
	// envelope, how many requests the rest of the run would have had
	// refused (each then retried after the wait).
	ExpectedLimitResponses int `json:"expected_limit_responses,omitempty"`

	APICalls   int            `json:"api_calls"`
	ByRoute    map[string]int `json:"api_calls_by_route"`
	FloorCalls int            `json:"floor_calls"`
	// CallsAtEnd estimates the API calls of the whole run when stopped.
	CallsAtEnd int `json:"api_calls_extrapolated,omitempty"`

	PeakRSSBytes int64 `json:"peak_rss_bytes"`

	Redelivered int `json:"redelivered"` // redeliveries GitHub accepted
	Missed      int `json:"missed"`      // failed guids not redelivered
	Duplicated  int `json:"duplicated"`  // guids redelivered more than once
	Unexpected  int `json:"unexpected"`  // redelivered guids that had not failed

	LimitPrimary   int `json:"limit_responses_primary"`
	LimitSecondary int `json:"limit_responses_secondary"`
	Violations     int `json:"violations"` // requests sent before a wait GitHub asked for was over

	// Scale is the envelope's time compression in this run (1: real time),
	// and ScaleFlag how redeliver's pace was compressed with it.
	Scale     float64 `json:"scale,omitempty"`
	ScaleFlag string  `json:"scale_flag,omitempty"`
	// FloorS is the envelope's floor for this run's requests, in this
	// run's (compressed) time; 0 without an envelope.
	FloorS float64 `json:"floor_s,omitempty"`
	// GitHubS is a finished redeliver run's drain time in github.com time:
	// its time to the first POST (start-up and listing, which the
	// compression does not speed up) plus its POST phase × Scale.
	GitHubS float64 `json:"github_time_s,omitempty"`
	// NextRun is, where a run learned the pace, the same state's next run
	// on a fresh backlog.
	NextRun *nextRunResult `json:"next_run,omitempty"`

	ExitCode int     `json:"exit_code"`
	PageRate float64 `json:"pages_per_s"`
	PostRate float64 `json:"posts_per_s"`
	// PostRateEarly and PostRateLate are the POST rates over the first and
	// the second half of the POST phase's time: a falling rate shows.
	PostRateEarly float64  `json:"posts_per_s_first_half,omitempty"`
	PostRateLate  float64  `json:"posts_per_s_second_half,omitempty"`
	LoadAvg       string   `json:"load_average"`
	Notes         []string `json:"notes,omitempty"`
	stderrTail    string
}

// total is the run's time, measured or extrapolated.
func (r *runResult) total() float64 {
	if r.ExtrapolatedS > 0 {
		return r.ExtrapolatedS
	}
	return r.WallS
}

// calls is the run's API calls, measured or extrapolated.
func (r *runResult) calls() int {
	if r.CallsAtEnd > 0 {
		return r.CallsAtEnd
	}
	return r.APICalls
}

// nextRunResult is a later run of the same state: another hook's backlog,
// another token (a fresh budget, as if an hour had passed).
type nextRunResult struct {
	Failed         int     `json:"failed_guids"`
	Redelivered    int     `json:"redelivered"`
	LimitResponses int     `json:"limit_responses"`
	WallS          float64 `json:"wall_s"`
	ExitCode       int     `json:"exit_code"`
	Error          string  `json:"error,omitempty"`
}

// caseResult is one case: its data and both programs' runs.
type caseResult struct {
	Name     string  `json:"case"`
	Regime   regime  `json:"regime"`
	Attempts int     `json:"attempts"`
	Ratio    float64 `json:"failure_ratio"`
	Latency  int64   `json:"latency_ms"`
	Target   target  `json:"target,omitempty"`
	Failed   int     `json:"failed_guids"`
	Pages    int     `json:"pages"`
	// EnvelopeFloorS is the least time github.com's envelope allows for
	// redeliver's requests (list pages and POSTs), in github.com seconds.
	EnvelopeFloorS float64    `json:"envelope_floor_s,omitempty"`
	Script         *runResult `json:"script,omitempty"`
	Tool           *runResult `json:"redeliver,omitempty"`
	// Alone is a many-hooks case's largest hook run by itself, the time
	// the whole config is measured against.
	Alone *runResult `json:"largest_alone,omitempty"`
}

// bench holds what every run shares.
type bench struct {
	cfg        config
	work       string // scratch directory
	tool       string // the redeliver binary
	self       string // this binary, which launches the programs
	node       string
	script     string // the script copy
	receiver   *http.Server
	receiverAt string
	log        func(format string, args ...any)

	mu sync.Mutex
	// postGap is the script's measured time per POST, by added latency:
	// it extrapolates runs stopped before their first POST.
	postGap map[time.Duration]time.Duration
	// startErr is the last program that could not be started: the
	// benchmark then fails.
	startErr error
}

// emulator is one run's GitHub.
type emulator struct {
	srv    *ghfake.Server
	hook   int64
	failed map[string]bool
	stats  ghfake.HistoryStats
	apiURL string
}

// newEmulator starts an emulator with the case's history seeded identically
// for every run (window [t0-23h, t0-1m]: inside both programs' first-run
// look-back of 24 h, the script's measured on the wall clock).
func (b *bench) newEmulator(c benchCase, prog string, t0 time.Time) *emulator {
	opts := ghfake.Options{
		Clock: ghfake.NewRunningClock(time.Now()),
		// GitHub redelivers asynchronously: the emulator's workers
		// perform each redelivery after answering 202, so no program
		// waits for the receiver inside its request.
		RedeliveryWorkers: 8,
	}
	switch c.Regime {
	case ghes:
		opts.Platform = ghfake.GHES
	case dotcom, dotcomNoContent:
		opts.Platform = ghfake.DotCom
		opts.Budget = &ghfake.Budget{Scale: b.scaleFor(c, prog), RedeliveriesNotContent: c.Regime == dotcomNoContent}
	}
	srv := ghfake.New(opts)
	hook := srv.AddOrgHook(org, ghfake.HookConfig{URL: b.receiverAt, Secret: "benchmark"})
	srv.AddRepo(org, repo)
	srv.AddToken(ghfake.Token{Value: token, Orgs: []string{org}})
	if c.Latency > 0 {
		srv.AddFault(ghfake.Fault{Kind: ghfake.FaultLatency, Latency: c.Latency})
	}
	st := srv.SeedHistory(hook, ghfake.History{
		N: c.Attempts, From: t0.Add(-23 * time.Hour), To: t0.Add(-time.Minute),
		FailureRatio: c.Ratio, NoResponseRatio: 0.25, Seed: c.seed(),
	})
	e := &emulator{srv: srv, hook: hook, stats: st, failed: make(map[string]bool, len(st.FailedGUIDs))}
	for _, g := range st.FailedGUIDs {
		e.failed[g] = true
	}
	e.apiURL = srv.URL()
	if c.Regime == ghes {
		e.apiURL += "/api/v3"
	}
	return e
}

// scaleFlag says how redeliver's pace is compressed with the limits: the
// benchclock build's pacer, scaled by the environment.
func scaleFlag(scale float64) string {
	return paceScaleEnv + "=" + strconv.FormatFloat(scale, 'f', -1, 64) + " (go build -tags benchclock)"
}

// paceScaleEnv is read by redeliver's benchclock build (cmd/redeliver/pacescale_bench.go).
const paceScaleEnv = "REDELIVER_BENCH_PACE_SCALE"

// scaleFor is the envelope's time compression for a program: redeliver's
// pace is a flag and is compressed with the limits; the script's octokit
// paces on the wall clock and cannot be, so it meets github.com's limits
// in real time.
func (b *bench) scaleFor(c benchCase, prog string) float64 {
	switch {
	case prog != progTool:
		return 1
	case c.Scale > 0:
		return c.Scale
	case c.Regime == dotcomNoContent:
		return noContentScale
	}
	return b.cfg.scale
}

// sample is the emulator's counters at one moment of a run.
type sample struct {
	t            time.Duration
	pages, posts int
}

// runCase runs both programs on the case.
func (b *bench) runCase(ctx context.Context, c benchCase) *caseResult {
	if c.Hooks > 1 {
		return b.runManyHooks(ctx, c)
	}
	t0 := time.Now().Truncate(time.Second)
	cr := &caseResult{Name: c.Name(), Regime: c.Regime, Attempts: c.Attempts, Ratio: c.Ratio,
		Latency: c.Latency.Milliseconds(), Target: c.Target, Pages: pages(c.Attempts)}
	if !b.cfg.noScript && !c.NoScript {
		cr.Script = b.runProgram(ctx, c, progScript, t0, cr)
	}
	if ctx.Err() == nil {
		cr.Tool = b.runProgram(ctx, c, progTool, t0, cr)
	}
	return cr
}

func (b *bench) release(e *emulator) {
	e.srv.Close()
	e.srv, e.failed = nil, nil
	runtime.GC()
	debug.FreeOSMemory()
}

// runProgram runs one program on a fresh emulator and measures it.
func (b *bench) runProgram(ctx context.Context, c benchCase, prog string, t0 time.Time, cr *caseResult) *runResult {
	e := b.newEmulator(c, prog, t0)
	defer b.release(e)
	cr.Failed = len(e.failed)
	if c.Regime.github() {
		cr.EnvelopeFloorS = envelopeFloor(c.Regime, e.stats.Attempts, len(e.failed), stateCalls(progTool)).Seconds()
	}
	r := &runResult{Program: prog, FloorCalls: floorCalls(e.stats.Attempts, len(e.failed), stateCalls(prog))}
	dir, err := os.MkdirTemp(b.work, "run-")
	if err != nil {
		r.Notes = append(r.Notes, err.Error())
		return r
	}
	defer os.RemoveAll(dir)

	var cmd *exec.Cmd
	limit := b.cfg.toolLimit
	if c.ToolLimit > 0 && !b.cfg.quick {
		limit = c.ToolLimit
	}
	sampleFor := time.Duration(0)
	report := filepath.Join(dir, "report.json")
	switch prog {
	case progScript:
		cmd = exec.Command(b.node, b.script)
		cmd.Dir = filepath.Dir(b.script)
		cmd.Env = append(baseEnv(dir),
			"GITHUB_API_URL="+e.apiURL,
			"TOKEN="+token,
			"ORGANIZATION_NAME="+org,
			"HOOK_ID="+strconv.FormatInt(e.hook, 10),
			"LAST_REDELIVERY_VARIABLE_NAME="+variable,
			"WORKFLOW_REPO_OWNER="+org,
			"WORKFLOW_REPO_NAME="+repo,
		)
		limit = b.cfg.scriptLimit
		if c.ScriptLimit > 0 && !b.cfg.quick {
			limit = c.ScriptLimit
		}
		if !c.ScriptSampleOff {
			sampleFor = b.cfg.scriptSample
		}
	case progTool:
		state, drop := stateFor(c, dir)
		defer drop()
		args := []string{"run", "--api-url", e.apiURL, "--org", org, "--hook", strconv.FormatInt(e.hook, 10),
			"--state", state, "--output", "json", "--report", report}
		env := append(baseEnv(dir), "GITHUB_TOKEN="+token)
		switch c.Regime {
		case ghes:
			args = append(args, "--rate", "0", "--concurrency", "16")
		case dotcom, dotcomNoContent:
			// The default pace (1/s, one at a time, learning the
			// per-minute and per-hour windows), compressed with the limits.
			env = append(env, paceScaleEnv+"="+strconv.FormatFloat(b.scaleFor(c, prog), 'f', -1, 64))
		}
		cmd = exec.Command(b.tool, args...)
		cmd.Dir = dir
		cmd.Env = env
	}
	if c.Regime.github() {
		r.Scale = b.scaleFor(c, prog)
		r.ScaleFlag = scaleFlag(r.Scale)
		r.FloorS = envelopeFloor(c.Regime, e.stats.Attempts, len(e.failed), stateCalls(prog)).Seconds() / r.Scale
	}

	// Run it through the launcher, so its peak RSS is its own (launch.go).
	b.log("  %-9s %s (limit %s)", prog, strings.Join(cmd.Args, " "), limit)
	launchResult := filepath.Join(dir, "launched.json")
	target := cmd
	cmd = exec.Command(b.self, append([]string{launchFlag, launchResult, "--", target.Path}, target.Args[1:]...)...)
	cmd.Env, cmd.Dir = target.Env, target.Dir

	wantPages := pages(e.stats.Attempts)
	var stderr, stdout tailBuffer
	stderr.max, stdout.max = 256<<10, 64<<10
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	r.LoadAvg = loadAverage()

	var samples []sample
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.mu.Lock()
		b.startErr = fmt.Errorf("%s: starting %s: %w", c.Name(), prog, err)
		b.mu.Unlock()
		r.Notes = append(r.Notes, "could not start: "+err.Error())
		return r
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	var waitErr error
	firstPost := time.Duration(-1)
loop:
	for {
		select {
		case waitErr = <-waitc:
			r.Complete = true
			break loop
		case <-tick.C:
			el := time.Since(start)
			s := sample{t: el, pages: e.srv.RequestCount(routeList), posts: e.srv.RequestCount(routeRedeliver)}
			samples = append(samples, s)
			if firstPost < 0 && s.posts > 0 {
				firstPost = el
			}
			why := ""
			switch {
			case ctx.Err() != nil:
				why = "interrupted"
			case el >= limit:
				why = fmt.Sprintf("time limit (%s)", limit)
			case sampleFor > 0 && firstPost >= 0 && s.pages >= wantPages && el-firstPost >= sampleFor && s.posts < len(e.failed):
				why = fmt.Sprintf("pace measured (%s of POSTs after the listing)", sampleFor)
			}
			if why != "" {
				r.Stopped = why
				// The launcher kills the program and still reports.
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case waitErr = <-waitc:
				case <-time.After(30 * time.Second):
					cmd.Process.Kill()
					waitErr = <-waitc
				}
				break loop
			}
		}
	}
	tick.Stop()
	wall := time.Since(start)
	samples = append(samples, sample{t: wall, pages: e.srv.RequestCount(routeList), posts: e.srv.RequestCount(routeRedeliver)})
	r.WallS = wall.Seconds()
	r.stderrTail = stderr.String()
	if l, err := readLaunched(launchResult); err == nil && l.Error == "" {
		r.WallS = time.Duration(l.WallNS).Seconds()
		r.ExitCode = l.ExitCode
		r.PeakRSSBytes = l.MaxRSSKiB * 1024 // KiB on Linux
		if r.Complete && l.ExitCode != 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("exited with code %d: %s", l.ExitCode, lastLine(r.stderrTail)))
		}
	} else {
		if err == nil {
			err = errors.New(l.Error)
		}
		b.mu.Lock()
		b.startErr = fmt.Errorf("%s: %s: the launcher: %v (%v): %s", c.Name(), prog, err, waitErr, lastLine(r.stderrTail))
		b.mu.Unlock()
		r.Notes = append(r.Notes, fmt.Sprintf("no report from the launcher: %v", err))
	}

	b.collect(e, r, c, prog, report, stdout.String())
	b.extrapolate(e, r, c, prog, samples)
	if prog == progTool && c.Regime.github() && r.Complete && firstPost >= 0 {
		fp := min(firstPost.Seconds(), r.WallS)
		r.GitHubS = fp + (r.WallS-fp)*r.Scale
	}
	if prog == progTool && c.Regime == dotcom && c.Target == targetEnvelope && r.Complete && ctx.Err() == nil {
		r.NextRun = b.nextRun(ctx, e, c, dir, limit)
	}
	return r
}

// nextRunToken is the next run's credential: a fresh budget.
const nextRunToken = "ghp_benchmark1111111111111111111111111111"

// nextRun runs redeliver again on the same state, against another hook's
// backlog of more failures than an hour allows, with another token (a
// fresh budget, as if an hour had passed): a pace learned and kept by the
// first run holds it within the limits from its first request.
func (b *bench) nextRun(ctx context.Context, e *emulator, c benchCase, dir string, limit time.Duration) *nextRunResult {
	srv := e.srv
	hook := srv.AddOrgHook(org, ghfake.HookConfig{URL: b.receiverAt, Secret: "benchmark"})
	srv.AddToken(ghfake.Token{Value: nextRunToken, Orgs: []string{org}})
	now := time.Now()
	st := srv.SeedHistory(hook, ghfake.History{N: 1600, From: now.Add(-2 * time.Hour), To: now.Add(-time.Minute),
		FailureRatio: 0.5, NoResponseRatio: 0.25, Seed: c.seed() + 1})
	pri0, sec0 := srv.LimitResponsesByKind()
	nr := &nextRunResult{Failed: len(st.FailedGUIDs)}
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(rctx, b.tool, "run", "--api-url", e.apiURL, "--org", org, "--hook", strconv.FormatInt(hook, 10),
		"--state", filepath.Join(dir, "state.db"), "--output", "json")
	cmd.Dir = dir
	cmd.Env = append(baseEnv(dir), "GITHUB_TOKEN="+nextRunToken,
		paceScaleEnv+"="+strconv.FormatFloat(b.scaleFor(c, progTool), 'f', -1, 64))
	var stderr tailBuffer
	stderr.max = 16 << 10
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	nr.WallS = time.Since(start).Seconds()
	if cmd.ProcessState != nil {
		nr.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		nr.Error = err.Error() + ": " + lastLine(stderr.String())
	}
	pri1, sec1 := srv.LimitResponsesByKind()
	nr.LimitResponses = pri1 - pri0 + sec1 - sec0
	for _, rd := range srv.Redeliveries() {
		if rd.HookID == hook {
			nr.Redelivered++
		}
	}
	return nr
}

// baseEnv is a clean environment: nothing of the benchmark's own (no
// TOKEN, no HOSTNAME) leaks into the programs.
func baseEnv(home string) []string {
	env := []string{"HOME=" + home, "TMPDIR=" + home, "LANG=C.UTF-8"}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

var (
	reScriptSummary = regexp.MustCompile(`Redelivered (\d+) failed webhook deliveries out of (\d+) total deliveries`)
	reSecondaryWarn = regexp.MustCompile(`SecondaryRateLimit detected for request`)
	rePrimaryWarn   = regexp.MustCompile(`Request quota exhausted for request`)
)

// collect reads the emulator's counters and the program's own account.
func (b *bench) collect(e *emulator, r *runResult, c benchCase, prog, report, stdout string) {
	srv := e.srv
	r.ByRoute = map[string]int{}
	for route, n := range srv.Requests() {
		r.ByRoute[shortRoute(route)] = n
	}
	r.APICalls = srv.TotalRequests()
	r.LimitPrimary, r.LimitSecondary = srv.LimitResponsesByKind()
	r.Violations = len(srv.Violations())

	per := map[string]int{}
	for _, rd := range srv.Redeliveries() {
		per[rd.GUID]++
	}
	r.Redelivered = 0
	for g, n := range per {
		r.Redelivered += n
		if n > 1 {
			r.Duplicated++
		}
		if !e.failed[g] {
			r.Unexpected++
		}
	}
	for g := range e.failed {
		if per[g] == 0 {
			r.Missed++
		}
	}
	if r.Unexpected > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d redelivered guids had not failed", r.Unexpected))
	}

	switch prog {
	case progScript:
		if m := reScriptSummary.FindStringSubmatch(stdout); m != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("script: %q", m[0]))
		}
		sec := len(reSecondaryWarn.FindAllStringIndex(r.stderrTail, -1))
		pri := len(rePrimaryWarn.FindAllStringIndex(r.stderrTail, -1))
		if sec+pri > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("octokit warned of %d secondary and %d primary rate limits and retried after the wait", sec, pri))
		}
		if strings.Contains(r.stderrTail, "heap out of memory") {
			r.Notes = append(r.Notes, "node ran out of heap memory")
		}
	case progTool:
		var res struct {
			Targets []struct {
				Pages    int    `json:"pages"`
				Stopped  string `json:"stopped"`
				Error    string `json:"error"`
				Deferred int    `json:"deferred"`
				Errors   int    `json:"errors"`
			} `json:"targets"`
		}
		if bs, err := os.ReadFile(report); err == nil && json.Unmarshal(bs, &res) == nil {
			for _, t := range res.Targets {
				if t.Stopped != "" {
					r.Notes = append(r.Notes, "redeliver stopped early: "+t.Stopped)
				}
				if t.Error != "" {
					r.Notes = append(r.Notes, "redeliver error: "+t.Error)
				}
				if t.Deferred > 0 {
					r.Notes = append(r.Notes, fmt.Sprintf("redeliver deferred %d to the next run", t.Deferred))
				}
				if t.Errors > 0 {
					r.Notes = append(r.Notes, fmt.Sprintf("redeliver: %d redeliveries failed", t.Errors))
				}
			}
		} else if r.Complete {
			r.Notes = append(r.Notes, "no report from redeliver: "+lastLine(r.stderrTail))
		}
		if probes := r.ByRoute["list"] - pages(e.stats.Attempts); probes > 0 && r.Complete {
			r.Notes = append(r.Notes, plural(probes, "list call")+" beyond the window's pages (receiver probes)")
		}
	}
	if r.LimitPrimary+r.LimitSecondary > 0 {
		var parts []string
		for route, codes := range srv.Statuses() {
			for code, n := range codes {
				if code == http.StatusForbidden || code == http.StatusTooManyRequests {
					parts = append(parts, fmt.Sprintf("%s %d×%d", shortRoute(route), n, code))
				}
			}
		}
		sort.Strings(parts)
		r.Notes = append(r.Notes, "limit responses: "+strings.Join(parts, ", "))
	}
	if r.Violations > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d requests came before the wait GitHub asked for was over", r.Violations))
	}
}

// extrapolate estimates a stopped run's total time from its measured pace:
// the rest of the listing at its page rate, the rest of the POSTs at its
// POST rate, under the envelope when there is one. A run that finished is
// only summarized.
func (b *bench) extrapolate(e *emulator, r *runResult, c benchCase, prog string, samples []sample) {
	wantPages, failed := pages(e.stats.Attempts), len(e.failed)
	end := samples[len(samples)-1]
	// The listing phase: until the first POST (or the end).
	firstPost := -1
	for i, s := range samples {
		if s.posts > 0 {
			firstPost = i
			break
		}
	}
	listEnd, listPages := end.t, end.pages
	if firstPost >= 0 {
		// The last sample before the first POST bounds the listing.
		if firstPost > 0 {
			listEnd, listPages = samples[firstPost].t, samples[firstPost].pages
		} else {
			listEnd, listPages = samples[0].t, samples[0].pages
		}
	}
	if listPages > 0 && listEnd > 0 {
		r.PageRate = float64(listPages) / listEnd.Seconds()
	}
	var postGap time.Duration
	var basis []string
	if firstPost >= 0 && end.posts > samples[firstPost].posts {
		p0 := samples[firstPost]
		r.PostRate = float64(end.posts-p0.posts) / (end.t - p0.t).Seconds()
		postGap = time.Duration(float64(time.Second) / r.PostRate)
		if prog == progScript {
			b.mu.Lock()
			if old, ok := b.postGap[c.Latency]; !ok || postGap < old {
				b.postGap[c.Latency] = postGap
			}
			b.mu.Unlock()
		}
		// A falling rate makes a linear extrapolation optimistic.
		mid := p0.t + (end.t-p0.t)/2
		for _, s := range samples[firstPost:] {
			if s.t >= mid && s.posts > p0.posts && end.t > s.t {
				first := float64(s.posts-p0.posts) / (s.t - p0.t).Seconds()
				second := float64(end.posts-s.posts) / (end.t - s.t).Seconds()
				if end.t-p0.t >= 2*time.Second {
					r.PostRateEarly, r.PostRateLate = first, second
				}
				if second < 0.8*first && !r.Complete {
					basis = append(basis, fmt.Sprintf("optimistic: the POST rate fell from %.0f/s to %.0f/s during the run", first, second))
				}
				break
			}
		}
	}
	if r.Complete {
		return
	}
	r.CallsAtEnd = floorCalls(e.stats.Attempts, failed, stateCalls(prog))
	if prog == progTool {
		r.CallsAtEnd += r.APICalls - end.pages - end.posts // its extra calls so far
	}
	if postGap == 0 {
		b.mu.Lock()
		g, ok := b.postGap[c.Latency]
		b.mu.Unlock()
		if ok && prog == progScript {
			postGap = g
			basis = append(basis, "POST pace measured in this benchmark's other script runs at the same latency")
		} else {
			postGap = time.Second + c.Latency
			basis = append(basis, "POST pace assumed: octokit's one write a second plus the latency")
		}
	}
	pageGap := time.Duration(0)
	if listPages > 0 {
		pageGap = listEnd / time.Duration(listPages)
	} else {
		basis = append(basis, "no page listed: listing time unknown")
	}
	env := envelope{}
	if c.Regime.github() {
		env = envelopeOf(c.Regime)
		basis = append(basis, "github.com's envelope applied to the measured pace")
	}
	// Under a compressed envelope the measured gaps are compressed time:
	// simulate in github.com time, then compress the result.
	scale := max(r.Scale, 1)
	stretch := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	sch := simulate(env, jobRequests(e.stats.Attempts, failed, stateCalls(prog), stretch(pageGap), stretch(postGap)))
	total := time.Duration(float64(sch.End) / scale)
	startup := time.Duration(0)
	for _, s := range samples {
		if s.pages > 0 {
			startup = s.t
			break
		}
	}
	r.ExtrapolatedS = max((startup + total).Seconds(), r.WallS)
	// The refusals still to come (each a request GitHub refuses, then the
	// same request after the wait): the schedule's waits less those seen.
	r.ExpectedLimitResponses = max(sch.Waits-(r.LimitPrimary+r.LimitSecondary), 0)
	basis = append([]string{fmt.Sprintf("listed %d/%d pages at %.1f/s, %d/%d POSTs at %.2f/s", end.pages, wantPages, r.PageRate, end.posts, failed, 1/postGap.Seconds())}, basis...)
	r.ExtrapolationBasis = strings.Join(basis, "; ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

var errNoNode = errors.New("node is not on PATH: install Node.js (or pass -no-script to measure redeliver alone)")
