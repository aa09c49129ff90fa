//go:build e2e && drill

// Drills: fault and timing runs that take over a minute each, run by `make drill-…` (not by
// make test). Each prints its figures and fails when they break the rule it checks.
package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func drillInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// placeOrders has n guests buy one unit each of product id, concurrently; it returns the ids
// of the orders the API acknowledged with a 201.
func placeOrders(t *testing.T, id int64, n int) []int64 {
	t.Helper()
	var (
		mu    sync.Mutex
		ids   []int64
		wg    sync.WaitGroup
		next  atomic.Int64
		fails atomic.Int64
		last  atomic.Value
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				s := newShopper(t)
				if _, err := sendVia(s.c, "PUT", fmt.Sprintf("/api/v1/cart/items/%d", id), map[string]int{"quantity": 1}, nil); err != nil {
					fails.Add(1)
					continue
				}
				r, err := sendVia(s.c, "POST", "/api/v1/orders", map[string]string{"email": "drill@shop.test"},
					map[string]string{"Idempotency-Key": unique("drill-")})
				if err != nil || r.status != http.StatusCreated {
					fails.Add(1)
					last.Store(fmt.Sprintf("%d %s %v", r.status, r.body, err))
					continue
				}
				var o orderView
				if r.json(t, &o); o.ID > 0 {
					mu.Lock()
					ids = append(ids, o.ID)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if fails.Load() > 0 {
		t.Logf("%d of %d checkouts failed, the last with %v", fails.Load(), n, last.Load())
	}
	return ids
}

// A worker is killed with SIGKILL in the middle of a burst of confirmation emails. Every order
// must still get its email (a killed worker's tasks go back to the queue when their lease runs
// out); duplicates, sent twice because a worker died between sending and acknowledging, are
// counted and must stay within what the killed worker had in flight.
func TestDrillWorkerKilledDuringEmails(t *testing.T) {
	n := drillInt("DRILL_ORDERS", 300)
	word := unique("Drill")
	p := createProduct(t, map[string]any{"name": "Drill " + word, "stock": n})

	// Workers stopped while the orders commit, so their emails queue up; the mail catcher paused
	// when the workers start, so each worker holds as many emails in flight as it runs at once:
	// the kill lands in the middle of the burst, whatever the machine's speed.
	compose(t, "stop", "worker")
	ids := placeOrders(t, p.ID, n)
	workers := strings.Fields(compose(t, "ps", "-a", "-q", "worker"))
	mailpit := strings.TrimSpace(compose(t, "ps", "-q", "mailpit"))
	runOut(t, "docker", "pause", mailpit)
	t.Cleanup(func() { _ = exec.Command("docker", "unpause", mailpit).Run() })
	start := time.Now()
	runOut(t, "docker", append([]string{"start"}, workers...)...)
	time.Sleep(3 * time.Second) // the workers take their first tasks, and wait on SMTP
	victim := workers[0]
	runOut(t, "docker", "kill", "--signal", "KILL", victim)
	runOut(t, "docker", "unpause", mailpit)
	time.Sleep(2 * time.Second)
	runOut(t, "docker", "start", victim)

	var counts map[int64]int
	deadline := time.Now().Add(3 * time.Minute)
	for {
		counts = emailsPerOrder(t, word, 2*n)
		if len(counts) >= len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(3 * time.Second) // a late duplicate still counts
	counts = emailsPerOrder(t, word, 2*n)
	missing, duplicates := 0, 0
	for _, id := range ids {
		switch c := counts[id]; {
		case c == 0:
			missing++
		case c > 1:
			duplicates += c - 1
		}
	}
	concurrency := drillInt("WORKER_CONCURRENCY", 8)
	fmt.Printf("\ndrill worker-kill: %d orders acknowledged, 1 worker killed (SIGKILL) with its emails in flight\n", len(ids))
	fmt.Printf("  emails for %d of %d orders in %.0f s   missing %d   duplicates %d (bound: %d, the killed worker's concurrency)\n\n",
		len(ids)-missing, len(ids), time.Since(start).Seconds(), missing, duplicates, concurrency)
	if len(ids) != n {
		t.Errorf("%d of %d checkouts acknowledged", len(ids), n)
	}
	if missing > 0 {
		t.Errorf("%d orders without their email", missing)
	}
	if duplicates > concurrency {
		t.Errorf("%d duplicate emails from one kill, more than the %d tasks a worker runs at once", duplicates, concurrency)
	}
}

// workerRuns sums, over every worker instance, the tasks of type typ each has finished.
func workerRuns(t *testing.T, typ string) int {
	t.Helper()
	total := 0
	for _, id := range strings.Fields(compose(t, "ps", "-q", "worker")) {
		ip := strings.TrimSpace(runOut(t, "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id))
		out := compose(t, "exec", "-T", "haproxy", "curl", "-fsS", "http://"+ip+":8080/metrics")
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "flashcrowd_worker_tasks_total{") && strings.Contains(line, `type="`+typ+`"`) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += int(v)
			}
		}
	}
	return total
}

func runOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Every worker instance runs the scheduler, yet a job runs once per period across all of
// them: with a 10 s period and 3 workers, 6 ± 1 runs in 60 s, not 18.
func TestDrillScheduledJobRunsOncePerPeriod(t *testing.T) {
	const period, window, instances = 10 * time.Second, 60 * time.Second, 3
	up := func(env ...string) {
		cmd := exec.Command("docker", "compose", "up", "--detach", "--wait", "--scale", fmt.Sprintf("worker=%d", instances), "worker")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("compose up: %v %s", err, out)
		}
	}
	up("SALES_REPORT_PERIOD=" + period.String())
	t.Cleanup(func() {
		cmd := exec.Command("docker", "compose", "up", "--detach", "--wait", "worker")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("compose up: %v %s", err, out)
		}
	})
	before := workerRuns(t, "report:sales")
	time.Sleep(window)
	runs := workerRuns(t, "report:sales") - before
	fmt.Printf("\ndrill scheduler: job report:sales, period %v, %d worker instances each running the scheduler\n", period, instances)
	fmt.Printf("  runs in %v: %d (want %d ± 1; without the per-period task id it would be about %d)\n\n",
		window, runs, int(window/period), instances*int(window/period))
	if want := int(window / period); runs < want-1 || runs > want+1 {
		t.Errorf("%d runs in %v, want %d ± 1", runs, window, want)
	}
}
