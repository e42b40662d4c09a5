package statuspage

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/redeliver/redeliver"
)

// chartSeries are the bars' layers, bottom up, with their colours and the
// states each holds.
var chartSeries = []struct {
	label  string
	class  string
	states []redeliver.State
}{
	{"recovered", "c-rec", []redeliver.State{redeliver.StateRecovered}},
	{"still failing", "c-open", []redeliver.State{redeliver.StateFailed, redeliver.StatePending}},
	{"given up", "c-lost", []redeliver.State{redeliver.StateExhausted, redeliver.StateExpired}},
}

// Chart counts a target's failed events over the span before now, one
// bucket of first delivery time at a time, stacked by where each event
// stands now; HTML draws it. Events are added one by one, so a ledger is
// never held whole for it.
type Chart struct {
	now, start   time.Time
	span, bucket time.Duration
	counts       [][3]int
}

// NewChart is an empty chart of span before now, in buckets.
func NewChart(now time.Time, span, bucket time.Duration) *Chart {
	n := max(int(span/bucket), 1)
	return &Chart{now: now, start: now.Add(-time.Duration(n) * bucket), span: span, bucket: bucket, counts: make([][3]int, n)}
}

// Add counts one event.
func (c *Chart) Add(e Event) {
	if e.FirstSeen.Before(c.start) || !e.FirstSeen.Before(c.now) {
		return
	}
	i := int(e.FirstSeen.Sub(c.start) / c.bucket)
	for s, series := range chartSeries {
		for _, st := range series.states {
			if e.State == st {
				c.counts[i][s]++
			}
		}
	}
}

// HTML draws the chart as an SVG bar chart. It is markup only (no script,
// no style attribute), so the page's Content-Security-Policy holds.
func (c *Chart) HTML() template.HTML {
	const w, h, left, bottom, top = 720.0, 180.0, 36.0, 22.0, 8.0
	now, start, span, bucket, counts := c.now, c.start, c.span, c.bucket, c.counts
	n := len(counts)
	peak := 0
	for _, c := range counts {
		peak = max(peak, c[0]+c[1]+c[2])
	}
	scale := niceCeil(peak)
	plotW, plotH := w-left-4, h-bottom-top
	bw := plotW / float64(n)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">Failed events by first delivery, last %s, per %s</title>`, span, bucket)
	// Grid and y labels.
	for _, f := range []float64{0, 0.5, 1} {
		y := top + plotH*(1-f)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, left, w-4, y, y)
		fmt.Fprintf(&b, `<text class="axis" x="%g" y="%.1f" text-anchor="end">%g</text>`, left-4, y+4, f*float64(scale))
	}
	for i, c := range counts {
		x := left + float64(i)*bw
		y := top + plotH
		for s, v := range c {
			if v == 0 {
				continue
			}
			bh := plotH * float64(v) / float64(scale)
			y -= bh
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d %s</title></rect>`,
				chartSeries[s].class, x+0.5, y, max(bw-1, 0.5), bh,
				start.Add(time.Duration(i)*bucket).UTC().Format("Jan 2 15:04"), v, chartSeries[s].label)
		}
	}
	// X labels: about six along the axis.
	every := max(n/6, 1)
	for i := 0; i <= n; i += every {
		t := start.Add(time.Duration(i) * bucket)
		ago := now.Sub(t).Round(time.Hour)
		label := "now"
		if ago > 0 {
			label = "-" + strings.TrimSuffix(ago.String(), "0m0s")
		}
		anchor := "middle"
		if i+every > n { // the last label: keep it inside the picture
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%g" text-anchor="%s">%s</text>`, left+float64(i)*bw, h-6, anchor, template.HTMLEscapeString(label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds a peak up to 1, 2 or 5 times a power of ten (at least 2).
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= max(v, 2) {
				return m * p
			}
		}
	}
}
