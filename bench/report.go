package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// report is a whole benchmark run; its JSON form is what -json writes.
type report struct {
	Command      string        `json:"command"`
	Mode         string        `json:"mode"`
	Started      string        `json:"started"`
	Elapsed      string        `json:"elapsed"`
	Machine      machine       `json:"machine"`
	Scale        float64       `json:"envelope_scale"`
	ScaleFlag    string        `json:"redeliver_scale_flag"`
	ScriptLimit  string        `json:"script_limit"`
	ScriptSample string        `json:"script_sample"`
	ToolLimit    string        `json:"redeliver_limit"`
	Cases        []*caseResult `json:"cases"`
	Targets      []verdict     `json:"targets"`
	// RenderedFrom is the results.json a -from run rendered.
	RenderedFrom string `json:"-"`
}

// verdict is one of the targets for redeliver.
type verdict struct {
	Target  string `json:"target"`
	Met     *bool  `json:"met"` // null: not measured in this run
	Figures string `json:"figures"`
}

func (v verdict) status() string {
	switch {
	case v.Met == nil:
		return "not measured"
	case *v.Met:
		return "met"
	}
	return "MISSED"
}

func boolp(b bool) *bool { return &b }

// evaluate checks redeliver against the targets.
func evaluate(rep *report) []verdict {
	var out []verdict

	// API calls ≤ floor + 1 in every case.
	{
		v := verdict{Target: "API calls ≤ floor + 1 in every case"}
		var over, unmeasured []string
		measured, worst := 0, 0
		for _, cr := range rep.Cases {
			t := cr.Tool
			if t == nil {
				continue
			}
			if !t.Complete {
				unmeasured = append(unmeasured, cr.Name)
				continue
			}
			measured++
			excess := t.APICalls - t.FloorCalls
			worst = max(worst, excess)
			if excess > 1 {
				over = append(over, fmt.Sprintf("%s: %s calls, floor %s (+%d: %s)", cr.Name, thousands(t.APICalls), thousands(t.FloorCalls), excess, extraCalls(cr, t)))
			}
		}
		if measured > 0 {
			v.Met = boolp(len(over) == 0)
		}
		switch {
		case measured == 0:
			v.Figures = "no redeliver run finished"
		case len(over) == 0:
			v.Figures = fmt.Sprintf("%d cases measured; at most floor + %d", measured, worst)
		default:
			v.Figures = fmt.Sprintf("%d of %d measured cases over: %s", len(over), measured, strings.Join(over, "; "))
		}
		if len(unmeasured) > 0 {
			v.Figures += fmt.Sprintf(". Not measured (stopped at the time limit): %s", strings.Join(unmeasured, ", "))
		}
		out = append(out, v)
	}

	// Speed on GHES with 50 ms latency and ~2,000 failed guids.
	for _, cr := range rep.Cases {
		if cr.Target != targetSpeed || cr.Tool == nil {
			continue
		}
		v := verdict{Target: fmt.Sprintf("GHES (rate limiting off), 50 ms latency, %s failed guids: redeliver --rate 0 --concurrency 16 ≥ 50× faster than the script", thousands(cr.Failed))}
		t, s := cr.Tool, cr.Script
		switch {
		case s == nil:
			v.Figures = "the script did not run"
		case !t.Complete:
			v.Figures = fmt.Sprintf("redeliver stopped at its limit after %.1f s", t.WallS)
			v.Met = boolp(false)
		default:
			speed := s.total() / t.WallS
			v.Met = boolp(speed >= 50 && t.Missed == 0)
			v.Figures = fmt.Sprintf("redeliver %.1f s, script %s s → %.0f× faster", t.WallS, secs(s), speed)
		}
		out = append(out, v)
	}

	// The envelope, redeliveries counted as content: a backlog drains
	// within 1.05 × the floor, with at most one limit answer (the one that
	// teaches the pacer the hour's window) and none in the next run.
	for _, cr := range rep.Cases {
		if cr.Target != targetEnvelope || cr.Tool == nil {
			continue
		}
		t := cr.Tool
		v := verdict{Target: fmt.Sprintf("github.com rules, redeliveries counted as content creation (regime %s), default pace, %s-failure backlog: drains in ≤ 1.05 × the envelope floor with at most one limit answer, none in the next run (compressed %g×: limits via ghfake Budget.Scale, pace via %s)",
			cr.Regime, thousands(cr.Failed), t.Scale, t.ScaleFlag)}
		limits := t.LimitPrimary + t.LimitSecondary
		gh := t.GitHubS
		if gh == 0 {
			gh = t.total() * t.Scale
		}
		ratio := gh / cr.EnvelopeFloorS
		next := "no next run"
		nextOK := false
		if n := t.NextRun; n != nil {
			nextOK = n.LimitResponses == 0 && n.Error == "" && n.Redelivered == n.Failed
			next = fmt.Sprintf("the next run (another hook's %s failures, a fresh budget): %s, %s redelivered in %.1f s", thousands(n.Failed),
				plural(n.LimitResponses, "limit answer"), thousands(n.Redelivered), n.WallS)
			if n.Error != "" {
				next += ", " + n.Error
			}
		}
		v.Met = boolp(t.Complete && ratio <= 1.05 && limits <= 1 && t.Missed == 0 && nextOK)
		v.Figures = fmt.Sprintf("floor %s of github.com time (%.1f s compressed); redeliver %s s (%s of github.com time) = %.3f × floor, %s; %s",
			dur(cr.EnvelopeFloorS), t.FloorS, secs(t), dur(gh), ratio, plural(limits, "limit answer"), next)
		if !t.Complete {
			v.Figures += " (stopped at its time limit; extrapolated)"
		}
		if t.Missed > 0 && t.Complete {
			v.Figures += fmt.Sprintf(", %d failed guids left for a later run", t.Missed)
		}
		if s := cr.Script; s != nil {
			v.Figures += fmt.Sprintf(". The script (real time, uncompressed limits) ran %.0f s: %s sent, %s accepted, %s received",
				s.WallS, plural(s.ByRoute["redeliver"], "POST"), thousands(s.Redelivered), plural(s.LimitPrimary+s.LimitSecondary, "limit response"))
			if s.ExtrapolatedS > 0 {
				v.Figures += fmt.Sprintf("; the whole run would take ≈ %s and meet ≈ %d refusals more", dur(s.ExtrapolatedS), s.ExpectedLimitResponses)
			}
		}
		out = append(out, v)
	}

	// Many hooks side by side: the config within 1.2 × its largest hook.
	for _, cr := range rep.Cases {
		if cr.Target != targetManyHooks || cr.Tool == nil {
			continue
		}
		t := cr.Tool
		v := verdict{Target: fmt.Sprintf("%s: a config of many hooks (%s attempts in all, GHES with rate limiting off) takes ≤ %g × the time of its largest hook alone",
			cr.Name, thousands(cr.Attempts), manyHooksTarget)}
		ratio, ok := cr.manyHooksRatio()
		switch {
		case !ok:
			v.Met = boolp(false)
			v.Figures = fmt.Sprintf("a run did not finish (the config %.1f s)", t.WallS)
		default:
			v.Met = boolp(ratio <= manyHooksTarget && t.Missed == 0 && t.Duplicated == 0)
			v.Figures = fmt.Sprintf("the config %.1f s, its largest hook alone %.1f s → %.2f ×; %s redelivered, %d missed, %d duplicated",
				t.WallS, cr.Alone.WallS, ratio, thousands(t.Redelivered), t.Missed, t.Duplicated)
		}
		out = append(out, v)
	}

	// Redeliveries not content: never slower than the docs script.
	for _, cr := range rep.Cases {
		if cr.Target != targetScriptPace || cr.Tool == nil {
			continue
		}
		t, s := cr.Tool, cr.Script
		v := verdict{Target: fmt.Sprintf("github.com rules, redeliveries not counted as content creation (regime %s), default pace, %s-failure backlog: drains in ≤ 1.0 × the docs script's time (redeliver compressed %g×: its time to the first POST in real time, its POSTs × %g)",
			cr.Regime, thousands(cr.Failed), t.Scale, t.Scale)}
		switch {
		case s == nil:
			v.Figures = "the script did not run"
		case !t.Complete || t.GitHubS == 0:
			v.Met = boolp(false)
			v.Figures = fmt.Sprintf("redeliver did not finish (%.1f s)", t.WallS)
		default:
			ratio := t.GitHubS / s.total()
			v.Met = boolp(ratio <= 1.0 && t.Missed == 0)
			v.Figures = fmt.Sprintf("redeliver %s of github.com time (%.1f s compressed, %s), the script %s s → %.3f × the script",
				dur(t.GitHubS), t.WallS, plural(t.LimitPrimary+t.LimitSecondary, "limit answer"), secs(s), ratio)
		}
		out = append(out, v)
	}

	// Memory at 1,000,000 attempts.
	{
		v := verdict{Target: "peak RSS ≤ 64 MiB at 1,000,000 attempts"}
		var figs []string
		ok, n := true, 0
		for _, cr := range rep.Cases {
			if cr.Attempts < 1_000_000 || cr.Tool == nil {
				continue
			}
			n++
			t := cr.Tool
			if t.PeakRSSBytes > 64<<20 {
				ok = false
			}
			f := fmt.Sprintf("%s: redeliver %s MiB", cr.Name, mib(t))
			if s := cr.Script; s != nil {
				f += fmt.Sprintf(", script %s MiB", mib(s))
				switch {
				case !s.Complete && s.ByRoute["list"] >= cr.Pages:
					f += fmt.Sprintf(" (the whole window listed and held; stopped %.0f s into its POSTs)", s.WallS-float64(cr.Pages)/max(s.PageRate, 1e-9))
				case !s.Complete:
					f += fmt.Sprintf(" (stopped after listing %s of %s pages; it holds every listed delivery, so it grows to the end of the listing)", thousands(s.ByRoute["list"]), thousands(cr.Pages))
				}
				if strings.Contains(strings.Join(s.Notes, " "), "heap out of memory") {
					f += ", node ran out of heap memory"
				}
			}
			figs = append(figs, f)
		}
		if n > 0 {
			v.Met = boolp(ok)
			v.Figures = strings.Join(figs, "; ")
		} else {
			v.Figures = "no 1,000,000-attempt case in this run"
		}
		out = append(out, v)
	}

	// Zero missed, zero duplicated.
	{
		v := verdict{Target: "zero missed and zero duplicated guids everywhere"}
		var bad []string
		measured := 0
		for _, cr := range rep.Cases {
			t := cr.Tool
			if t == nil {
				continue
			}
			if t.Duplicated > 0 || t.Unexpected > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d duplicated, %d not failed", cr.Name, t.Duplicated, t.Unexpected))
			}
			if !t.Complete {
				continue
			}
			measured++
			if t.Missed > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d missed", cr.Name, t.Missed))
			}
		}
		if measured > 0 {
			v.Met = boolp(len(bad) == 0)
		}
		v.Figures = plural(measured, "finished redeliver run")
		if len(bad) > 0 {
			v.Figures += ": " + strings.Join(bad, "; ")
		} else {
			v.Figures += ": none missed, none duplicated"
		}
		var unfinished []string
		for _, cr := range rep.Cases {
			if t := cr.Tool; t != nil && !t.Complete {
				unfinished = append(unfinished, cr.Name)
			}
		}
		if len(unfinished) > 0 {
			v.Figures += fmt.Sprintf(". Stopped at the time limit, so not checked for missed guids (none duplicated so far): %s", strings.Join(unfinished, ", "))
		}
		var sbad []string
		for _, cr := range rep.Cases {
			if s := cr.Script; s != nil && (s.Duplicated > 0 || (s.Complete && s.Missed > 0)) {
				sbad = append(sbad, fmt.Sprintf("%s: %d missed, %d duplicated", cr.Name, s.Missed, s.Duplicated))
			}
		}
		if len(sbad) > 0 {
			v.Figures += ". The script: " + strings.Join(sbad, "; ")
		}
		out = append(out, v)
	}
	return out
}

