package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// held is a confirmed limit.
func held(max, failedAt float64) limit { return limit{max: max, failedAt: failedAt, confirmed: true} }

// writeRun writes a breakpoint summary whose flashcrowd.derived is derived and returns its path.
func writeRun(t *testing.T, dir, name, derived string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(`{"flashcrowd": {"derived": `+derived+`}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A ragged fine staircase: a lucky 550/s step above a failed 519/s one.
const raggedFine = `{"max_sustainable_rps": 550.4, "broke": true, "broke_at_rps": 583, "steps": [
	{"rate": 490, "achieved_rps": 489, "sustained": true},
	{"rate": 519, "achieved_rps": 510, "sustained": false},
	{"rate": 550, "achieved_rps": 550.4, "sustained": true},
	{"rate": 583, "achieved_rps": 540, "sustained": false}]}`

// holdRun is a hold's derived summary: one step at rate, its p95 in ms, judged against a p95
// limit of 250 ms (in time when under it), with a p50 as high (a queue, not a burst).
func holdRun(rate, achieved, p95 float64, ok bool) string {
	return burstHoldRun(rate, achieved, p95, p95, ok)
}

// burstHoldRun is holdRun with its own p50.
func burstHoldRun(rate, achieved, p50, p95 float64, ok bool) string {
	return fmt.Sprintf(`{"max_sustainable_rps": %g, "broke": %t, "slo": {"p95": 250},
		"steps": [{"rate": %g, "achieved_rps": %g, "p50": %g, "p95": %g, "in_time": %t, "sustained": %t}]}`,
		map[bool]float64{true: achieved, false: 0}[ok], !ok, rate, achieved, p50, p95, p95 < 250, ok)
}

// run is `lab <cmd> <spec>`'s output.
func runCmd(t *testing.T, cmd func([]string, io.Writer) error, spec string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := cmd([]string{spec}, &out)
	return out.String(), err
}

// hold is one hold of a test's sequence: the rate hold-rate must give for it, and the summary
// of its run.
type hold struct{ want, run string }

// runHolds runs holds in turn after spec, checking each one's rate and that hold-rate ends after
// the last, and returns the spec with them.
func runHolds(t *testing.T, dir, spec string, holds []hold) string {
	t.Helper()
	for i, h := range holds {
		if got, err := runCmd(t, holdRateCommand, spec); err != nil || got != h.want+"\n" {
			t.Fatalf("hold %d: hold-rate = %q (%v), want %s", i+1, got, err, h.want)
		}
		spec += "+" + writeRun(t, dir, fmt.Sprintf("hold%d.json", i), h.run)
	}
	if got, err := runCmd(t, holdRateCommand, spec); err != nil || got != "" {
		t.Fatalf("after a hold held, hold-rate = %q (%v), want nothing", got, err)
	}
	return spec
}

func TestHoldsConfirmTheLimit(t *testing.T) {
	dir := t.TempDir()
	spec := writeRun(t, dir, "fine.json", raggedFine)
	// The first hold runs at the highest fine step held; each next one a fine step below what
	// the one before achieved, two when its p95 was over twice the limit, none when it answered
	// in time: 550 sent all it planned but just missed the p95 limit, 519 could not send all it
	// planned and queued far past it (1.3 s), 400 sent 90 % of it in time, 360 held.
	spec = runHolds(t, dir, spec, []hold{
		{"550", holdRun(550, 550, 270, false)}, {"519", holdRun(519, 450, 1300, false)},
		{"400", holdRun(400, 360, 60, false)}, {"360", holdRun(360, 360.4, 40, true)}})
	_, l, err := readLimit(spec)
	if err != nil {
		t.Fatal(err)
	}
	if l.String() != "360 (400 failed)" {
		t.Errorf("limit = %s, want the hold's 360 bounded by the failed 400 hold", l)
	}
	if got, err := runCmd(t, limitCommand, spec); err != nil || got != "360\n" {
		t.Errorf("lab limit = %q (%v), want 360", got, err)
	}
}

func TestAHoldFailedByABurstRunsOnceMore(t *testing.T) {
	dir := t.TempDir()
	spec := writeRun(t, dir, "fine.json", raggedFine)
	// 550 fails on a burst (p50 30 ms, p95 400 ms): again at 550, which fails the same way, so
	// a fine step below what it achieved; 519 fails on a burst too and then holds. The limit is
	// bounded by 550, not by the 519 hold that failed.
	spec = runHolds(t, dir, spec, []hold{
		{"550", burstHoldRun(550, 550, 30, 400, false)}, {"550", burstHoldRun(550, 550, 30, 400, false)},
		{"519", burstHoldRun(519, 519, 40, 300, false)}, {"519", burstHoldRun(519, 519, 2, 90, true)}})
	if _, l, err := readLimit(spec); err != nil || l.String() != "519 (550 failed)" {
		t.Errorf("limit = %s (%v), want 519 (550 failed)", l, err)
	}
	// A queue (p50 over the p95 limit) is not run again: the next hold is below it.
	spec = writeRun(t, dir, "fine.json", raggedFine) + "+" + writeRun(t, dir, "queue.json", burstHoldRun(550, 550, 300, 400, false))
	if got, err := runCmd(t, holdRateCommand, spec); err != nil || got != "519\n" {
		t.Errorf("after a queue at 550, hold-rate = %q (%v), want 519", got, err)
	}
}

func TestFirstHoldHeldKeepsTheStaircasesBound(t *testing.T) {
	var fine breakpointRun
	fine.Broke, fine.BrokeAtRPS = true, ptr(583.0)
	fine.Steps = []step{{Rate: 550, AchievedRPS: 550.4, Sustained: true}}
	h := breakpointRun{Steps: []step{{Rate: 550, AchievedRPS: 548.9, Sustained: true}}}
	if l := limitOf(fine, []breakpointRun{h}); l.String() != "549 (583 failed)" {
		t.Errorf("limit = %s, want 549 (583 failed)", l)
	}
	// The top of the staircase never failed: a lower bound, even when held.
	fine.Broke, fine.BrokeAtRPS = false, nil
	if l := limitOf(fine, []breakpointRun{h}); l.String() != "≥ 549 (never failed)" {
		t.Errorf("limit = %s, want ≥ 549 (never failed)", l)
	}
}

func TestEveryHoldFailedLeavesTheLimitUnconfirmed(t *testing.T) {
	dir := t.TempDir()
	spec := writeRun(t, dir, "fine.json", raggedFine)
	rate := 550.0
	for i := range maxHolds {
		spec += "+" + writeRun(t, dir, fmt.Sprintf("hold%d.json", i), holdRun(rate, rate*0.95, 300, false))
		rate = math.Round(rate * 0.95 / holdFactor)
	}
	if got, err := runCmd(t, holdRateCommand, spec); err != nil || got != "" {
		t.Fatalf("after %d failed holds, hold-rate = %q (%v), want nothing", maxHolds, got, err)
	}
	_, l, err := readLimit(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Not the fine staircase's 550/s, which no hold sustained: what the lowest hold served.
	if l.String() != "≤ 302, unconfirmed (every hold failed, the lowest at 318)" {
		t.Errorf("limit = %s", l)
	}
	if got, err := runCmd(t, limitCommand, spec); err != nil || got != "300\n" {
		t.Errorf("lab limit = %q (%v), want 300", got, err)
	}
}

func TestNoStepHeldIsNoLimit(t *testing.T) {
	dir := t.TempDir()
	spec := writeRun(t, dir, "fine.json", `{"max_sustainable_rps": 0, "broke": true, "broke_at_rps": 460,
		"steps": [{"rate": 460, "achieved_rps": 300, "sustained": false}]}`)
	if _, err := runCmd(t, holdRateCommand, spec); err == nil {
		t.Error("a staircase that held no step gave a rate to hold")
	}
	if got, err := runCmd(t, limitCommand, spec); err != nil || got != "0\n" {
		t.Errorf("lab limit = %q (%v), want 0", got, err)
	}
	if _, l, _ := readLimit(spec); l.String() != "–" {
		t.Errorf("limit = %s, want –", l)
	}
}

func ptr[T any](v T) *T { return &v }

func TestFineStartIsBelowTheMostServedWithinTheLimits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "coarse.json")
	// 113/s held; 169/s served 160/s in time though k6 sent under 95 % (not held, yet served in
	// full); 253/s broke the p95 limit by far (a queue), 380/s failed requests: neither counts.
	body := `{"flashcrowd": {"derived": {"slo": {"p95": 250, "failRate": 0.01}, "steps": [
		{"rate": 50, "achieved_rps": 50, "p95": 8, "in_time": true, "sustained": true},
		{"rate": 113, "achieved_rps": 113.2, "p95": 9, "in_time": true, "sustained": true},
		{"rate": 169, "achieved_rps": 160, "p95": 30, "in_time": true, "sustained": false},
		{"rate": 253, "achieved_rps": 253, "p95": 1700, "in_time": false, "sustained": false},
		{"rate": 380, "achieved_rps": 380, "p95": 90, "failRate": 0.2, "in_time": false, "sustained": false}]}}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := fineStartCommand([]string{path}, &out); err != nil || out.String() != "136\n" {
		t.Fatalf("fine-start = %q (%v), want 136 (0.85 × 160)", out.String(), err)
	}
	// full's coarse staircase in one lab: 1,295/s held, 1,943/s failed on a burst of latency,
	// and above it k6 could not send what it planned, while what it sent was answered within
	// twice the p95 limit: 90 % of the most served, 3,064/s, is where the limit lies near.
	body = `{"flashcrowd": {"derived": {"slo": {"p95": 250, "failRate": 0.01}, "steps": [
		{"rate": 1295, "achieved_rps": 1295, "p95": 7.8, "in_time": true, "sustained": true},
		{"rate": 1943, "achieved_rps": 1943, "p95": 482, "in_time": false, "sustained": false},
		{"rate": 2915, "achieved_rps": 2538, "p95": 243, "in_time": true, "sustained": false},
		{"rate": 4373, "achieved_rps": 3064, "p95": 208, "in_time": true, "sustained": false}]}}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := fineStartCommand([]string{path}, &out); err != nil || out.String() != "2344\n" {
		t.Fatalf("fine-start = %q (%v), want 2344 (0.85 × 0.9 × 3,064)", out.String(), err)
	}
	body = `{"flashcrowd": {"derived": {"steps": [
		{"rate": 50, "achieved_rps": 50, "in_time": false, "sustained": false},
		{"rate": 75, "achieved_rps": 0, "in_time": false, "sustained": false}]}}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := fineStartCommand([]string{path}, &out); err == nil {
		t.Fatalf("a staircase that kept no step within the limits gave a start: %q", out.String())
	}
}
