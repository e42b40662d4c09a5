package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/redeliver/redeliver/serve/fleet"
)

// serveTargets are what `redeliver serve` must reach on the fleet.
const (
	serveTargetP95    = 120.0  // seconds from an outage's end to the event's recovery
	serveTargetBilled = 2500.0 // billed calls an hour for 50 hooks
)

// serveResult is what `-serve` writes as JSON.
type serveResult struct {
	Mode     string    `json:"mode"`
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Revision string    `json:"revision"`
	// Load is /proc/loadavg's first three figures at the start and the
	// end: other work on the machine stretches the wall time, not the
	// emulated figures.
	Load       [2]string      `json:"load_average,omitzero"`
	WallS      float64        `json:"wall_s"`
	Figures    *fleet.Figures `json:"figures"`
	TargetsMet bool           `json:"targets_met"`
	Targets    []string       `json:"targets"`
}

// runServeBench simulates `redeliver serve` on a fleet of hooks for hours
// of emulated time (package serve/fleet), with the docs workflow's 6-hourly
// schedule modelled on the same world, and reports both.
func runServeBench(cfg config) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	o := fleet.Options{Hooks: 50, Hours: 24}
	mode := "full"
	if cfg.quick {
		o.Hours, mode = 3, "quick"
	}
	var res *serveResult
	if cfg.from != "" {
		// Render an earlier run's figures again.
		b, err := os.ReadFile(cfg.from)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &res); err != nil || res == nil || res.Figures == nil {
			return fmt.Errorf("-from %s: not a -serve run's JSON (%v)", cfg.from, err)
		}
		cfg.quick = res.Mode == "quick"
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		started := time.Now()
		load0 := loadAverage()
		f, err := fleet.Run(ctx, o)
		if err != nil {
			return err
		}
		res = &serveResult{Mode: mode, Command: commandLine(), Started: started.UTC(), Revision: gitRevision(),
			WallS: time.Since(started).Seconds(), Figures: f, Load: [2]string{load0, loadAverage()}}
	}
	f := res.Figures
	res.TargetsMet, res.Targets = serveVerdicts(f)
	printServe(os.Stdout, res)

	var chart string
	switch {
	case cfg.out == "":
		// Like the full matrix, a run without -out keeps the module's
		// BENCHMARKS.md current: its own mode's block of the serve section.
		md := filepath.Join(root, "BENCHMARKS.md")
		chartRef := ""
		if !cfg.quick {
			chartRef = "bench/serve-chart.svg"
			chart = filepath.Join(root, filepath.FromSlash(chartRef))
		}
		if err := updateServeSection(md, res.Mode, serveBlock(res, chartRef)); err != nil {
			return err
		}
		fmt.Printf("\nupdated %s (%s run)\n", md, res.Mode)
	default:
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return err
		}
		chart = filepath.Join(cfg.out, "serve-chart.svg")
		if err := writeServeJSON(filepath.Join(cfg.out, "serve.json"), res); err != nil {
			return err
		}
		var b strings.Builder
		printServe(&b, res)
		if err := os.WriteFile(filepath.Join(cfg.out, "serve.md"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if cfg.jsonPath != "" {
		if err := writeServeJSON(cfg.jsonPath, res); err != nil {
			return err
		}
	}
	if chart != "" {
		if err := writeServeChart(chart, f); err != nil {
			return err
		}
		fmt.Printf("\nwrote %s\n", chart)
	}
	if !res.TargetsMet {
		return fmt.Errorf("serve: targets missed: %s", strings.Join(res.Targets, "; "))
	}
	return nil
}

func writeServeJSON(path string, res *serveResult) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// serveVerdicts checks the figures against the targets (the billed calls'
// target scales with the number of hooks).
func serveVerdicts(f *fleet.Figures) (bool, []string) {
	ok := true
	var out []string
	check := func(good bool, format string, args ...any) {
		mark := "met"
		if !good {
			mark, ok = "MISSED", false
		}
		out = append(out, fmt.Sprintf(format, args...)+": "+mark)
	}
	billedTarget := serveTargetBilled * float64(f.Hooks) / 50
	check(f.MTTRP95 <= serveTargetP95, "MTTR p95 %.0f s ≤ %.0f s", f.MTTRP95, serveTargetP95)
	check(f.BilledCallsPerHour <= billedTarget, "billed calls %.0f/h ≤ %.0f/h", f.BilledCallsPerHour, billedTarget)
	check(f.Missed == 0, "missed %d = 0", f.Missed)
	check(f.Duplicated == 0, "duplicated %d = 0", f.Duplicated)
	return ok, out
}

// printServe writes the comparison as a Markdown table.
func printServe(w io.Writer, res *serveResult) {
	f := res.Figures
	d := f.Docs
	fmt.Fprintf(w, "serve on %d org hooks, %d h of outages + 1 h (emulated; %d events, %d failed in %d outages); wall %.0f s\n\n",
		f.Hooks, f.Hours, f.Events, f.Failed, f.Outages, res.WallS)
	fmt.Fprintln(w, "| | `redeliver serve` | docs script every 6 h (modelled) |")
	fmt.Fprintln(w, "|---|---:|---:|")
	row := func(name, a, b string) { fmt.Fprintf(w, "| %s | %s | %s |\n", name, a, b) }
	secs := serveDur
	row("MTTR p50 (outage end → event recovered)", secs(f.MTTRP50), secs(d.MTTRP50))
	row("MTTR p95", secs(f.MTTRP95), secs(d.MTTRP95))
	row("MTTR max", secs(f.MTTRMax), secs(d.MTTRMax))
	row("billed API calls per hour", fmt.Sprintf("%.0f", f.BilledCallsPerHour), fmt.Sprintf("%.0f", d.BilledCallsPerHour))
	row("304s (not billed)", fmt.Sprint(f.NotModifiedCalls), "–")
	row("redeliveries", fmt.Sprint(f.Redelivered), fmt.Sprint(d.Redelivered))
	row("attempts spent during outages", fmt.Sprint(f.AttemptsDuringOutages), fmt.Sprint(d.AttemptsDuringOutages))
	row("pings", fmt.Sprint(f.Pings), "–")
	row("missed", fmt.Sprint(f.Missed), fmt.Sprint(d.Missed))
	row("duplicated", fmt.Sprint(f.Duplicated), "0")
	fmt.Fprintln(w)
	for _, t := range res.Targets {
		fmt.Fprintf(w, "- %s\n", t)
	}
}

// serveDur writes seconds as "125 s", "12 min" or "3.1 h".
func serveDur(s float64) string {
	switch {
	case s < 600:
		return fmt.Sprintf("%.0f s", s)
	case s < 2*3600:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

// writeServeChart draws the time-to-recovery distribution of both
// schedules: the share of failed events recovered within x seconds of
// their outage's end (log axis).
func writeServeChart(path string, f *fleet.Figures) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Time to recovery after an outage ends (%d hooks, %d failed events)", f.Hooks, f.Failed)
	p.X.Label.Text = "seconds from the outage's end to the event's successful redelivery"
	p.Y.Label.Text = "share of failed events recovered"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 1, Label: "1 s"}, {Value: 10, Label: "10 s"}, {Value: 60, Label: "1 min"},
		{Value: 120, Label: "2 min"}, {Value: 600, Label: "10 min"}, {Value: 3600, Label: "1 h"}, {Value: 6 * 3600, Label: "6 h"}})
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 1, 8*3600, 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	cdf := func(ttr []float64) plotter.XYs {
		var xys plotter.XYs
		n := float64(len(ttr))
		for i, v := range ttr {
			xys = append(xys, plotter.XY{X: max(v, 1), Y: float64(i+1) / n})
		}
		return xys
	}
	for _, s := range []struct {
		name string
		ttr  []float64
		c    color.RGBA
	}{
		{"redeliver serve", f.ServeTTR, color.RGBA{R: 0x1a, G: 0x3d, B: 0x8f, A: 0xff}},
		{"docs script every 6 h (modelled)", f.Docs.TTR, color.RGBA{R: 0xd6, G: 0x60, B: 0x4d, A: 0xff}},
	} {
		if len(s.ttr) == 0 {
			continue
		}
		line, err := plotter.NewLine(cdf(s.ttr))
		if err != nil {
			return err
		}
		line.StepStyle = plotter.PostStep
		line.Color, line.Width = s.c, vg.Points(2)
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	target, err := plotter.NewLine(plotter.XYs{{X: serveTargetP95, Y: 0}, {X: serveTargetP95, Y: 1}})
	if err != nil {
		return err
	}
	target.Color, target.Dashes = color.Gray{Y: 0x70}, []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(target)
	p.Legend.Add("target: p95 ≤ 2 min", target)
	return p.Save(vg.Points(720), vg.Points(360), path)
}

