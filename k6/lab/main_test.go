package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSummary(t *testing.T, dir, name string, maxRPS string, med, p95, p99, fail, reqs float64) string {
	t.Helper()
	derived := "null"
	if maxRPS != "" {
		// Two steps as k6/breakpoint.js writes them: maxRPS held, ten times that failed; the
		// second sent nothing, so its p95 is null.
		derived = `{"max_sustainable_rps": ` + maxRPS + `, "broke": true, "broke_at_rps": ` + maxRPS + `0, "slo": {"p95": 250},
			"staircase": {"step_s": 20, "settle_s": 5},
			"steps": [{"rate": ` + maxRPS + `, "achieved_rps": ` + maxRPS + `, "p95": 12.5, "sustained": true},
				{"rate": ` + maxRPS + `0, "achieved_rps": 0, "p95": null, "sustained": false}]}`
	}
	body := fmt.Sprintf(`{"metrics": {
		"http_req_duration": {"values": {"med": %g, "p(95)": %g, "p(99)": %g}},
		"http_req_failed": {"values": {"rate": %g}},
		"http_reqs": {"values": {"count": %g}},
		"dropped_iterations": {"values": {"count": %g}}},
		"flashcrowd": {"derived": %s}}`, med, p95, p99, fail, reqs, reqs/4, derived)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The table's cells come from the summaries and from Prometheus, for each mode's own window.
func TestTableFromRuns(t *testing.T) {
	dir := t.TempDir()
	// Prometheus answers per query and per evaluation time (each mode's window ends elsewhere).
	answers := map[string]string{
		"100|sum(increase(flashcrowd_db_queries_total[60s]))":                                              "6000",
		"100|" + `sum(increase(flashcrowd_cache_requests_total{layer="l1"}[60s]))`:                         "0",
		"300|sum(increase(flashcrowd_db_queries_total[60s]))":                                              "300",
		"300|" + `sum(increase(flashcrowd_cache_requests_total{layer="l1"}[60s]))`:                         "6000",
		"300|" + `sum(increase(flashcrowd_cache_requests_total{layer="redis",result=~"miss|error"}[60s]))`: "300",
		"100|" + `sum(increase(haproxy_frontend_http_cache_lookups_total{proxy="edge"}[60s]))`:             "0",
		"300|" + `sum(increase(haproxy_frontend_http_cache_lookups_total{proxy="edge"}[60s]))`:             "6000",
		"300|" + `sum(increase(haproxy_frontend_http_cache_hits_total{proxy="edge"}[60s]))`:                "3000",
	}
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := answers[r.URL.Query().Get("time")+"|"+r.URL.Query().Get("query")]
		if !ok {
			t.Errorf("unexpected query %q at %s", r.URL.Query().Get("query"), r.URL.Query().Get("time"))
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"%s"]}]}}`, v)
	}))
	defer prom.Close()

	// CPU seconds per container before and after each browse run. A container that is only in
	// the second snapshot (restarted meanwhile) is left out.
	cpu := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	naiveCPU := cpu("cpu-naive-0.json", `{"a":{"service":"catalog","seconds":10},"b":{"service":"postgres-primary","seconds":5}}`) + "," +
		cpu("cpu-naive-1.json", `{"a":{"service":"catalog","seconds":22},"b":{"service":"postgres-primary","seconds":29},"c":{"service":"redis","seconds":3}}`)
	fullCPU := cpu("cpu-full-0.json", `{"a":{"service":"catalog","seconds":1},"d":{"service":"catalog","seconds":1},"e":{"service":"minio","seconds":1}}`) + "," +
		cpu("cpu-full-1.json", `{"a":{"service":"catalog","seconds":7},"d":{"service":"catalog","seconds":7},"e":{"service":"minio","seconds":1.06}}`)

	// k6's own CPU seconds beside the naive browse run's summary, none beside full's.
	if err := os.WriteFile(filepath.Join(dir, "br-naive.cpu"), []byte("3.000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each staircase's one hold held the rate it found. The overload runs, 60 s each (writeSummary's rates): 4,800 requests sent, 1,200 never sent
	// (dropped), and a quarter of those sent failed in naive.
	args := []string{"-prometheus", prom.URL, "-rate", "100", "-overload", "1200", "-out", filepath.Join(dir, "lab.md"), "-chart", filepath.Join(dir, "lab.svg"),
		"-ceiling", writeSummary(t, dir, "bp-ceiling.json", "4000", 0, 0, 0, 0, 1) + "+" + writeRun(t, dir, "hold-ceiling.json", holdRun(4000, 4000, 30, true)),
		"-run", "naive," + writeSummary(t, dir, "bp-naive.json", "400", 0, 0, 0, 0, 1) + "+" + writeRun(t, dir, "hold-naive.json", holdRun(400, 400, 30, true)) + "," +
			writeSummary(t, dir, "br-naive.json", "", 20, 80, 200, 0.05, 6000) + ",40,100," + naiveCPU + "," +
			writeSummary(t, dir, "ov-naive.json", "", 0, 0, 0, 0.25, 4800),
		"-run", "full," + writeSummary(t, dir, "bp-full.json", "1200", 0, 0, 0, 0, 1) + "+" + writeRun(t, dir, "hold-full.json", holdRun(1200, 1200, 30, true)) + "," +
			writeSummary(t, dir, "br-full.json", "", 5, 20, 50, 0, 6000) + ",240,300," + fullCPU + "," +
			writeSummary(t, dir, "ov-full.json", "", 0, 0, 0, 0, 4800),
	}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"The machine's ceiling: 4000 (40000 failed) req/s",
		"| Max sustainable RPS (the highest breakpoint step that a longer hold confirmed, and the lowest rate that failed) | 400 (4000 failed) | 1200 (12000 failed) | 3.00× |",
		"| Max sustainable RPS, share of the machine's ceiling | 10.00% | 30.00% | 3.00× |",
		// (0.25 × 4800 + 1200) / 6000 in naive; 1200 / 6000 in full.
		"| Error rate at 3× naive's limit (1200 req/s, 10 s timeout; requests k6 could not send count as failed) | 40.00% | 20.00% | 0.50× |",
		"| k6's own CPU per request (the load generator, on the same cores) at 100 req/s | 0.5 ms | – | – |",
		"| p95 latency at 100 req/s | 80.0 ms | 20.0 ms | 0.25× |",
		"| Error rate at 100 req/s | 5.00% | 0.00% | 0.00× |",
		"| DB queries per second at 100 req/s | 100.0 | 5.0 | 0.05× |",
		"| DB queries per 1,000 requests | 1000.0 | 50.0 | 0.05× |",
		"| Edge cache hit ratio (HAProxy) | – | 50.00% | – |",
		"| Catalog cache hit ratio (L1 + Redis) of the requests past the edge | – | 95.00% | – |",
		// naive: (12 + 24) s over 6000 requests; full: 12.06 s.
		"| Stack CPU per request (every container but k6's) at 100 req/s | 6.0 ms | 2.0 ms | 0.33× |",
		"| postgres-primary | 4.00 | 0.00 |",
		"| catalog | 2.00 | 2.00 |",
		"| other services (under 0.05 each) | 0.00 | 0.01 |",
		"![RPS and p95 per breakpoint step, naive vs full](lab.svg)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "| redis |") {
		t.Error("a container missing from the first snapshot was counted")
	}
	if written, _ := os.ReadFile(filepath.Join(dir, "lab.md")); string(written) != out.String() {
		t.Error("the Markdown file differs from what was printed")
	}
	svg, err := os.ReadFile(filepath.Join(dir, "lab.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"naive, 400/s step: p95 12.5 ms", "full, 12000/s step: 0 req/s achieved"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
}

// Without per-step figures there is no chart, but the table a lab's runs made is still written.
func TestTableWithoutSteps(t *testing.T) {
	dir := t.TempDir()
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	defer prom.Close()
	cpu := filepath.Join(dir, "cpu.json")
	if err := os.WriteFile(cpu, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noSteps := writeSummary(t, dir, "bp.json", "", 0, 0, 0, 0, 1)
	browse := writeSummary(t, dir, "br.json", "", 5, 20, 50, 0, 6000)
	spec := noSteps + "," + browse + ",40,100," + cpu + "," + cpu + "," + browse
	err := run(context.Background(), []string{"-prometheus", prom.URL, "-rate", "100", "-overload", "300", "-ceiling", noSteps,
		"-out", filepath.Join(dir, "lab.md"), "-chart", filepath.Join(dir, "lab.svg"),
		"-run", "naive," + spec, "-run", "full," + spec}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no steps") {
		t.Fatalf("want an error about the missing steps, got %v", err)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, "lab.md")); !strings.Contains(string(md), "| p95 latency at 100 req/s |") {
		t.Errorf("the table was not written:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, "lab.svg")); err == nil {
		t.Error("a chart was written without steps")
	}
}

func TestRunNeedsTwoModes(t *testing.T) {
	if err := run(context.Background(), []string{"-rate", "10", "-overload", "30", "-ceiling", "c", "-run", "full,a,b,1,2,c,d,e"}, &bytes.Buffer{}); err == nil {
		t.Fatal("one run accepted")
	}
	if err := run(context.Background(), []string{"-rate", "10", "-overload", "30", "-ceiling", "c", "-run", "full,a,b,2,1,c,d,e"}, &bytes.Buffer{}); err == nil {
		t.Fatal("a window ending before it starts accepted")
	}
}

func TestUnbrokenStaircaseIsALowerBound(t *testing.T) {
	got := render("naive", "full", 100, 300, held(4000, 4400), figures{limit: held(400, 425)}, figures{limit: held(1500, math.NaN())}, nil)
	if !strings.Contains(got, "| 400 (425 failed) | ≥ 1500 (never failed) | 3.75× |") {
		t.Fatalf("table does not mark the lower bound:\n%s", got)
	}
	if strings.Contains(got, "per GB/s") {
		t.Fatalf("a row per GB/s without speeds:\n%s", got)
	}
}

func TestLimitsPerCoreSpeed(t *testing.T) {
	speed, err := parseSpeeds("ceiling=1250,naive=800,full=1200")
	if err != nil {
		t.Fatal(err)
	}
	got := render("naive", "full", 100, 300, held(4000, 4400), figures{limit: held(400, 425)}, figures{limit: held(3000, 3200)}, speed)
	for _, want := range []string{"(1250 MB/s of SHA-256), that is 3200 req/s per GB/s",
		"| Max sustainable RPS per GB/s of one core's speed (SHA-256, before and after its staircase) | 500 | 2500 | 5.00× |"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"full=", "full=0", "full=x", "full"} {
		if _, err := parseSpeeds(bad); err == nil {
			t.Errorf("-speed %q accepted", bad)
		}
	}
}
