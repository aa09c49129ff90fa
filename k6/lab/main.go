// Command lab turns a lab's k6 summaries, and Prometheus' record of the same minutes, into the
// before/after table of docs/labs: every cell is computed from those runs, none is typed in.
// k6/lab.sh runs the scenarios and then this; see `make lab`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	cmd := run
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "cpu":
			cmd = func(ctx context.Context, args []string, w io.Writer) error { return cpuCommand(ctx, args[1:], w) }
		case "idle":
			cmd = func(ctx context.Context, args []string, w io.Writer) error { return idleCommand(ctx, args[1:], w) }
		case "hpa":
			cmd = func(_ context.Context, args []string, w io.Writer) error { return hpaCommand(args[1:], w) }
		case "speed":
			cmd = func(_ context.Context, _ []string, w io.Writer) error { return speedCommand(w) }
		case "hold-rate":
			cmd = func(_ context.Context, args []string, w io.Writer) error { return holdRateCommand(args[1:], w) }
		case "limit":
			cmd = func(_ context.Context, args []string, w io.Writer) error { return limitCommand(args[1:], w) }
		case "fine-start":
			cmd = func(_ context.Context, args []string, w io.Writer) error { return fineStartCommand(args[1:], w) }
		}
	}
	if err := cmd(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

// runSpec is one mode's runs:
// -run mode,breakpoint.json,browse.json,startUnix,endUnix,cpu-before.json,cpu-after.json,overload.json
// (breakpoint.json is the fine staircase's summary and its holds', joined by "+", see limit.go;
// the CPU snapshots are `lab cpu` taken just before and just after the browse run; k6's own
// CPU is the browse run's .cpu file beside its summary; overload.json is the browse run at 3×
// the baseline's limit).
type runSpec struct {
	mode, breakpoint, browse string
	start, end               time.Time
	cpuBefore, cpuAfter      string
	overload                 string
}

type runFlags []runSpec

func (r *runFlags) String() string { return fmt.Sprint(len(*r), " runs") }

func (r *runFlags) Set(v string) error {
	f := strings.Split(v, ",")
	if len(f) != 8 {
		return errors.New("want mode,breakpoint.json,browse.json,start,end,cpu-before.json,cpu-after.json,overload.json")
	}
	start, err1 := strconv.ParseInt(f[3], 10, 64)
	end, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil || end <= start {
		return fmt.Errorf("start and end must be Unix seconds, start before end: %q", v)
	}
	*r = append(*r, runSpec{f[0], f[1], f[2], time.Unix(start, 0), time.Unix(end, 0), f[5], f[6], f[7]})
	return nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	prom := fs.String("prometheus", "http://127.0.0.1:9090", "Prometheus base URL")
	rate := fs.Int("rate", 0, "the common load of the browse runs, requests/s")
	ceilingPath := fs.String("ceiling", "", "the breakpoint summaries (fine.json+hold.json...) of the ceiling server (infra/ceiling), measured in the same run")
	overload := fs.Int("overload", 0, "the overload runs' rate, requests/s (3× the baseline's limit)")
	out := fs.String("out", "", "also write the table to this Markdown file")
	chartOut := fs.String("chart", "", "write the chart of RPS and p95 per breakpoint step to this SVG file (and link it from -out)")
	speedFlag := fs.String("speed", "", "one core's speed around each staircase, MB/s of SHA-256 (lab speed): ceiling=1100,naive=1050,full=1200")
	var runs runFlags
	fs.Var(&runs, "run", "one mode's runs (repeat: baseline first, then full)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(runs) != 2 || *rate <= 0 || *overload <= 0 || *ceilingPath == "" {
		return errors.New("need -rate, -overload, -ceiling and exactly two -run flags, the baseline first")
	}
	_, ceiling, err := readLimit(*ceilingPath)
	if err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	speed, err := parseSpeeds(*speedFlag)
	if err != nil {
		return err
	}
	p := promClient{base: strings.TrimRight(*prom, "/"), http: &http.Client{Timeout: 10 * time.Second}}
	var figs [2]figures
	for i, r := range runs {
		f, err := measure(ctx, r, p)
		if err != nil {
			return fmt.Errorf("%s: %w", r.mode, err)
		}
		figs[i] = f
	}
	table := render(runs[0].mode, runs[1].mode, *rate, *overload, ceiling, figs[0], figs[1], speed)
	// A chart that cannot be drawn must not lose the table a quarter of an hour of runs made:
	// the table is still printed and written, and the chart's error returned after.
	var chartErr error
	if *chartOut != "" {
		chartErr = writeChart(*chartOut, [2]string{runs[0].mode, runs[1].mode}, [2]breakpointRun{figs[0].breakpoint, figs[1].breakpoint})
		if chartErr == nil {
			table += chartLink(*out, *chartOut, "Requests per second achieved and p95 latency at each step of the breakpoint staircase:",
				fmt.Sprintf("RPS and p95 per breakpoint step, %s vs %s", runs[0].mode, runs[1].mode))
		}
	}
	fmt.Fprint(stdout, table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			return err
		}
	}
	return chartErr
}

