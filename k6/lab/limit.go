package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// A mode's limit comes from three k6 runs of k6/breakpoint.js: a coarse staircase finds the
// range, a fine one the highest step held over its judged 7 s, and holds confirm it: that
// step's rate for 28 s, judged over the last 24, up to maxHolds times. Near its limit a server
// whose slow requests queue (naive's search on a 10-connection pool) can pass an 8 s step by
// luck and fail the minute that follows; a rate held three times as long is what "sustainable"
// means here. After a failed hold the next one runs one fine step (×1/1.06) below what the
// failed one achieved: past its limit a server answers about as many requests a second as it
// can, so that is where to look (in one run naive held 616/s for 8 s, then served 520, 452, 454
// and 383/s in holds one fine step apart from 616/s down). Two fine steps below when its p95
// was over twice the limit: a queue that grew that far shows a rate well past what holds, and
// one step at a time from there used up the holds (naive, in one run: 616, 532, 502 and 474/s
// failed, 449/s had held in the run before). At what it achieved when it answered within the
// service level and failed only because k6 sent too little: it served that rate in time (the
// ceiling, in two runs, sent 93 and 95 % of 3,970/s at a p95 under 110 ms, and a fine step
// below what it achieved put its figure 15 % under the third run's). k6/lab.sh passes the runs
// as one spec: the fine staircase's summary, then each hold's, joined by "+". A hold that failed
// while most of its answers came in time (p50 under the p95 limit: a burst of slow ones, not a
// queue) runs once more at the same rate before the holds step down: near its limit naive meets
// such a burst in one half-minute and not the next (at 480/s, six holds of seven held at a p95
// of 18 to 61 ms, the seventh failed at 643 ms with a p50 of 31 ms), and the first rate that
// passed once put its figure anywhere from 366 to 561/s in six labs.
const (
	maxHolds   = 6
	holdFactor = 1.06
)

// limit is a mode's verdict: max, the throughput of the highest rate held, and failedAt, the
// lowest rate above it that failed (NaN when none did: max is then only a lower bound).
// confirmed is false when no hold held: max is then an upper bound, what the lowest failed hold
// served (every rate tried for 28 s failed, so what the fine staircase held for 7 s is not
// sustainable: in one run naive's limit was "550, unconfirmed", and its common load of 550/s
// and overload of 3 × 550 were past every hold's rate, 550 down to 336/s).
type limit struct {
	max, failedAt float64
	confirmed     bool
}

// String is the figure with the rate that bounds it: "412 (437 failed)".
func (l limit) String() string {
	switch {
	case math.IsNaN(l.max):
		return "–"
	case !l.confirmed && !math.IsNaN(l.failedAt):
		return fmt.Sprintf("≤ %.0f, unconfirmed (every hold failed, the lowest at %.0f)", l.max, l.failedAt)
	case math.IsNaN(l.failedAt):
		return fmt.Sprintf("≥ %.0f (never failed)", l.max)
	}
	return fmt.Sprintf("%.0f (%.0f failed)", l.max, l.failedAt)
}

// limitOf is the limit that a fine staircase and its holds (in the order they ran) establish.
func limitOf(fine breakpointRun, holds []breakpointRun) limit {
	l := limit{max: math.NaN(), failedAt: math.NaN()}
	var failed []float64
	if fine.Broke && fine.BrokeAtRPS != nil {
		failed = append(failed, *fine.BrokeAtRPS)
	}
	heldRate := math.Inf(-1)
	for _, h := range holds {
		if len(h.Steps) == 0 {
			continue
		}
		s := h.Steps[0]
		if s.Sustained {
			l = limit{max: s.AchievedRPS, failedAt: math.NaN(), confirmed: true}
			heldRate = s.Rate
			break
		}
		failed = append(failed, s.Rate)
		served := min(s.Rate, s.AchievedRPS)
		if math.IsNaN(l.max) || served < l.max {
			l.max = served
		}
	}
	// The lowest rate that failed above the one held (a hold that failed at the rate that then
	// held bounds nothing), or the lowest of all when none held.
	for _, f := range failed {
		if f > heldRate && (math.IsNaN(l.failedAt) || f < l.failedAt) {
			l.failedAt = f
		}
	}
	if math.IsNaN(l.max) && fine.MaxSustainableRPS != nil && *fine.MaxSustainableRPS > 0 {
		l.max = *fine.MaxSustainableRPS
	}
	return l
}

// readRuns reads a spec: the fine staircase's summary, then its holds'.
func readRuns(spec string) ([]breakpointRun, error) {
	var runs []breakpointRun
	for _, path := range strings.Split(spec, "+") {
		s, err := readSummary(path)
		if err != nil {
			return nil, err
		}
		runs = append(runs, s.Flashcrowd.Derived)
	}
	return runs, nil
}

