package main

// `lab hpa`: what `make k8s-lab` prints. It lines up the k6 run's windows (k6/hpa.js: req/s, p95,
// failures per window) with the replica counts the lab sampled from the cluster meanwhile, judges
// the autoscaler (up to the target within the time allowed once the surge began; the first Pod
// removed only after the stabilization window; back at the floor before the run ended), and
// draws the timeline.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// hpaRun is flashcrowd.derived of an hpa summary (k6/hpa.js).
type hpaRun struct {
	SpikeRate float64 `json:"spike_rate"`
	BaseRate  float64 `json:"base_rate"`
	WindowS   float64 `json:"window_s"`
	PhasesS   struct {
		Idle, Rise, Hold, Fall, After float64
	} `json:"phases_s"`
	StartedUnixMs float64     `json:"started_unix_ms"`
	Windows       []hpaWindow `json:"windows"`
}

type hpaWindow struct {
	StartS   float64 `json:"start_s"`
	Reqs     float64 `json:"reqs"`
	FailRate float64 `json:"failRate"`
	P95      float64 `json:"p95"`
}

// replicaSample is one line the lab's sampler wrote: when (Unix ms), the catalog Deployment's
// ready Pods, the catalog autoscaler's desired count and its CPU reading (% of the Pods' request,
// "-" while it has none), and the gateway's and orders' ready Pods.
type replicaSample struct {
	at               float64 // seconds since the k6 run began
	catalog, desired int
	cpu              float64
	gateway, orders  int
}

// hpaRules is what the run is judged against: the autoscaler's own settings (its floor, CPU
// target and scale-down window, which the lab reads from the cluster) and what the surge must do.
type hpaRules struct {
	floor, reach         int
	within, hold, slack  time.Duration
	cpuTarget, maxFailed float64
}

// hpaVerdict is what the run showed of the autoscaler, in seconds since the run began or since a
// moment that matters (NaN when it never happened).
type hpaVerdict struct {
	spikeStart, loadEnd float64
	peak                int
	reachedAfter        float64 // the target count reached, after the surge began
	lastHigh            float64 // the last sample whose CPU reading was at or above the target
	firstDrop           float64 // the first sample whose desired count fell from its highest so far
	backAt              float64 // ready Pods back at the floor
	failed, reqs        float64
	failedInLull        float64 // failure rate from the load's fall to the end
}