func writeChart(path string, modes [2]string, runs [2]breakpointRun) error {
	svg, err := chart(modes, runs)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return os.WriteFile(path, []byte(svg), 0o644)
}

// chartLink is the Markdown image line for a chart under its caption, the chart's path relative
// to the report's file so the link works wherever results/ is opened.
func chartLink(reportPath, chartPath, caption, alt string) string {
	link := chartPath
	if reportPath != "" {
		if rel, err := filepath.Rel(filepath.Dir(reportPath), chartPath); err == nil {
			link = rel
		}
	}
	return fmt.Sprintf("\n%s\n\n![%s](%s)\n", caption, alt, filepath.ToSlash(link))
}

// figures are one mode's cells. NaN means "not measured" (a cache ratio with the cache off).
type figures struct {
	limit                               limit
	p50, p95, p99, errRate, reqs        float64
	dbQPS, dbPer1k, hitRatio, edgeRatio float64
	// cpuMs is the stack's CPU milliseconds per request in the browse run, cpuBy the same by
	// service, k6Ms the load generator's own.
	cpuMs, k6Ms float64
	cpuBy       map[string]float64
	// overloadErr: in the run at 3× the baseline's limit, the share of the planned requests that
	// failed or that k6 could not send (every VU waiting on an answer).
	overloadErr float64
	// breakpoint is what the breakpoint run derived, its steps included, for the chart.
	breakpoint breakpointRun
}

// summary is the part of a k6 summary (k6/lib/summary.js writes it) that the table and the
// chart read; flashcrowd.derived is the breakpoint's (a browse summary has none).
type summary struct {
	Metrics map[string]struct {
		Values map[string]float64 `json:"values"`
	} `json:"metrics"`
	Flashcrowd struct {
		Derived breakpointRun `json:"derived"`
	} `json:"flashcrowd"`
}

