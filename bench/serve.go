package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
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
	Mode       string         `json:"mode"`
	Command    string         `json:"command"`
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	started := time.Now()
	f, err := fleet.Run(ctx, o)
	if err != nil {
		return err
	}
	res := &serveResult{Mode: mode, Command: commandLine(), WallS: time.Since(started).Seconds(), Figures: f}
	res.TargetsMet, res.Targets = serveVerdicts(f)
	printServe(os.Stdout, res)

	var chart string
	switch {
	case cfg.out != "":
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
	case !cfg.quick:
		chart = filepath.Join(root, "bench", "serve-chart.svg")
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

// serveDur writes seconds as "95 s", "12 min" or "3.1 h".
func serveDur(s float64) string {
	switch {
	case s < 120:
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
