package main

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// writeChart draws wall time and API calls against the window's size for
// both programs (GHES cases without added latency, one line per program and
// failure ratio), with the floor of API calls, as an SVG (or a PNG when path
// ends in .png).
func writeChart(path string, rep *report) error {
	type point struct {
		x, y  float64
		extra bool // extrapolated
	}
	type key struct {
		prog  string
		ratio float64
	}
	timeS, callS := map[key][]point{}, map[key][]point{}
	floorS := map[float64][]point{}
	// The GHES cases without added latency; a run filtered to none of
	// them draws every case it has.
	which := "GHES, no added latency"
	pick := func(cr *caseResult) bool { return cr.Regime == ghes && cr.Latency == 0 }
	if !slices.ContainsFunc(rep.Cases, pick) {
		which = "all cases run"
		pick = func(*caseResult) bool { return true }
	}
	for _, cr := range rep.Cases {
		if !pick(cr) {
			continue
		}
		x := float64(cr.Attempts)
		for _, r := range []*runResult{cr.Script, cr.Tool} {
			if r == nil {
				continue
			}
			k := key{r.Program, cr.Ratio}
			timeS[k] = append(timeS[k], point{x, r.total(), r.ExtrapolatedS > 0})
			callS[k] = append(callS[k], point{x, float64(r.calls()), !r.Complete})
		}
		floorS[cr.Ratio] = append(floorS[cr.Ratio], point{x, float64(floorCalls(cr.Attempts, cr.Failed, 0)), false})
	}
	if len(timeS) == 0 {
		return fmt.Errorf("no case to draw")
	}
	// With one point per ratio (a quick run), draw one line per program.
	byRatio := false
	for _, pts := range timeS {
		byRatio = byRatio || len(pts) > 1
	}
	if !byRatio {
		merge := func(m map[key][]point) map[key][]point {
			out := map[key][]point{}
			for k, pts := range m {
				out[key{prog: k.prog, ratio: -1}] = append(out[key{prog: k.prog, ratio: -1}], pts...)
			}
			return out
		}
		timeS, callS = merge(timeS), merge(callS)
		var all []point
		for _, pts := range floorS {
			all = append(all, pts...)
		}
		floorS = map[float64][]point{-1: all}
	}
	var sizes []plot.Tick
	var top = map[*plot.Plot]float64{}
	for _, pts := range timeS {
		for _, q := range pts {
			if !slices.ContainsFunc(sizes, func(t plot.Tick) bool { return t.Value == q.x }) {
				sizes = append(sizes, plot.Tick{Value: q.x, Label: size(int(q.x))})
			}
		}
	}
	label := func(r float64) string {
		if r < 0 {
			return ""
		}
		return ", " + pct(r) + " failed"
	}
	var keys []key
	for k := range timeS {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].prog != keys[j].prog {
			return keys[i].prog > keys[j].prog // script first
		}
		return keys[i].ratio < keys[j].ratio
	})
	shades := map[string][]color.RGBA{
		progScript: {{R: 0xf4, G: 0xa5, B: 0x82, A: 0xff}, {R: 0xd6, G: 0x60, B: 0x4d, A: 0xff}, {R: 0x99, G: 0x1b, B: 0x1b, A: 0xff}},
		progTool:   {{R: 0x92, G: 0xc5, B: 0xde, A: 0xff}, {R: 0x43, G: 0x93, B: 0xc3, A: 0xff}, {R: 0x1a, G: 0x3d, B: 0x8f, A: 0xff}},
	}
	ratioIndex := func(r float64) int {
		switch {
		case r < 0.05:
			return 0
		case r < 0.3:
			return 1
		}
		return 2
	}
	newPlot := func(title, ylabel string) *plot.Plot {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "attempts in the window"
		p.Y.Label.Text = ylabel
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(sizes), plot.LogTicks{Prec: -1}
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		return p
	}
	pt := newPlot("Wall time ("+which+")", "seconds")
	pc := newPlot("API calls ("+which+")", "requests")
	add := func(p *plot.Plot, k key, pts []point, label string) error {
		sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
		xys := make(plotter.XYs, len(pts))
		var solid, open plotter.XYs
		for i, q := range pts {
			xys[i].X, xys[i].Y = q.x, max(q.y, 1e-3)
			top[p] = max(top[p], xys[i].Y)
			if q.extra {
				open = append(open, xys[i])
			} else {
				solid = append(solid, xys[i])
			}
		}
		c := shades[k.prog][1]
		if k.ratio >= 0 {
			c = shades[k.prog][ratioIndex(k.ratio)]
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		line.Color, line.Width = c, vg.Points(1.5)
		if k.prog == progTool {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(2)}
		}
		p.Add(line)
		p.Legend.Add(label, line)
		for _, set := range []struct {
			xy    plotter.XYs
			glyph draw.GlyphDrawer
		}{{solid, draw.CircleGlyph{}}, {open, draw.RingGlyph{}}} {
			if len(set.xy) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(set.xy)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: set.glyph}
			p.Add(sc)
		}
		return nil
	}
	for _, k := range keys {
		if err := add(pt, k, timeS[k], k.prog+label(k.ratio)); err != nil {
			return err
		}
		if err := add(pc, k, callS[k], k.prog+label(k.ratio)); err != nil {
			return err
		}
	}
	var ratios []float64
	for r := range floorS {
		ratios = append(ratios, r)
	}
	sort.Float64s(ratios)
	for _, r := range ratios {
		pts := floorS[r]
		sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
		xys := make(plotter.XYs, len(pts))
		for i, q := range pts {
			xys[i].X, xys[i].Y = q.x, q.y
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		line.Color = color.Gray{Y: 0x70}
		line.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		pc.Add(line)
		pc.Legend.Add("floor"+label(r), line)
	}
	// Room above the data for the legend (log axes: a factor).
	for _, p := range []*plot.Plot{pt, pc} {
		p.Y.Max = top[p] * 40
	}

	w, h := vg.Points(900), vg.Points(400)
	var cv interface {
		vg.CanvasSizer
		io.WriterTo
	}
	if strings.HasSuffix(path, ".png") {
		cv = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
	} else {
		cv = vgsvg.New(w, h)
	}
	dc := draw.New(cv)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{pt, pc}}, tiles, dc)
	pt.Draw(canvases[0][0])
	pc.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := cv.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