func readSummary(path string) (summary, error) {
	var s summary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func measure(ctx context.Context, r runSpec, p promClient) (figures, error) {
	f := figures{hitRatio: math.NaN(), edgeRatio: math.NaN(), k6Ms: math.NaN()}
	var err error
	f.breakpoint, f.limit, err = readLimit(r.breakpoint)
	if err != nil {
		return f, err
	}
	br, err := readSummary(r.browse)
	if err != nil {
		return f, err
	}
	d := br.Metrics["http_req_duration"].Values
	f.p50, f.p95, f.p99 = d["med"], d["p(95)"], d["p(99)"]
	f.errRate = br.Metrics["http_req_failed"].Values["rate"]
	f.reqs = br.Metrics["http_reqs"].Values["count"]
	if f.reqs == 0 {
		return f, fmt.Errorf("%s: the browse run sent no requests", r.browse)
	}

	before, err := readSnapshot(r.cpuBefore)
	if err != nil {
		return f, err
	}
	after, err := readSnapshot(r.cpuAfter)
	if err != nil {
		return f, err
	}
	f.cpuBy = map[string]float64{}
	for svc, secs := range cpuUsed(before, after) {
		f.cpuBy[svc] = 1000 * secs / f.reqs
		f.cpuMs += f.cpuBy[svc]
	}
	// k6/run.sh leaves k6's CPU seconds beside the summary; an older k6 image leaves none.
	if b, err := os.ReadFile(strings.TrimSuffix(r.browse, ".json") + ".cpu"); err == nil {
		if secs, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			f.k6Ms = 1000 * secs / f.reqs
		}
	}

	ov, err := readSummary(r.overload)
	if err != nil {
		return f, err
	}
	sent := ov.Metrics["http_reqs"].Values["count"]
	failed := ov.Metrics["http_req_failed"].Values["rate"] * sent
	dropped := ov.Metrics["dropped_iterations"].Values["count"]
	if sent+dropped == 0 {
		return f, fmt.Errorf("%s: the overload run sent no requests", r.overload)
	}
	f.overloadErr = (failed + dropped) / (sent + dropped)

	// Counters over exactly the browse window, read at its end.
	window := fmt.Sprintf("[%ds]", int(r.end.Sub(r.start).Seconds()))
	queries, err := p.scalar(ctx, "sum(increase(flashcrowd_db_queries_total"+window+"))", r.end)
	if err != nil {
		return f, err
	}
	f.dbQPS = queries / r.end.Sub(r.start).Seconds()
	f.dbPer1k = 1000 * queries / f.reqs
	// Every request that reaches a catalog looks in L1 first, then in Redis; what neither
	// answered (a Redis miss, or Redis failing) went to the database. Counted as 1 − those
	// over the lookups rather than hits over lookups: increase() extrapolates each series on
	// its own, and the hits' two series (L1's and Redis's) came out above the lookups (100.09 %).
	f.hitRatio, err = p.ratio(ctx, `sum(increase(flashcrowd_cache_requests_total{layer="redis",result=~"miss|error"}`+window+"))",
		`sum(increase(flashcrowd_cache_requests_total{layer="l1"}`+window+"))", r.end)
	if err != nil {
		return f, err
	}
	f.hitRatio = 1 - f.hitRatio
	f.edgeRatio, err = p.ratio(ctx, `sum(increase(haproxy_frontend_http_cache_hits_total{proxy="edge"}`+window+"))",
		`sum(increase(haproxy_frontend_http_cache_lookups_total{proxy="edge"}`+window+"))", r.end)
	return f, err
}

// ratio is hits/lookups over two counters, NaN when nothing was looked up (that cache is off).
func (p promClient) ratio(ctx context.Context, hitsQuery, lookupsQuery string, t time.Time) (float64, error) {
	lookups, err := p.scalar(ctx, lookupsQuery, t)
	if err != nil || lookups == 0 {
		return math.NaN(), err
	}
	hits, err := p.scalar(ctx, hitsQuery, t)
	return hits / lookups, err
}

type promClient struct {
	base string
	http *http.Client
}

