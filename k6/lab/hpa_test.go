package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run as k6/hpa.js summarizes it: 30 s quiet, 20 s rise, 180 s surge, 10 s fall (the load is
// back at the quiet rate 240 s in), then 540 s of lull; 15 s windows.
const hpaStarted = 1_700_000_000_000

func hpaSummaryFile(t *testing.T, dir string) string {
	t.Helper()
	var windows []string
	for start := 0; start < 780; start += 15 {
		reqs, fail, p95 := 75.0, 0.0, 20.0
		if start >= 30 && start < 240 {
			reqs, p95 = 3750, 180
		}
		if start == 60 {
			fail = 0.01 // 37.5 of the surge's requests failed
		}
		windows = append(windows, fmt.Sprintf(`{"window": "%02d", "start_s": %d, "reqs": %g, "failRate": %g, "p50": 1, "p95": %g, "p99": 1, "max": 1}`,
			start/15, start, reqs, fail, p95))
	}
	body := fmt.Sprintf(`{"metrics": {}, "flashcrowd": {"scenario": "hpa", "derived": {"base_rate": 5, "spike_rate": 250, "window_s": 15,
		"phases_s": {"idle": 30, "rise": 20, "hold": 180, "fall": 10, "after": 540}, "started_unix_ms": %d.25, "windows": [%s]}}}`,
		hpaStarted, strings.Join(windows, ","))
	path := filepath.Join(dir, "hpa.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// samplesFile writes a sample every 5 s: the ready catalog Pods (and, unless desiredAt is nil,
// its autoscaler's desired count, else the same) at t seconds since the run began. The CPU
// reading is above the 60 % target from 50 s (the surge, a reading's lag behind) to 265 s (the
// load fell at 240 s), 20 % otherwise, and none in the first 20 s.
func samplesFile(t *testing.T, dir string, catalogAt, desiredAt func(t int) int) string {
	t.Helper()
	if desiredAt == nil {
		desiredAt = catalogAt
	}
	var b strings.Builder
	for at := 0; at <= 780; at += 5 {
		cpu := "20"
		switch {
		case at <= 20:
			cpu = "-"
		case at >= 50 && at < 270:
			cpu = "90"
		}
		fmt.Fprintf(&b, "%d %d %d %s 2 2\n", hpaStarted+int64(at)*1000, catalogAt(at), desiredAt(at), cpu)
	}
	path := filepath.Join(dir, "samples.tsv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// What an HPA with the sources' behaviour does: up 90 s into the surge, 6 Pods; the first two
// go 305 s after its last high CPU reading (265 s), the last one 120 s later.
func wellBehaved(at int) int {
	switch {
	case at < 120:
		return 3
	case at < 570:
		return 6
	case at < 690:
		return 4
	}
	return 3
}

func TestHPAReportJudgesAWellBehavedAutoscaler(t *testing.T) {
	dir := t.TempDir()
	out, chartPath := filepath.Join(dir, "report.md"), filepath.Join(dir, "hpa.svg")
	var stdout bytes.Buffer
	err := hpaCommand([]string{"-summary", hpaSummaryFile(t, dir), "-samples", samplesFile(t, dir, wellBehaved, nil),
		"-out", out, "-chart", chartPath}, &stdout)
	if err != nil {
		t.Fatalf("hpa: %v\n%s", err, stdout.String())
	}
	report := stdout.String()
	for _, want := range []string{
		"- Scale-up: 3 → 5 Pods 90 s after the surge began (allowed: 180 s): met; at most 6.",
		"- Scale-down: the first Pod removed 305 s after the last CPU reading above the target (60 %), 330 s after the load fell back; stabilization window 300 s (seen to within 20 s): met.",
		"- Back at 3 Pods 450 s after the load fell back.",
		// 37.5 failed of 14 × 3750 + 38 × 75 requests.
		"- Failed requests: 0.07 % (38 of 55350; allowed: 1.00 %): met; in the lull after the surge, through the scale-down: 0.00 %.",
		"| +0 s | quiet | 5.0 | 20 ms | 0.00 % | 3 (3) | – | 2 | 2 |",
		"| +15 s | quiet | 5.0 | 20 ms | 0.00 % | 3 (3) | 20 % | 2 | 2 |",
		"| +60 s | surge | 250.0 | 180 ms | 1.00 % | 3 (3) | 90 % | 2 | 2 |",
		"| +540 s | lull | 5.0 | 20 ms | 0.00 % | 6 (6) | 20 % | 2 | 2 |",
		"![req/s, p95 and ready Pods over the run](hpa.svg)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if written, err := os.ReadFile(out); err != nil || string(written) != report {
		t.Errorf("-out file: %v, equal to stdout: %v", err, string(written) == report)
	}
	svg, err := os.ReadFile(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Errorf("chart is not well-formed XML: %v", err)
	}
	if bytes.Contains(svg, []byte("NaN")) {
		t.Error("chart has a NaN coordinate")
	}
	if !bytes.Contains(svg, []byte("<title>catalog desired</title>")) {
		t.Error("chart lacks the catalog's desired count")
	}
}

// Ready Pods still arriving after the load fell are not a scale-down: the autoscaler decided on 6
// during the surge, and the sixth Pod came up 10 s after the load fell.
func TestHPAScaleDownIsTheAutoscalersDecision(t *testing.T) {
	dir := t.TempDir()
	ready := func(at int) int {
		switch {
		case at < 110:
			return 3
		case at < 250:
			return 5
		case at < 575:
			return 6
		case at < 695:
			return 4
		}
		return 3
	}
	var stdout bytes.Buffer
	err := hpaCommand([]string{"-summary", hpaSummaryFile(t, dir), "-samples", samplesFile(t, dir, ready, wellBehaved)}, &stdout)
	if err != nil {
		t.Fatalf("hpa: %v\n%s", err, stdout.String())
	}
	if want := "the first Pod removed 305 s after the last CPU reading"; !strings.Contains(stdout.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, stdout.String())
	}
}

func TestHPAReportFailsAMisbehavingAutoscaler(t *testing.T) {
	cases := []struct {
		name      string
		catalogAt func(int) int
		flags     []string
		want      string
	}{
		{"never scaled", func(int) int { return 3 }, nil, "the catalog never reached 5 Pods (at most 3)"},
		{"too slow", func(at int) int {
			if at >= 240 && at < 600 {
				return 5
			}
			return 3
		}, nil, "5 Pods only 210 s after the surge began (allowed: 180 s)"},
		{"no stabilization", func(at int) int {
			if at >= 90 && at < 400 {
				return 6
			}
			return 3
		}, nil, "the first Pod went 135 s after the last CPU reading above 60 %, inside the 300 s window"},
		{"never back", func(at int) int {
			switch {
			case at < 90:
				return 3
			case at < 570:
				return 6
			}
			return 4
		}, nil, "not back at 3 Pods when the run ended"},
		{"requests failed", wellBehaved, []string{"-max-failed", "0"}, "0.07 % of 55350 requests failed (allowed: 0.00 %)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var stdout bytes.Buffer
			args := append([]string{"-summary", hpaSummaryFile(t, dir), "-samples", samplesFile(t, dir, c.catalogAt, nil)}, c.flags...)
			err := hpaCommand(args, &stdout)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q\n%s", err, c.want, stdout.String())
			}
		})
	}
}

func TestHPARefusesWhatItCannotJudge(t *testing.T) {
	dir := t.TempDir()
	browse := filepath.Join(dir, "browse.json")
	if err := os.WriteFile(browse, []byte(`{"metrics": {}, "flashcrowd": {"derived": null}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.tsv")
	if err := os.WriteFile(bad, []byte("1 3 3 - 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	summary, samples := hpaSummaryFile(t, dir), samplesFile(t, dir, wellBehaved, nil)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-summary", browse, "-samples", samples}, "not a summary of k6/hpa.js"},
		{[]string{"-summary", summary, "-samples", bad}, "bad.tsv:1: want 6 fields"},
		{[]string{"-summary", summary}, "need -summary and -samples"},
		{[]string{"-summary", summary, "-samples", samples, "-reach", "3"}, "-reach (3) must be above -min (3)"},
	} {
		err := hpaCommand(c.args, new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("hpa %v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}
