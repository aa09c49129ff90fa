//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// canaryRow is the canary's row of make canary's report: its share and its error rate (%).
var canaryRow = regexp.MustCompile(`(?m)^\s+canary\s+\d+\s+\d+\s+\d+\s+([\d.]+)%\s+([\d.]+)%$`)

// canary runs make canary's script with a weight ("" for the report alone) and returns what it
// printed.
func canary(t *testing.T, weight string) string {
	t.Helper()
	out, err := runCanary(weight)
	if err != nil {
		t.Fatalf("canary.sh %s: %v\n%s", weight, err, out)
	}
	return out
}

func runCanary(weight string) (string, error) {
	cmd := exec.Command("infra/scripts/canary.sh", weight)
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "CANARY_WINDOW=2", "HAPROXY_STATS_PORT="+getenv("HAPROXY_STATS_PORT", dotenv("HAPROXY_STATS_PORT")))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// versions sends n product reads through the edge from 16 clients at once and counts the
// answers by the version that served them (X-Version). Each request carries an Authorization
// header, which the edge cache never answers, so every one reaches a catalog instance.
func versions(t *testing.T, base string, n int) map[string]int {
	t.Helper()
	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		next    atomic.Int64
		wg      sync.WaitGroup
		failure atomic.Value
	)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	auth := map[string]string{"Authorization": "Bearer canary-test"}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				r, err := sendVia(c, http.MethodGet, fmt.Sprintf("%s/api/v1/products/%d", base, 1+i%50), nil, auth)
				if err != nil || r.status != http.StatusOK {
					failure.Store(fmt.Sprintf("product %d: status %d, %v", 1+i%50, r.status, err))
					return
				}
				mu.Lock()
				seen[r.header.Get("X-Version")]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if f := failure.Load(); f != nil {
		t.Fatalf("a read failed: %s", f)
	}
	return seen
}

// make canary: at WEIGHT=10 the canary answers 10 % ± 3 % of 10,000 requests, and each answer
// says which version gave it; WEIGHT=0 takes it out again.
func TestCanaryTakesItsWeight(t *testing.T) {
	base := loadURL(t)
	t.Cleanup(func() { canary(t, "0") })
	out := canary(t, "10")
	if !strings.Contains(out, "canary: 10 %") || !strings.Contains(out, "version") {
		t.Fatalf("canary.sh 10 printed no weights or report:\n%s", out)
	}
	// make canary's report (its 2 s window), taken while the reads go on.
	type result struct {
		out string
		err error
	}
	report := make(chan result, 1)
	go func() {
		time.Sleep(2 * time.Second)
		out, err := runCanary("")
		report <- result{out, err}
	}()
	seen := versions(t, base, 10_000)
	share := float64(seen["canary"]) / 10_000
	t.Logf("WEIGHT=10: %v (canary %.1f %%)", seen, 100*share)
	if seen["canary"]+seen["stable"] != 10_000 {
		t.Errorf("answers by version %v: want each labelled stable or canary", seen)
	}
	if share < 0.07 || share > 0.13 {
		t.Errorf("the canary answered %.1f %% of 10,000 requests at WEIGHT=10, want 10 %% ± 3 %%", 100*share)
	}
	// The report counts what the load balancer saw: the canary's share, and no errors. Its
	// window must fall on reads: go on reading, in small batches, until it is taken.
	var r result
	for taken := false; !taken; {
		select {
		case r = <-report:
			taken = true
		default:
			versions(t, base, 200)
		}
	}
	if r.err != nil {
		t.Fatalf("canary.sh (the report): %v\n%s", r.err, r.out)
	}
	out = r.out
	row := canaryRow.FindStringSubmatch(out)
	if row == nil {
		t.Fatalf("report without the canary's row:\n%s", out)
	}
	if got, _ := strconv.ParseFloat(row[1], 64); got < 7 || got > 13 || row[2] != "0.00" {
		t.Errorf("report: canary share %s %%, errors %s %%; want 10 %% ± 3 %% and 0.00 %%:\n%s", row[1], row[2], out)
	}

	out = canary(t, "0")
	if ids := compose(t, "ps", "--quiet", "catalog-canary"); ids != "" {
		t.Errorf("WEIGHT=0 left the canary running: %s\n%s", ids, out)
	}
	if seen := versions(t, base, 500); seen["canary"] != 0 || seen["stable"] != 500 {
		t.Errorf("after WEIGHT=0: answers by version %v, want all 500 from stable", seen)
	}
}
