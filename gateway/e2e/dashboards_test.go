//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The dashboards vmui draws (infra/victoriametrics/dashboards, read by VictoriaMetrics through
// -vmui.customDashboardsPath) must draw something: every query of every panel answers at least
// one series from VictoriaMetrics, which Prometheus feeds by remote_write.

var (
	victoriaMetricsURL = getenv("VICTORIAMETRICS_URL", "http://127.0.0.1:8428")
	dashboardsDir      = "../../infra/victoriametrics/dashboards"
)

// vmuiDashboard is the file format vmui reads (VictoriaMetrics' app/vmselect/vmui.go and
// app/vmui's README, "Predefined dashboards"). Every field is listed, so that a misspelt one
// (which vmui would silently ignore) fails the parse.
type vmuiDashboard struct {
	Title    string `json:"title"`
	Filename string `json:"filename"`
	Rows     []struct {
		Title  string `json:"title"`
		Panels []struct {
			Title       string   `json:"title"`
			Description string   `json:"description"`
			Unit        string   `json:"unit"`
			Expr        []string `json:"expr"`
			Alias       []string `json:"alias"`
			ShowLegend  *bool    `json:"showLegend"`
			Width       int      `json:"width"`
		} `json:"panels"`
	} `json:"rows"`
}

// panelQuery is one expression of one panel, named for the failure messages.
type panelQuery struct {
	file, dashboard, panel, expr string
}

func (q panelQuery) String() string {
	return fmt.Sprintf("dashboard %q (%s), panel %s, expr %s", q.dashboard, q.file, q.panel, q.expr)
}

// readDashboard parses one dashboard file and lists its panels' expressions.
func readDashboard(path string) ([]panelQuery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d vmuiDashboard
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("does not parse: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("does not parse: data after the dashboard's object")
	}
	file := filepath.Base(path)
	var out []panelQuery
	panels := 0
	for r, row := range d.Rows {
		for p, panel := range row.Panels {
			panels++
			name := fmt.Sprintf("%d.%d %q", r+1, p+1, panel.Title)
			if len(panel.Expr) == 0 {
				return nil, fmt.Errorf("panel %s has no expression", name)
			}
			for _, e := range panel.Expr {
				if strings.TrimSpace(e) == "" {
					return nil, fmt.Errorf("panel %s has an empty expression (vmui refuses to draw it)", name)
				}
				out = append(out, panelQuery{file: file, dashboard: d.Title, panel: name, expr: e})
			}
		}
	}
	if panels == 0 {
		return nil, fmt.Errorf("no panels")
	}
	return out, nil
}

// instantQuery runs expr at the current time on VictoriaMetrics' Prometheus-compatible API and
// returns the series it answered (a scalar as one). nocache=1 makes VictoriaMetrics answer from
// the newest samples rather than a cached result.
func instantQuery(expr string) ([]json.RawMessage, error) {
	u := victoriaMetricsURL + "/api/v1/query?" + url.Values{"query": {expr}, "nocache": {"1"}}.Encode()
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %.300s", resp.Status, b)
	}
	if resp.StatusCode != http.StatusOK || r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, r.Error)
	}
	if r.Data.ResultType == "scalar" {
		return []json.RawMessage{r.Data.Result}, nil // one [time, value]
	}
	var series []json.RawMessage
	if err := json.Unmarshal(r.Data.Result, &series); err != nil {
		return nil, fmt.Errorf("%s: %.300s", resp.Status, b)
	}
	return series, nil
}

// lightTraffic sends a few shoppers' reads through the edge: the ratios and percentiles over the
// last minute need some (with none, a ratio is 0/0, which VictoriaMetrics leaves out). A popular
// product from the edge cache, and products past it, through a gateway to the catalogs' L1 and
// Redis caches (whose L1 copies live 5 s, so each round misses again).
func lightTraffic(t *testing.T) {
	t.Helper()
	for _, path := range []string{"/api/v1/featured", "/api/v1/products/42", "/api/v1/products/42"} {
		if _, err := send(http.MethodGet, path, nil, nil); err != nil {
			t.Logf("light traffic: %v", err)
		}
	}
	for id := 1; id <= 5; id++ {
		if _, err := send(http.MethodGet, fmt.Sprintf("/api/v1/products/%d", id), nil, pastTheEdge); err != nil {
			t.Logf("light traffic: %v", err)
		}
	}
}

func TestDashboardsDrawData(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s", dashboardsDir)
	}
	var pending []panelQuery
	for _, f := range files {
		qs, err := readDashboard(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		pending = append(pending, qs...)
	}

	if _, err := instantQuery("vector(1)"); err != nil {
		t.Fatalf("VictoriaMetrics at %s (VICTORIAMETRICS_URL): %v", victoriaMetricsURL, err)
	}

	// Samples reach VictoriaMetrics a few seconds after a scrape (every 20 s; the Postgres
	// exporters' every 60 s, and a rate needs two of them): keep a light load going and ask
	// again until every query answers.
	const within = 150 * time.Second
	deadline := time.Now().Add(within)
	for {
		lightTraffic(t)
		var empty []panelQuery
		for _, q := range pending {
			series, err := instantQuery(q.expr)
			switch {
			case err != nil:
				t.Errorf("%s: %v", q, err) // a wrong query stays wrong: no second try
			case len(series) == 0:
				empty = append(empty, q)
			}
		}
		pending = empty
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	for _, q := range pending {
		t.Errorf("%s: no series within %v of light traffic", q, within)
	}
	if len(pending) > 0 {
		// What the scrapes behind the empty panels saw, for the next reader of a failure (once,
		// a run's leader-only panels stayed empty for the whole wait).
		for _, expr := range []string{`up`, `scrape_duration_seconds`, `pg_up`, `pg_replication_is_replica`} {
			series, err := instantQuery(expr + `{job=~"postgres|patroni"}`)
			t.Logf("%s: %v %s", expr, err, series)
		}
	}
}