// readLimit reads a spec and returns the fine staircase, for the chart, and the limit.
func readLimit(spec string) (breakpointRun, limit, error) {
	runs, err := readRuns(spec)
	if err != nil {
		return breakpointRun{}, limit{}, err
	}
	return runs[0], limitOf(runs[0], runs[1:]), nil
}

// nextHold is the rate the next hold runs at, or 0 when the limit is settled: a hold held, or
// maxHolds failed. After a failed hold: its rate again if most of its answers came in time and
// no hold has run at that rate before; otherwise below it, as the comment at the top says.
func nextHold(fine breakpointRun, holds []breakpointRun) (float64, error) {
	if len(holds) == 0 {
		best := 0.0
		for _, s := range fine.Steps {
			if s.Sustained {
				best = max(best, s.Rate)
			}
		}
		if best == 0 {
			return 0, errors.New("the fine staircase held no step: nothing to hold")
		}
		return best, nil
	}
	last := holds[len(holds)-1]
	if len(holds) >= maxHolds || len(last.Steps) == 0 || last.Steps[0].Sustained {
		return 0, nil
	}
	s, below := last.Steps[0], holdFactor
	switch {
	case !s.InTime && s.P50 != nil && *s.P50 < last.SLO.P95 && !heldBefore(holds[:len(holds)-1], s.Rate):
		return s.Rate, nil
	case s.InTime:
		below = 1 // it sent under 95 % of the planned requests, so this is lower than the last
	case s.P95 != nil && last.SLO.P95 > 0 && *s.P95 > 2*last.SLO.P95:
		below = holdFactor * holdFactor
	}
	return math.Round(s.AchievedRPS / below), nil
}

// heldBefore says whether one of holds ran at rate.
func heldBefore(holds []breakpointRun, rate float64) bool {
	for _, h := range holds {
		if len(h.Steps) > 0 && h.Steps[0].Rate == rate {
			return true
		}
	}
	return false
}

// holdRateCommand is `lab hold-rate fine.json[+hold.json...]`: prints the rate of the next
// hold, or nothing when the limit is settled.
func holdRateCommand(args []string, w io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: lab hold-rate <fine.json[+hold.json...]>")
	}
	runs, err := readRuns(args[0])
	if err != nil {
		return err
	}
	r, err := nextHold(runs[0], runs[1:])
	if err != nil || r == 0 {
		return err
	}
	_, err = fmt.Fprintf(w, "%.0f\n", r)
	return err
}

// limitCommand is `lab limit <spec>`: the limit rounded down to a multiple of 10, 0 when there
// is none (the rates k6/lab.sh derives from it).
func limitCommand(args []string, w io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: lab limit <breakpoint.json[+hold.json...]>")
	}
	_, l, err := readLimit(args[0])
	if err != nil {
		return err
	}
	v := 0.0
	if !math.IsNaN(l.max) {
		v = math.Floor(l.max/10) * 10
	}
	_, err = fmt.Fprintf(w, "%.0f\n", v)
	return err
}

// fineStartCommand is `lab fine-start coarse.json`: where the fine staircase starts, 0.85 × the
// most requests a second a coarse step served, so that its first step holds and the limit lies
// in its range. A step served what it achieved (at most its rate) if it answered within the
// latency and failure limits with 90 % of the planned requests sent, not the 95 % a held step
// needs: the coarse steps are short and climb ×1.5, and after a jump k6 itself can send a little
// less than it planned while the server answers as fast as before (in one ceiling run every step
// from 575/s to 4,373/s "sent only 94 %" at a p95 under 30 ms). A step that failed without
// errors and with a p95 under twice the limit served 90 % of that: past its limit a server
// answers about as many requests a second as it can, and full's coarse staircase can fail the
// step after a ×1.5 jump on a burst of latency well below its limit (1,943/s at a p95 of 482 ms,
// in a run where it held 3,329/s for 30 s; its steps further up, sending what k6 could, served
// 3,064/s at a p95 of 208 ms). A queue that grew further (naive at 575/s, a p95 of 1.7 s) says
// nothing about the limit.
func fineStartCommand(args []string, w io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: lab fine-start <breakpoint summary>")
	}
	s, err := readSummary(args[0])
	if err != nil {
		return err
	}
	run := s.Flashcrowd.Derived
	served := 0.0
	for _, st := range run.Steps {
		v := min(st.Rate, st.AchievedRPS)
		switch {
		case st.InTime && st.AchievedRPS >= 0.9*st.Rate:
		case st.P95 != nil && *st.P95 < 2*run.SLO.P95 && st.FailRate < run.SLO.FailRate:
			v *= 0.9
		default:
			continue
		}
		served = max(served, v)
	}
	if served == 0 {
		return fmt.Errorf("%s: no step answered within twice the latency limit without failures, so there is nothing to refine", args[0])
	}
	fmt.Fprintf(w, "%.0f\n", max(1, math.Round(0.85*served)))
	return nil
}