// extraCalls explains a run's calls beyond the floor.
func extraCalls(cr *caseResult, r *runResult) string {
	var parts []string
	if n := r.ByRoute["list"] - cr.Pages; n > 0 {
		parts = append(parts, fmt.Sprintf("%d list pages beyond the window", n))
	}
	if n := r.ByRoute["rate_limit"]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d GET /rate_limit", n))
	}
	if n := r.ByRoute["redeliver"] - r.Redelivered; n > 0 {
		parts = append(parts, fmt.Sprintf("%d refused POSTs", n))
	}
	known := map[string]bool{"list": true, "rate_limit": true, "redeliver": true}
	for route, n := range r.ByRoute {
		if !known[route] {
			parts = append(parts, fmt.Sprintf("%d %s", n, route))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// ---- formatting ----

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func num(v float64) string {
	switch {
	case v >= 100:
		return thousands(int(math.Round(v)))
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// secs is a run's time: measured, or ≈ extrapolated.
func secs(r *runResult) string {
	if r.ExtrapolatedS > 0 {
		return "≈" + num(r.ExtrapolatedS)
	}
	return num(r.WallS)
}

// dur writes seconds as a readable duration.
func dur(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mib(r *runResult) string {
	s := fmt.Sprintf("%.0f", float64(r.PeakRSSBytes)/(1<<20))
	if !r.Complete {
		s = "≥" + s
	}
	return s
}

func calls(r *runResult) string {
	if !r.Complete && r.CallsAtEnd > 0 {
		return "≈" + thousands(r.CallsAtEnd)
	}
	return thousands(r.APICalls)
}

func callRatio(r *runResult) string {
	if r.FloorCalls == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(r.calls())/float64(r.FloorCalls))
}

func missed(r *runResult) string {
	if !r.Complete {
		return "–"
	}
	return thousands(r.Missed)
}

func timeRatio(r *runResult) string {
	if r.FloorS <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.total()/r.FloorS)
}

func oneLine(cr *caseResult, r *runResult) string {
	s := fmt.Sprintf("%s s, %s calls (floor %s, ×%s), %s MiB, %s redelivered, %s missed, %d duplicated",
		secs(r), calls(r), thousands(r.FloorCalls), callRatio(r), mib(r), thousands(r.Redelivered), missed(r), r.Duplicated)
	if n := r.LimitPrimary + r.LimitSecondary; n > 0 {
		s += ", " + plural(n, "limit response")
	}
	if r.FloorS > 0 {
		s += fmt.Sprintf(", ×%s envelope floor", timeRatio(r))
	}
	if r.Stopped != "" {
		s += fmt.Sprintf(" [stopped after %.0f s: %s]", r.WallS, r.Stopped)
	}
	for _, n := range r.Notes {
		s += "\n                  · " + n
	}
	return s
}

// printText prints the table and the targets.
func printText(w io.Writer, rep *report) {
	fmt.Fprintf(w, "\nredeliver vs the docs script (%s run, %s; %s, %d cores, Go %s, Node %s)\n\n",
		rep.Mode, rep.Elapsed, rep.Machine.CPU, rep.Machine.Cores, rep.Machine.Go, rep.Machine.Node)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tprogram\ttime s\tAPI calls\tfloor\t×floor\tRSS MiB\tredelivered\tmissed\tdup\tlimit resp.\t×time floor\t")
	for _, cr := range rep.Cases {
		for _, r := range []*runResult{cr.Script, cr.Tool} {
			if r == nil {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", cr.Name, r.Program, secs(r), calls(r),
				thousands(r.FloorCalls), callRatio(r), mib(r), thousands(r.Redelivered), missed(r), r.Duplicated,
				r.LimitPrimary+r.LimitSecondary, timeRatio(r))
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\n≈ extrapolated from a run the benchmark stopped (see the notes); ≥ RSS when stopped; – not finished.")
	fmt.Fprintf(w, "Envelope cases: redeliver's limits and pace compressed %g×; the script meets them in real time.\n\n", rep.Scale)
	for _, v := range rep.Targets {
		fmt.Fprintf(w, "%-12s %s\n             %s\n", "["+v.status()+"]", v.Target, v.Figures)
	}
	fmt.Fprintln(w)
}

// markdown is BENCHMARKS.md.
func markdown(rep *report, chart string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := rep.Machine
	p("# Benchmarks: redeliver vs GitHub's docs script\n\n")
	p("Generated by `%s` (%s run, started %s, took %s). Do not edit: rerun the benchmark.", rep.Command, rep.Mode, rep.Started, rep.Elapsed)
	if rep.RenderedFrom != "" {
		p(" Rendered from that run's figures with `go run ./bench -from %s`.", rep.RenderedFrom)
	}
	p("\n\n")
	p("Each case seeds the GitHub emulator (`ghfake`, in the benchmark's process, on 127.0.0.1) with the same history for both programs, then runs ")
	p("GitHub's docs script (`node` + `octokit`, unchanged but for `baseUrl: process.env.GITHUB_API_URL`) and `redeliver run` as child processes. ")
	p("*Floor* is ⌈attempts / 100⌉ list pages + one POST per failed guid + the state's API calls (the script's repository variable: a read and a write; redeliver's SQLite file: none). ")
	p("Under github.com's envelope the *time floor* is the least time GitHub's documented limits allow for those requests.\n\n")

	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s, %d cores |\n| memory | %s MiB |\n| OS | %s |\n| Go | %s |\n| Node | %s, octokit %s |\n", m.CPU, m.Cores, thousands(int(m.MemoryMB)), m.Kernel, m.Go, m.Node, m.Octokit)
	p("| load average | %s at the start, %s at the end (other work on the machine slows both programs alike) |\n", m.LoadFrom, m.LoadTo)
	p("| command | `%s` |\n", rep.Command)
	p("| limits | the script: %s a run (some cases set their own), stopped early once its pace is measured (%s of POSTs after its listing); redeliver: %s a run |\n", rep.ScriptLimit, rep.ScriptSample, rep.ToolLimit)
	p("| redeliver | built with `go build -tags benchclock` (only its pacer's clock differs, see env.go) from revision %s |\n", rep.Machine.Revision)
	other := ""
	for _, cr := range rep.Cases {
		if t := cr.Tool; t != nil && t.Scale > 0 && t.Scale != rep.Scale {
			other += fmt.Sprintf(" Case `%s` is compressed %g× instead (`%s`).", cr.Name, t.Scale, t.ScaleFlag)
		}
	}
	p("| envelope | github.com's documented limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api) enforced by ghfake `Budget`; for redeliver compressed **%g×** in time (Budget.Scale %g, and `%s`: its default pace, compressed alike), for the script in real time (octokit paces on the wall clock and cannot be compressed).%s |\n\n", rep.Scale, rep.Scale, rep.ScaleFlag, other)

	p("## Targets (redeliver)\n\n| target | result | figures |\n|---|---|---|\n")
	for _, v := range rep.Targets {
		st := v.status()
		if st == "MISSED" {
			st = "**missed**"
		}
		p("| %s | %s | %s |\n", mdEscape(v.Target), st, mdEscape(v.Figures))
	}
	p("\n")

	p("## Results\n\n")
	p("Case names: `regime/latency/attempts in the window/failure ratio`. `ghes`: rate limiting off (GHES's default), redeliver with `--rate 0 --concurrency 16`. ")
	p("`dotcom`: github.com's envelope, redeliveries counted as content creation; `dotcom-nocontent`: the same, redeliveries not counted (`Budget.RedeliveriesNotContent`); redeliver at its default pace (compressed, see above). Times in seconds of wall time; ")
	p("≈ marks a figure extrapolated from a run the benchmark stopped (its basis is in the notes), ≥ an RSS read when stopped, – a figure a stopped run cannot give. ")
	p("*×time floor*: the run's time over the envelope's floor, both in the run's own time.\n\n")
	p("| case | failed guids | program | time s | API calls | floor | ×floor | peak RSS MiB | redelivered | missed | duplicated | limit responses | ×time floor | notes |\n")
	p("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var notes []string
	for _, cr := range rep.Cases {
		for _, r := range []*runResult{cr.Script, cr.Tool} {
			if r == nil {
				continue
			}
			ref := ""
			if n := runNotes(cr, r); n != "" {
				notes = append(notes, fmt.Sprintf("%d. **%s, %s**: %s", len(notes)+1, cr.Name, r.Program, n))
				ref = fmt.Sprintf("[%d](#notes)", len(notes))
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s |\n", cr.Name, thousands(cr.Failed), r.Program,
				secs(r), calls(r), thousands(r.FloorCalls), callRatio(r), mib(r), thousands(r.Redelivered), missed(r),
				r.Duplicated, r.LimitPrimary+r.LimitSecondary, timeRatio(r), ref)
		}
	}
	p("\n")
	if len(notes) > 0 {
		p("### Notes\n\n%s\n\n", strings.Join(notes, "\n"))
	}

	p("## Chart\n\n![time and API calls against window size](%s)\n\n", chart)
	p("GHES cases without added latency: wall time and API calls against the window's size, per failure ratio. ")
	p("Open markers are extrapolated (the script is stopped once its pace is known; at 1 POST a second its larger cases take hours).\n\n")

	p("## Envelope floors\n\nThe least time github.com's documented limits (5,000 requests an hour; 900 points a minute per route, a POST costing 5; ")
	p("80 content-creating requests a minute and 500 an hour) allow for each window, failures estimated as attempts × ratio:\n\n")
	p("| attempts | failure ratio | failed guids ≈ | floor calls | time floor |\n|--:|--:|--:|--:|--:|\n")
	for _, n := range []int{2000, 20_000, 200_000, 1_000_000} {
		for _, r := range []float64{0.01, 0.10, 0.50} {
			f := int(float64(n) * r)
			p("| %s | %s | %s | %s | %s |\n", thousands(n), pct(r), thousands(f), thousands(floorCalls(n, f, 0)), dur(envelopeFloor(dotcom, n, f, 0).Seconds()))
		}
	}
	p("\n")
	if rep.Mode == "full" {
		p("## Cases left out of the issue's matrix\n\n")
		for _, o := range omittedCases() {
			p("- %s\n", o)
		}
		p("\n")
	}
	p("## How it is measured\n\n")
	for _, s := range method(rep) {
		p("- %s\n", s)
	}
	if a := analysis(rep); len(a) > 0 {
		p("\n## Where redeliver falls short, and why\n\n")
		for _, s := range a {
			p("- %s\n", s)
		}
	}
	return b.String()
}

func runNotes(cr *caseResult, r *runResult) string {
	var parts []string
	if r.Stopped != "" {
		parts = append(parts, fmt.Sprintf("stopped after %.0f s: %s", r.WallS, r.Stopped))
	}
	if r.ExtrapolationBasis != "" {
		parts = append(parts, "extrapolated: "+r.ExtrapolationBasis)
	}
	if r.ExpectedLimitResponses > 0 {
		parts = append(parts, fmt.Sprintf("the rest of the run would be refused ≈ %d times more by the envelope", r.ExpectedLimitResponses))
	}
	if r.Scale > 1 {
		parts = append(parts, fmt.Sprintf("compressed %g×: %s of github.com time", r.Scale, dur(r.total()*r.Scale)))
	}
	parts = append(parts, r.Notes...)
	var routes []string
	for route, n := range r.ByRoute {
		routes = append(routes, fmt.Sprintf("%s %s", route, thousands(n)))
	}
	sort.Strings(routes)
	parts = append(parts, "calls by route: "+strings.Join(routes, ", "))
	return mdEscape(strings.Join(parts, "; "))
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// method describes how the figures come about.
func method(rep *report) []string {
	return []string{
		"History: `ghfake.SeedHistory` spreads the attempts evenly over [start − 23 h, start − 1 min] of the wall clock (both programs look back 24 h on a first run, the script by its own clock), " +
			"a quarter of the failures with no HTTP response (status_code 0, which `status=failure` would miss); the same seed for both programs. The emulator's clock runs with wall time.",
		"Redeliveries: GitHub redelivers asynchronously; the emulator answers 202 and eight background workers (`RedeliveryWorkers`) deliver them to a local receiver that answers 200, " +
			"so redeliveries succeed and show in the list shortly after they are asked for, and neither program waits for the receiver inside its request. " +
			"`srv.Redeliveries()` is compared, per guid, with the seeded failed guids: *missed* = failed guids never redelivered, *duplicated* = guids redelivered more than once.",
		"API calls: the emulator's request counters, every route (refused requests included). Peak RSS: `getrusage` of the program (`wait4`'s `Maxrss`), read by a small launcher " +
			"(the benchmark's binary re-executed) that starts the program and waits for it: started by the benchmark itself, a child's `maxrss` would include the benchmark's own peak, " +
			"because Go starts children with `clone(CLONE_VM|CLONE_VFORK)` and Linux records the parent's RSS high-water mark at `exec`. The emulator's memory is not counted.",
		"The script runs exactly as published but for its `baseUrl`, with a fresh variable (first run: now − 24 h). redeliver runs with a fresh `--state` file, `GITHUB_TOKEN`, `--api-url`, `--output json --report FILE`.",
		"Time limits: octokit paces writes at one a second whatever the server allows, so the script's larger cases take hours. The benchmark stops a script run once its listing is done and its POSTs have run for the sample time (or at its limit), " +
			"and extrapolates: the rest of the pages at its page rate, the rest of the POSTs at its POST rate, under the envelope where there is one (counting the requests GitHub would refuse). Such figures are marked ≈.",
		fmt.Sprintf("Envelope: ghfake `Budget` with GitHub's documented values. redeliver's run is compressed %g× (the emulator's windows %g× shorter, `%s`); its ×time floor compares its wall time with the floor compressed alike. "+
			"Listing, latency and processing are not compressed, so a compressed run overstates redeliver's github.com time, most where the floor is short (a few hundred POSTs). "+
			"`retry-after` is whole seconds, so a compressed wait after a refusal can overshoot by up to %s of github.com time.",
			rep.Scale, rep.Scale, rep.ScaleFlag, dur(rep.Scale)),
		"Machine: the emulator shares the cores with the program it serves; other work on the machine (see the load average) slows both programs.",
	}
}

// analysis explains, from the figures, what in redeliver's engine causes the
// targets it misses.
func analysis(rep *report) []string {
	var out []string
	maxRateLimit, maxProbes, maxRefused := 0, 0, 0
	var falling []string
	var bigRSS []string
	var limited []string
	for _, cr := range rep.Cases {
		t := cr.Tool
		if t == nil {
			continue
		}
		if t.Complete && t.APICalls-t.FloorCalls > 1 {
			maxRateLimit = max(maxRateLimit, t.ByRoute["rate_limit"])
			maxProbes = max(maxProbes, t.ByRoute["list"]-cr.Pages)
			maxRefused = max(maxRefused, t.ByRoute["redeliver"]-t.Redelivered)
		}
		if t.PostRateEarly > 0 && t.PostRateLate < 0.6*t.PostRateEarly && cr.Failed >= 10_000 {
			falling = append(falling, fmt.Sprintf("%s: %s/s → %s/s", cr.Name, num(t.PostRateEarly), num(t.PostRateLate)))
		}
		if cr.Attempts >= 1_000_000 && t.PeakRSSBytes > 64<<20 {
			bigRSS = append(bigRSS, fmt.Sprintf("%s: %s MiB", cr.Name, mib(t)))
		}
		if cr.Regime.github() && t.LimitPrimary+t.LimitSecondary > 0 {
			limited = append(limited, fmt.Sprintf("%s: %d", cr.Name, t.LimitPrimary+t.LimitSecondary))
		}
	}
	if maxRateLimit+maxProbes+maxRefused > 0 {
		var why []string
		if maxRateLimit > 0 {
			s := fmt.Sprintf("%s (the credential check, `githubapi.Client.CheckAuth`", plural(maxRateLimit, "`GET /rate_limit` call"))
			if maxRateLimit > 1 {
				s += ", and again on GHES when the pace exceeds GitHub's advice, `warnPace` → `Client.RateLimitingOff`"
			}
			why = append(why, s+")")
		}
		if maxProbes > 0 {
			why = append(why, fmt.Sprintf("up to %s beyond the window: the receiver probe (`dispatcher.probe`, on unless `--no-probe`; at the docs script's pace only when 9 of the newest 10 deliveries listed failed) lists the first page again after 20 redeliveries, "+
				"and while it has not yet seen 10 of them in the list (GitHub redelivers asynchronously), again after 200, 2,000 …", plural(maxProbes, "list page")))
		}
		if maxRefused > 0 {
			why = append(why, fmt.Sprintf("up to %s under the envelope (each is a call)", plural(maxRefused, "refused POST")))
		}
		out = append(out, "**Calls over floor + 1.** Besides the pages and one POST per failed guid, redeliver makes "+strings.Join(why, "; ")+
			".")
	}
	if len(falling) > 0 {
		out = append(out, "**The POST rate falls as a run goes on** ("+strings.Join(falling, "; ")+", first half of the POSTs → second half). "+
			"`Runner.redeliverAll` (runner.go: `snapshot := make(map[string]time.Time, len(sent))`) allocates a map sized to every redelivery so far after *each* redelivery, "+
			"although it only fills it when a probe is due: O(n²) allocation and garbage collection. Allocating it inside `if probeNow` removes it.")
	}
	if len(bigRSS) > 0 {
		out = append(out, "**Memory at 1,000,000 attempts** ("+strings.Join(bigRSS, "; ")+"). It grows with the failures: for each failed guid the run holds, to the end, its `Observation`, "+
			"its `Decision` (a full `LedgerEntry`), an entry of `Report.Items` and one of the `sent` map (kept for probes even after the receiver was shown healthy); "+
			"and where the rate falls (above), the garbage of the per-redelivery snapshot maps adds to the peak. Dropping observations once planned, keeping `Report.Items` only for the "+
			"guids worth telling about (or streaming them to the report), and emptying `sent` once no probe is due would bound it much lower.")
	}
	if len(limited) > 0 {
		text := "**Limit responses under github.com's envelope** (" + strings.Join(limited, "; ") + "). "
		text += "redeliver starts at the docs script's pace and learns a window from GitHub's first limit answer (retry-after points at the minute's or the hour's); " +
			"more than one answer in a run means a window it keeps to is not the one GitHub counts, or the compression's margins are too thin."
		out = append(out, text)
	}
	return out
}