func hpaCommand(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("lab hpa", flag.ContinueOnError)
	summaryPath := fs.String("summary", "", "the hpa run's k6 summary (k6/hpa.js)")
	samplesPath := fs.String("samples", "", "the replica samples taken during the run")
	var r hpaRules
	fs.IntVar(&r.floor, "min", 3, "the catalog autoscaler's minReplicas")
	fs.Float64Var(&r.cpuTarget, "cpu-target", 60, "the catalog autoscaler's CPU target, % of the Pods' request")
	fs.DurationVar(&r.hold, "hold", 300*time.Second, "the catalog autoscaler's scale-down stabilization window")
	fs.IntVar(&r.reach, "reach", 5, "the Pod count the surge must bring the catalog to")
	fs.DurationVar(&r.within, "within", 3*time.Minute, "how soon after the surge began")
	fs.DurationVar(&r.slack, "slack", 20*time.Second, "how early the first scale-down may seem: the autoscaler reads the CPU every 15 s, the lab samples every 5 s")
	fs.Float64Var(&r.maxFailed, "max-failed", 0.01, "the share of failed requests allowed")
	out := fs.String("out", "", "also write the report to this Markdown file")
	chartOut := fs.String("chart", "", "write the timeline to this SVG file (and link it from -out)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *summaryPath == "" || *samplesPath == "" {
		return errors.New("need -summary and -samples")
	}
	if r.reach <= r.floor {
		return fmt.Errorf("-reach (%d) must be above -min (%d): nothing would be judged", r.reach, r.floor)
	}
	run, err := readHPARun(*summaryPath)
	if err != nil {
		return err
	}
	samples, err := readReplicaSamples(*samplesPath, run.StartedUnixMs)
	if err != nil {
		return err
	}
	v := judge(run, samples, r)
	report, problems := renderHPA(run, samples, v, r)
	var chartErr error
	if *chartOut != "" {
		chartErr = os.WriteFile(*chartOut, []byte(hpaChart(run, samples, v, r.hold)), 0o644)
		if chartErr == nil && *out != "" {
			report += chartLink(*out, *chartOut, "Requests per second and p95 as k6 measured them, and the ready Pods as the lab sampled them:",
				"req/s, p95 and ready Pods over the run")
		}
	}
	fmt.Fprint(w, report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return chartErr
}

func readHPARun(path string) (hpaRun, error) {
	var s struct {
		Flashcrowd struct {
			Derived *hpaRun `json:"derived"`
		} `json:"flashcrowd"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return hpaRun{}, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return hpaRun{}, fmt.Errorf("%s: %w", path, err)
	}
	r := s.Flashcrowd.Derived
	if r == nil || r.WindowS <= 0 || r.StartedUnixMs == 0 || len(r.Windows) == 0 {
		return hpaRun{}, fmt.Errorf("%s: not a summary of k6/hpa.js (no windows or start time)", path)
	}
	return *r, nil
}

func readReplicaSamples(path string, startedUnixMs float64) ([]replicaSample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []replicaSample
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 6 {
			return nil, fmt.Errorf("%s:%d: want 6 fields (unix_ms catalog desired cpu gateway orders), got %d", path, n, len(fields))
		}
		var v [6]int64
		for i, field := range fields {
			if i == 3 {
				continue // the CPU reading, below
			}
			if v[i], err = strconv.ParseInt(field, 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: field %d: %w", path, n, i+1, err)
			}
		}
		s := replicaSample{at: (float64(v[0]) - startedUnixMs) / 1000, catalog: int(v[1]), desired: int(v[2]),
			gateway: int(v[4]), orders: int(v[5]), cpu: math.NaN()}
		if fields[3] != "-" {
			if s.cpu, err = strconv.ParseFloat(fields[3], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: cpu: %w", path, n, err)
			}
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	return out, nil
}

func judge(run hpaRun, samples []replicaSample, r hpaRules) hpaVerdict {
	p := run.PhasesS
	nan := math.NaN()
	v := hpaVerdict{spikeStart: p.Idle, loadEnd: p.Idle + p.Rise + p.Hold + p.Fall,
		reachedAfter: nan, lastHigh: nan, firstDrop: nan, backAt: nan, failedInLull: nan}
	for _, s := range samples {
		v.peak = max(v.peak, s.catalog)
		if math.IsNaN(v.reachedAfter) && s.at >= v.spikeStart && s.catalog >= r.reach {
			v.reachedAfter = s.at - v.spikeStart
		}
		if s.at >= v.spikeStart && s.cpu >= r.cpuTarget { // false for NaN: no reading
			v.lastHigh = s.at
		}
	}
	// The window runs from the autoscaler's last recommendation above the floor's count, which it
	// made from its last high CPU reading; the desired count falling from its highest so far is
	// its decision to scale down (ready Pods still arriving after the load fell are not).
	highest := 0
	for _, s := range samples {
		if s.at < v.spikeStart {
			continue
		}
		if math.IsNaN(v.firstDrop) && !math.IsNaN(v.lastHigh) && s.at > v.lastHigh && s.desired < highest {
			v.firstDrop = s.at
		}
		highest = max(highest, s.desired)
		if !math.IsNaN(v.firstDrop) && math.IsNaN(v.backAt) && s.catalog <= r.floor {
			v.backAt = s.at
		}
	}
	var lullFailed, lullReqs float64
	for _, wd := range run.Windows {
		v.reqs += wd.Reqs
		v.failed += wd.Reqs * wd.FailRate
		if wd.StartS >= v.loadEnd {
			lullReqs += wd.Reqs
			lullFailed += wd.Reqs * wd.FailRate
		}
	}
	if lullReqs > 0 {
		v.failedInLull = lullFailed / lullReqs
	}
	return v
}

// renderHPA is the report: the verdicts, then one row per k6 window with the replica counts last
// sampled in it. problems lists the verdicts that failed.
func renderHPA(run hpaRun, samples []replicaSample, v hpaVerdict, r hpaRules) (string, []string) {
	var b strings.Builder
	var problems []string
	secs := func(f float64) string { return fmt.Sprintf("%.0f s", f) }
	fmt.Fprintf(&b, "## The catalog autoscaler under a surge (%.0f → %.0f req/s for %.0f s, then %.0f req/s)\n\n",
		run.BaseRate, run.SpikeRate, run.PhasesS.Rise+run.PhasesS.Hold, run.BaseRate)
	if math.IsNaN(v.reachedAfter) {
		problems = append(problems, fmt.Sprintf("the catalog never reached %d Pods (at most %d)", r.reach, v.peak))
		fmt.Fprintf(&b, "- Scale-up: **never reached %d Pods** (at most %d).\n", r.reach, v.peak)
	} else {
		ok := v.reachedAfter <= r.within.Seconds()
		if !ok {
			problems = append(problems, fmt.Sprintf("%d Pods only %s after the surge began (allowed: %s)", r.reach, secs(v.reachedAfter), secs(r.within.Seconds())))
		}
		fmt.Fprintf(&b, "- Scale-up: %d → %d Pods %s after the surge began (allowed: %s): %s; at most %d.\n",
			r.floor, r.reach, secs(v.reachedAfter), secs(r.within.Seconds()), verdict(ok), v.peak)
	}
	switch {
	case v.peak <= r.floor:
		// Nothing to scale down; the scale-up verdict failed.
	case math.IsNaN(v.firstDrop):
		problems = append(problems, "the autoscaler removed no Pod before the run ended")
		fmt.Fprintf(&b, "- Scale-down: **no Pod removed** by the end of the run.\n")
	default:
		after := v.firstDrop - v.lastHigh
		ok := after >= (r.hold - r.slack).Seconds()
		if !ok {
			problems = append(problems, fmt.Sprintf("the first Pod went %s after the last CPU reading above %.0f %%, inside the %s window",
				secs(after), r.cpuTarget, secs(r.hold.Seconds())))
		}
		fmt.Fprintf(&b, "- Scale-down: the first Pod removed %s after the last CPU reading above the target (%.0f %%), %s after the load fell back; stabilization window %s (seen to within %s): %s.\n",
			secs(after), r.cpuTarget, secs(v.firstDrop-v.loadEnd), secs(r.hold.Seconds()), secs(r.slack.Seconds()), verdict(ok))
		if math.IsNaN(v.backAt) {
			problems = append(problems, fmt.Sprintf("not back at %d Pods when the run ended", r.floor))
			fmt.Fprintf(&b, "- Back at %d Pods: **not by the end of the run**.\n", r.floor)
		} else {
			fmt.Fprintf(&b, "- Back at %d Pods %s after the load fell back.\n", r.floor, secs(v.backAt-v.loadEnd))
		}
	}
	failRate := 0.0
	if v.reqs > 0 {
		failRate = v.failed / v.reqs
	}
	ok := v.reqs > 0 && failRate <= r.maxFailed
	if !ok {
		problems = append(problems, fmt.Sprintf("%.2f %% of %.0f requests failed (allowed: %.2f %%)", 100*failRate, v.reqs, 100*r.maxFailed))
	}
	fmt.Fprintf(&b, "- Failed requests: %.2f %% (%.0f of %.0f; allowed: %.2f %%): %s", 100*failRate, v.failed, v.reqs, 100*r.maxFailed, verdict(ok))
	if !math.IsNaN(v.failedInLull) {
		fmt.Fprintf(&b, "; in the lull after the surge, through the scale-down: %.2f %%", 100*v.failedInLull)
	}
	b.WriteString(".\n\n")

	b.WriteString("| window | phase | req/s | p95 | failed | catalog Pods (desired) | catalog CPU / request | gateway | orders |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, wd := range run.Windows {
		s, ok := lastSample(samples, wd.StartS, wd.StartS+run.WindowS)
		pods, cpu, gw, ord := "–", "–", "–", "–"
		if ok {
			pods = fmt.Sprintf("%d (%d)", s.catalog, s.desired)
			if !math.IsNaN(s.cpu) {
				cpu = fmt.Sprintf("%.0f %%", s.cpu)
			}
			gw, ord = strconv.Itoa(s.gateway), strconv.Itoa(s.orders)
		}
		fmt.Fprintf(&b, "| +%.0f s | %s | %.1f | %s | %.2f %% | %s | %s | %s | %s |\n",
			wd.StartS, phaseAt(run, v, wd.StartS), wd.Reqs/run.WindowS, msLabel(wd.P95), 100*wd.FailRate, pods, cpu, gw, ord)
	}
	return b.String(), problems
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// phaseAt names the part of the run a window starts in.
func phaseAt(run hpaRun, v hpaVerdict, t float64) string {
	switch {
	case t < v.spikeStart:
		return "quiet"
	case t < v.spikeStart+run.PhasesS.Rise:
		return "rise"
	case t < v.loadEnd-run.PhasesS.Fall:
		return "surge"
	case t < v.loadEnd:
		return "fall"
	}
	return "lull"
}

// lastSample is the last sample taken in [from, to).
func lastSample(samples []replicaSample, from, to float64) (replicaSample, bool) {
	var last replicaSample
	found := false
	for _, s := range samples {
		if s.at >= from && s.at < to {
			last, found = s, true
		}
	}
	return last, found
}

// The timeline's layout: three panels sharing the x axis (seconds since the run began).
const (
	hpaChartH                     = 920
	hpaRPSBot, hpaP95Bot, hpaPods = 310, 580, 850
)

// Pods in three colours: the catalog (the one judged) strongest.
var podColours = map[string]string{"catalog": "#1b9e77", "gateway": "#7570b3", "orders": "#d95f02"}

func hpaChart(run hpaRun, samples []replicaSample, v hpaVerdict, hold time.Duration) string {
	total := 0.0
	for _, wd := range run.Windows {
		total = max(total, wd.StartS+run.WindowS)
	}
	for _, s := range samples {
		total = max(total, s.at)
	}
	ticks := niceTicks(total)
	top := ticks[len(ticks)-1]
	x := func(t float64) float64 { return plotL + (plotR-plotL)*max(0, t)/top }

	hiRPS, lo95, hi95, hiPods := 0.0, math.Inf(1), math.Inf(-1), 0
	for _, wd := range run.Windows {
		hiRPS = max(hiRPS, wd.Reqs/run.WindowS)
		if wd.P95 > 0 {
			lo95, hi95 = min(lo95, wd.P95), max(hi95, wd.P95)
		}
	}
	if math.IsInf(lo95, 1) {
		lo95, hi95 = 1, 1000
	}
	for _, s := range samples {
		hiPods = max(hiPods, s.catalog, s.desired, s.gateway, s.orders)
	}
	rpsTicks := niceTicks(hiRPS)
	yRPS := func(r float64) float64 { return hpaRPSBot - panelH*r/rpsTicks[len(rpsTicks)-1] }
	decades := logTicks(lo95, hi95)
	l0, l1 := math.Log10(decades[0]), math.Log10(decades[len(decades)-1])
	yP95 := func(p float64) float64 { return hpaP95Bot - panelH*(math.Log10(p)-l0)/(l1-l0) }
	podTop := float64(hiPods + 1)
	yPods := func(n float64) float64 { return hpaPods - panelH*n/podTop }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, hpaChartH, chartW, hpaChartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, hpaChartH)
	text(&b, chartW/2, 28, `text-anchor="middle" font-size="18" font-weight="bold"`, "A surge on the kind cluster: the autoscalers at work")
	text(&b, chartW/2, 48, `text-anchor="middle" fill="#555"`,
		fmt.Sprintf("Shaded: the surge (%.0f req/s offered); dashed: %.0f s after the last high CPU reading; hollow: a window with failures", run.SpikeRate, hold.Seconds()))
	for _, bot := range []float64{hpaRPSBot, hpaP95Bot, hpaPods} {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="#f3f3f3"/>`+"\n", x(v.spikeStart), bot-panelH, x(v.loadEnd)-x(v.spikeStart), panelH)
		if end := v.lastHigh + hold.Seconds(); end <= top { // false for NaN: no high reading
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 4"/>`+"\n", x(end), bot-panelH, x(end), bot)
		}
	}

	text(&b, plotL, hpaRPSBot-panelH-10, `font-weight="bold"`, "Requests per second (k6, per window)")
	for _, r := range rpsTicks {
		grid(&b, yRPS(r), num(r), "ytick")
	}
	axes(&b, hpaRPSBot, ticks, x)
	yTitle(&b, hpaRPSBot-panelH/2, "req/s")

	text(&b, plotL, hpaP95Bot-panelH-10, `font-weight="bold"`, "p95 latency (log scale)")
	for _, p := range decades {
		grid(&b, yP95(p), msLabel(p), "ytick")
	}
	axes(&b, hpaP95Bot, ticks, x)
	yTitle(&b, hpaP95Bot-panelH/2, "p95")

	text(&b, plotL, hpaPods-panelH-10, `font-weight="bold"`, "Ready Pods (catalog, gateway, orders); catalog's desired count dotted")
	for n := 0; n <= int(podTop); n++ {
		grid(&b, yPods(float64(n)), strconv.Itoa(n), "ytick")
	}
	axes(&b, hpaPods, ticks, x)
	yTitle(&b, hpaPods-panelH/2, "Pods")
	text(&b, (plotL+plotR)/2, hpaPods+40, `text-anchor="middle"`, "Seconds since the run began")

	var rps, p95 []point
	for _, wd := range run.Windows {
		mid := wd.StartS + run.WindowS/2
		at := fmt.Sprintf("+%.0f s: ", wd.StartS)
		rps = append(rps, point{x(mid), yRPS(wd.Reqs / run.WindowS), wd.FailRate == 0, at + num(wd.Reqs/run.WindowS) + " req/s"})
		if wd.P95 > 0 {
			p95 = append(p95, point{x(mid), yP95(wd.P95), wd.FailRate == 0, at + "p95 " + msLabel(wd.P95)})
		}
	}
	line(&b, "req/s", "#333", rps)
	line(&b, "p95", "#333", p95)
	for _, name := range []string{"orders", "gateway", "catalog"} {
		steps(&b, name, podColours[name], "", samples, x, yPods, func(s replicaSample) int {
			switch name {
			case "gateway":
				return s.gateway
			case "orders":
				return s.orders
			}
			return s.catalog
		})
	}
	steps(&b, "catalog desired", podColours["catalog"], ` stroke-dasharray="2 3"`, samples, x, yPods, func(s replicaSample) int { return s.desired })
	left := float64(plotL)
	for _, name := range []string{"catalog", "gateway", "orders"} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="68" x2="%.1f" y2="68" stroke="%s" stroke-width="2"/>`+"\n", left, left+24, podColours[name])
		text(&b, left+30, 72, "", name+" Pods")
		left += 30 + 7*float64(len(name)+5) + 24
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// steps draws a count over time as a step line: it holds each sampled value until the next sample.
func steps(b *strings.Builder, name, colour, extra string, samples []replicaSample, x, y func(float64) float64, of func(replicaSample) int) {
	if len(samples) == 0 {
		return
	}
	var pts []string
	for i, s := range samples {
		if i > 0 {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.at), y(float64(of(samples[i-1])))))
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.at), y(float64(of(s)))))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s><title>%s</title></polyline>`+"\n",
		strings.Join(pts, " "), colour, extra, esc(name))
}