// serveSectionTitle heads the serve section of BENCHMARKS.md; each mode
// (quick, full) has its own block in it, between markers, so a run
// rewrites its own figures and keeps the other's.
const serveSectionTitle = "## redeliver serve: time to recovery"

const serveSectionIntro = serveSectionTitle + `

` + "`go run ./bench -serve`" + ` (a day of emulated time) and ` + "`go run ./bench -serve -quick`" + ` (3 hours) write
their block below; ` + "`-out DIR`" + ` writes serve.md, serve.json and serve-chart.svg into DIR instead.
The simulation (package ` + "`serve/fleet`" + `) runs ` + "`redeliver serve`" + ` in-process on 50 organization
hooks of the GitHub emulator, on one fake clock shared by both: an event every 5 minutes per hook
on average, receiver outages of 5 to 60 minutes (about one a hook every 3 hours) while outages
may begin, then one hour more of traffic in which every outage ends. Real HTTP to the emulator
(github.com's rate limits and ETag/304 rules), a real SQLite state; the redelivery pacer is off
(it runs on the wall clock). *MTTR* is from the end of the outage an event failed in to its first
successful delivery, in emulated seconds. *Billed* calls count against the primary rate limit;
304s do not. The docs workflow (its script at 00:15, 06:15, 12:15 and 18:15 UTC) is **modelled**
on the same record of events and outages, by the script's rules: each run redelivers once every
event that failed since the previous run and has not succeeded (a redelivery that fails is
retried by the next run); its billed calls are the listing pages since the previous run, the
redeliveries and a read and a write of its timestamp variable, per hook and run. The script
spends fewer calls (a listing per hook every 6 hours) and recovers hours later; serve's calls are
mostly polls that find new deliveries (an event every 5 minutes per hook), then pings and their
readings during outages; its polls that find nothing are 304s.
`

