package main

// The chart beside the table: for each mode, the requests per second k6 achieved and the p95 it
// measured at each step of the breakpoint staircase. The figures are the per-step rows the
// breakpoint summary already carries (flashcrowd.derived.steps, see k6/breakpoint.js), so the
// chart shows the same judged seconds the max sustainable RPS was decided on. Plain SVG written
// with the standard library: one file that any browser, and GitHub, shows.

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// breakpointRun is the part of a breakpoint summary's flashcrowd.derived that the lab reads.
type breakpointRun struct {
	MaxSustainableRPS *float64 `json:"max_sustainable_rps"`
	Broke             bool     `json:"broke"`
	BrokeAtRPS        *float64 `json:"broke_at_rps"`
	SLO               struct {
		P95      float64 `json:"p95"`
		FailRate float64 `json:"failRate"`
	} `json:"slo"`
	Staircase struct {
		StepS   float64 `json:"step_s"`
		SettleS float64 `json:"settle_s"`
	} `json:"staircase"`
	Steps []step `json:"steps"`
}

// step is one step of the staircase, measured over its judged seconds. P50 and P95 are nil when
// the step sent no requests (k6 writes NaN, which JSON turns into null).
type step struct {
	Rate        float64  `json:"rate"`
	AchievedRPS float64  `json:"achieved_rps"`
	P50         *float64 `json:"p50"`
	P95         *float64 `json:"p95"`
	FailRate    float64  `json:"failRate"`
	InTime      bool     `json:"in_time"` // p95, p99 and failures within the service level
	Sustained   bool     `json:"sustained"`
}

// The layout, in pixels: two panels of the same size, one above the other, sharing the x axis
// (the step's rate).
const (
	chartW, chartH = 760, 660
	plotL, plotR   = 80, 730
	panelH         = 210
	rpsBot, p95Bot = 320, 592
	rpsTop, p95Top = rpsBot - panelH, p95Bot - panelH
)

// The baseline in orange, full in teal: a pair that colour-blind readers tell apart too.
var modeColours = [2]string{"#d95f02", "#1b9e77"}

// chart draws both modes' staircases. It fails when a mode has no steps: its breakpoint summary
// is then not one k6/breakpoint.js wrote, and an empty line would look like a result.
func chart(modes [2]string, runs [2]breakpointRun) (string, error) {
	hi := 0.0
	lo95, hi95 := math.Inf(1), math.Inf(-1)
	for i, r := range runs {
		if len(r.Steps) == 0 {
			return "", fmt.Errorf("%s: the breakpoint summary has no steps (flashcrowd.derived.steps)", modes[i])
		}
		for _, s := range r.Steps {
			hi = max(hi, s.Rate, s.AchievedRPS)
			if p, ok := p95Of(s); ok {
				lo95, hi95 = min(lo95, p), max(hi95, p)
			}
		}
	}
	slo := runs[0].SLO.P95
	if slo > 0 {
		lo95, hi95 = min(lo95, slo), max(hi95, slo)
	}
	if math.IsInf(lo95, 1) { // no step sent a request: any range will do for empty axes
		lo95, hi95 = 1, 1000
	}

	// One scale for the x axis and the RPS axis, so the "offered" diagonal runs corner to corner.
	ticks := niceTicks(hi)
	top := ticks[len(ticks)-1]
	x := func(v float64) float64 { return plotL + (plotR-plotL)*v/top }
	yRPS := func(v float64) float64 { return rpsBot - panelH*v/top }
	// p95 on a log scale: below the limit it is tens of milliseconds, past it seconds.
	decades := logTicks(lo95, hi95)
	l0, l1 := math.Log10(decades[0]), math.Log10(decades[len(decades)-1])
	yP95 := func(v float64) float64 { return p95Bot - panelH*(math.Log10(v)-l0)/(l1-l0) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	text(&b, chartW/2, 28, `text-anchor="middle" font-size="18" font-weight="bold"`, "Breakpoint staircase: "+modes[0]+" vs "+modes[1])
	over := "as k6 measured it"
	if st := runs[0].Staircase; st.StepS > 0 {
		over += fmt.Sprintf(" over the last %s s of each %s s step", num(st.StepS-st.SettleS), num(st.StepS))
	}
	text(&b, chartW/2, 48, `text-anchor="middle" fill="#555"`, "Per step, "+over+"; hollow: the step missed the SLO")
	legend(&b, modes)

	// Panel 1: requests per second achieved, against the rate offered.
	text(&b, plotL, rpsTop-10, `font-weight="bold"`, "Requests per second achieved")
	for _, v := range ticks {
		grid(&b, yRPS(v), num(v), "ytick")
	}
	axes(&b, rpsBot, ticks, x)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 4"><title>offered rate</title></line>`+"\n",
		x(0), yRPS(0), x(top), yRPS(top))
	text(&b, x(0.85*top)-6, yRPS(0.85*top)-6, `text-anchor="end" fill="#777"`, "achieved = offered")
	yTitle(&b, (rpsTop+rpsBot)/2, "req/s")

	// Panel 2: p95 latency, with the SLO it was judged against.
	text(&b, plotL, p95Top-10, `font-weight="bold"`, "p95 latency (log scale)")
	for _, v := range decades {
		grid(&b, yP95(v), msLabel(v), "ytick")
	}
	axes(&b, p95Bot, ticks, x)
	if slo > 0 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999" stroke-dasharray="4 4"/>`+"\n", plotL, yP95(slo), plotR, yP95(slo))
		text(&b, plotR-4, yP95(slo)-5, `text-anchor="end" fill="#777"`, "SLO p95 "+msLabel(slo))
	}
	yTitle(&b, (p95Top+p95Bot)/2, "p95")
	text(&b, (plotL+plotR)/2, p95Bot+40, `text-anchor="middle"`, "Step of the staircase: rate offered (req/s)")

	for i, r := range runs {
		var rps, p95 []point
		for _, s := range r.Steps {
			at := fmt.Sprintf("%s, %s/s step: ", modes[i], num(s.Rate))
			rps = append(rps, point{x(s.Rate), yRPS(s.AchievedRPS), s.Sustained, at + num(s.AchievedRPS) + " req/s achieved"})
			if p, ok := p95Of(s); ok {
				p95 = append(p95, point{x(s.Rate), yP95(p), s.Sustained, at + "p95 " + msLabel(p)})
			}
		}
		line(&b, modes[i]+" req/s", modeColours[i], rps)
		line(&b, modes[i]+" p95", modeColours[i], p95)
	}
	b.WriteString("</svg>\n")
	return b.String(), nil
}