// scalar runs an instant query at t and returns its single value, or 0 for an empty result.
func (p promClient) scalar(ctx context.Context, query string, t time.Time) (float64, error) {
	u := p.base + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatInt(t.Unix(), 10)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("prometheus %s: %w", query, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("prometheus %s: %s", query, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// render is the report. speed, when known, is one core's MB/s around each staircase (by mode,
// and "ceiling"): a CPU-bound limit follows the host's speed, so the table also gives each
// limit per GB/s of it, the figure to compare between runs on a host whose speed moves.
func render(baseMode, fullMode string, rate, overload int, ceiling limit, base, full figures, speed map[string]float64) string {
	var b strings.Builder
	perGBs := func(mode string, l limit) float64 {
		if speed[mode] <= 0 {
			return math.NaN()
		}
		return l.max / (speed[mode] / 1000)
	}
	fmt.Fprintf(&b, "\nThe machine's ceiling: %s req/s, a bare Go server answering the same requests with bodies made at start (infra/ceiling), measured with the same k6 in this run.\n", ceiling)
	if v := perGBs("ceiling", ceiling); !math.IsNaN(v) {
		fmt.Fprintf(&b, "At one core's speed during its staircase (%.0f MB/s of SHA-256), that is %.0f req/s per GB/s.\n", speed["ceiling"], v)
	}
	fmt.Fprintf(&b, "\n| Metric | %s | %s | %s ÷ %s |\n|---|---:|---:|---:|\n", baseMode, fullMode, fullMode, baseMode)
	row := func(name string, v0, v1 float64, cell func(float64) string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, cell(v0), cell(v1), ratioOf(v0, v1))
	}
	num := func(prec int) func(float64) string {
		return func(v float64) string {
			if math.IsNaN(v) {
				return "–"
			}
			return strconv.FormatFloat(v, 'f', prec, 64)
		}
	}
	msec := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return num(1)(v) + " ms"
	}
	percent := func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
	}
	fmt.Fprintf(&b, "| Max sustainable RPS (the highest breakpoint step that a longer hold confirmed, and the lowest rate that failed) | %s | %s | %s |\n",
		base.limit, full.limit, ratioOf(base.limit.max, full.limit.max))
	row("Max sustainable RPS, share of the machine's ceiling", base.limit.max/ceiling.max, full.limit.max/ceiling.max, percent)
	if len(speed) > 0 {
		row("Max sustainable RPS per GB/s of one core's speed (SHA-256, before and after its staircase)",
			perGBs(baseMode, base.limit), perGBs(fullMode, full.limit), num(0))
	}
	at := fmt.Sprintf(" at %d req/s", rate)
	row("p50 latency"+at, base.p50, full.p50, msec)
	row("p95 latency"+at, base.p95, full.p95, msec)
	row("p99 latency"+at, base.p99, full.p99, msec)
	row("Error rate"+at, base.errRate, full.errRate, percent)
	row(fmt.Sprintf("Error rate at 3× %s's limit (%d req/s, 10 s timeout; requests k6 could not send count as failed)", baseMode, overload),
		base.overloadErr, full.overloadErr, percent)
	row("DB queries per second"+at, base.dbQPS, full.dbQPS, num(1))
	row("DB queries per 1,000 requests", base.dbPer1k, full.dbPer1k, num(1))
	row("Edge cache hit ratio (HAProxy)", base.edgeRatio, full.edgeRatio, percent)
	row("Catalog cache hit ratio (L1 + Redis) of the requests past the edge", base.hitRatio, full.hitRatio, percent)
	row("Stack CPU per request (every container but k6's)"+at, base.cpuMs, full.cpuMs, msec)
	row("k6's own CPU per request (the load generator, on the same cores)"+at, base.k6Ms, full.k6Ms, msec)

	// The CPU row, service by service: on one machine every layer spends the same cores.
	fmt.Fprintf(&b, "\nWhere the stack's CPU went%s, in CPU ms per request:\n\n| Service | %s | %s |\n|---|---:|---:|\n", at, baseMode, fullMode)
	var otherBase, otherFull float64
	for _, svc := range cpuRows(base.cpuBy, full.cpuBy) {
		if max(base.cpuBy[svc], full.cpuBy[svc]) < 0.05 {
			otherBase += base.cpuBy[svc]
			otherFull += full.cpuBy[svc]
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", svc, num(2)(base.cpuBy[svc]), num(2)(full.cpuBy[svc]))
	}
	fmt.Fprintf(&b, "| other services (under 0.05 each) | %s | %s |\n", num(2)(otherBase), num(2)(otherFull))
	fmt.Fprintf(&b, "\nMeasured on this machine (%d CPUs, %s/%s) on %s; k6 shared those CPUs with the stack. Compare ratios, not absolute figures.\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	return b.String()
}

// parseSpeeds reads -speed: "ceiling=1100,naive=1050,full=1200" (MB/s); empty is none.
func parseSpeeds(v string) (map[string]float64, error) {
	speeds := map[string]float64{}
	if v == "" {
		return speeds, nil
	}
	for _, kv := range strings.Split(v, ",") {
		mode, mbps, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(mbps, 64)
		if !ok || err != nil || f <= 0 {
			return nil, fmt.Errorf("-speed: want mode=MB/s pairs, got %q", kv)
		}
		speeds[mode] = f
	}
	return speeds, nil
}

// ratioOf is v1/v0, or "–" when it means nothing.
func ratioOf(v0, v1 float64) string {
	if v0 == 0 || math.IsNaN(v0) || math.IsNaN(v1) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v1/v0)
}