func serveMarkers(mode string) (begin, end string) {
	return "<!-- serve " + mode + ": begin -->", "<!-- serve " + mode + ": end -->"
}

// serveBlock is one run's block of the section.
func serveBlock(res *serveResult, chartRef string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s run\n\n", res.Mode)
	fmt.Fprintf(&b, "`%s`, started %s, revision %s, took %s of wall time.\n\n", res.Command, res.Started.Format(time.RFC3339), res.Revision,
		time.Duration(res.WallS*float64(time.Second)).Round(time.Second))
	if res.Load[0] != "" {
		fmt.Fprintf(&b, "Load average %s at the start, %s at the end (2 cores; other work on the machine stretches the wall time, not the emulated figures).\n\n", res.Load[0], res.Load[1])
	}
	printServe(&b, res)
	if chartRef != "" {
		fmt.Fprintf(&b, "\n![time to recovery: serve vs the docs script every 6 hours](%s)\n", chartRef)
	}
	return b.String()
}

// gitRevision names the checkout's commit ("unknown" outside git).
func gitRevision() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// updateServeSection writes block as mode's block of the serve section of
// the Markdown file at path, adding the section (at the end) or the block
// where missing (a block goes at the end).
func updateServeSection(path, mode, block string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(b)
	begin, end := serveMarkers(mode)
	if !strings.Contains(doc, serveSectionTitle) {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + serveSectionIntro
	}
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	switch {
	case i >= 0 && j > i:
		doc = doc[:i] + begin + "\n" + block + end + doc[j+len(end):]
	default:
		doc = strings.TrimRight(doc, "\n") + "\n\n" + begin + "\n" + block + end + "\n"
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// keepServeSection carries the serve section of the previous BENCHMARKS.md
// (old) over to a newly generated one (doc): the matrix and the serve
// simulation are separate runs, and neither may erase the other's figures.
func keepServeSection(doc, old string) string {
	i := strings.Index(old, serveSectionTitle)
	if i < 0 || strings.Contains(doc, serveSectionTitle) {
		return doc
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + old[i:]
}