// p95Of is a step's p95 in ms, when there is one a log scale can show.
func p95Of(s step) (float64, bool) {
	if s.P95 == nil || *s.P95 <= 0 || math.IsNaN(*s.P95) {
		return 0, false
	}
	return *s.P95, true
}

type point struct {
	x, y   float64
	filled bool
	title  string
}

// line is one mode's series: a polyline through its points, and a marker on each with its
// figures as a tooltip.
func line(b *strings.Builder, name, colour string, pts []point) {
	fmt.Fprintf(b, `<g><title>%s</title>`+"\n", esc(name))
	if len(pts) > 1 {
		coords := make([]string, len(pts))
		for i, p := range pts {
			coords[i] = fmt.Sprintf("%.1f,%.1f", p.x, p.y)
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(coords, " "), colour)
	}
	for _, p := range pts {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" %s><title>%s</title></circle>`+"\n", p.x, p.y, marker(colour, p.filled), esc(p.title))
	}
	b.WriteString("</g>\n")
}

// marker is a filled disc for a step that held the SLO, a ring for one that missed it.
func marker(colour string, filled bool) string {
	if filled {
		return fmt.Sprintf(`fill="%s" stroke="%s" stroke-width="2"`, colour, colour)
	}
	return fmt.Sprintf(`fill="white" stroke="%s" stroke-width="2"`, colour)
}

func legend(b *strings.Builder, modes [2]string) {
	left := float64(plotL)
	for i, m := range modes {
		fmt.Fprintf(b, `<line x1="%.1f" y1="72" x2="%.1f" y2="72" stroke="%s" stroke-width="2"/>`, left, left+24, modeColours[i])
		fmt.Fprintf(b, `<circle cx="%.1f" cy="72" r="4" %s/>`+"\n", left+12, marker(modeColours[i], true))
		text(b, left+30, 76, "", m)
		// 7 px a character is about what a 12 px sans-serif needs.
		left += 30 + 7*float64(len(m)) + 24
	}
}

// grid is a horizontal grid line with its value at the left, at pixel height y.
func grid(b *strings.Builder, y float64, label, class string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", plotL, y, plotR, y)
	text(b, plotL-6, y, `text-anchor="end" dominant-baseline="middle" class="`+class+`"`, label)
}

// axes are the axis lines of the panel whose bottom is at y, with a tick and a label per step
// value along the bottom.
func axes(b *strings.Builder, y float64, ticks []float64, x func(float64) float64) {
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", plotL, y, plotR, y)
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#333"/>`+"\n", plotL, y, plotL, y-panelH)
	for _, v := range ticks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", x(v), y, x(v), y+5)
		text(b, x(v), y+18, `text-anchor="middle" class="xtick"`, num(v))
	}
}

// yTitle is a panel's y-axis title, turned to run up the left edge.
func yTitle(b *strings.Builder, y float64, label string) {
	text(b, 24, y, fmt.Sprintf(`text-anchor="middle" transform="rotate(-90 24 %.1f)"`, y), label)
}

func text(b *strings.Builder, x, y float64, attrs, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" %s>%s</text>`+"\n", x, y, attrs, esc(s))
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder cannot fail
	return b.String()
}

// niceTicks splits [0, hi] into about five steps of 1, 2 or 5 times a power of ten; the last
// tick is at or above hi.
func niceTicks(hi float64) []float64 {
	if !(hi > 0) {
		hi = 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(hi/5)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= hi/5 {
			step = m * mag
			break
		}
	}
	ticks := []float64{0}
	for i := 1; ticks[len(ticks)-1] < hi; i++ {
		ticks = append(ticks, float64(i)*step)
	}
	return ticks
}

// logTicks is the powers of ten from the one at or below lo to the one at or above hi, at least
// two of them.
func logTicks(lo, hi float64) []float64 {
	a, z := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if z <= a {
		z = a + 1
	}
	var ticks []float64
	for e := a; e <= z; e++ {
		ticks = append(ticks, math.Pow(10, e))
	}
	return ticks
}

// msLabel writes milliseconds as people read them: "40 ms", "1 s", "2.5 s".
func msLabel(v float64) string {
	if v >= 1000 {
		return num(v/1000) + " s"
	}
	return num(v) + " ms"
}

// num is v with at most one decimal, and none when it is whole.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}
