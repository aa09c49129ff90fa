//go:build e2e && drill

// Fault drills (make drill-primary, drill-switchover, …; make drills runs them all): each breaks
// one thing while k6's drill scenario (k6/drill.js) reads and buys, puts it right, and prints one
// row: failed reads, failed writes (buyers who retried on 503 and still had no order), seconds
// until writes were acknowledged again, acknowledged orders lost (201s without a row
// afterwards), and the alerts that reached the on-call mailbox, with their delay.
package e2e

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// drillFigures is what a drill measured.
type drillFigures struct {
	reads, buyers         int
	readsFailed           float64 // %
	buyersFailed          float64 // %
	acked, lost           int
	answers503            int
	dropped               int           // iterations k6 could not start: shoppers who never came
	latencyOf503          string        // "p50 …, p99 …"
	recover, writePause   time.Duration // 0: no write failed
	firstFail, lastFailed time.Time
	failedAnswers         map[string]int // write attempts not acknowledged, by status (0: no answer)
	alerts                []string
	events                []string
}

var (
	k6Event    = regexp.MustCompile(`msg="(ACK|W) ([^"]+)"`)
	k6Drill    = regexp.MustCompile(`drill: reads (\d+), failed ([\d.]+)%; buyers (\d+), failed ([\d.]+)%.*orders acknowledged (\d+)`)
	k6Answers  = regexp.MustCompile(`503 answers (\d+) \((p50 [^,]+, p99 [^)]+)\)`)
	k6Dropped  = regexp.MustCompile(`dropped iterations (\d+)`)
	drillSince = func(t0 time.Time) string { return fmt.Sprintf("+%.1f s", time.Since(t0).Seconds()) }
)

// runDrill runs k6's drill scenario, calls fault WARMUP (15 s) into it, waits for k6, and
// returns the figures; fault returns what it saw happen, each with its time since the fault.
func runDrill(t *testing.T, name string, fault func(t0 time.Time) []string) drillFigures {
	t.Helper()
	// Every instance and member in rotation first: an earlier drill may have just ended.
	ready := exec.Command("infra/scripts/wait-ready.sh")
	ready.Dir = "../.."
	ready.Env = append(os.Environ(), "HAPROXY_STATS_PORT="+getenv("HAPROXY_STATS_PORT", dotenv("HAPROXY_STATS_PORT")))
	if out, err := ready.CombinedOutput(); err != nil {
		t.Fatalf("the stack is not ready: %v\n%s", err, out)
	}
	// k6's image built first: the fault is timed from k6's start, and a first run on a new
	// machine spent minutes building it (the fault came before any load).
	compose(t, "--profile", "tools", "build", "--quiet", "k6")
	duration := drillInt("DURATION", 90)
	cmd := exec.Command("k6/run.sh")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "SCENARIO=drill", "QUIET=1", "MODE=drill-"+name,
		fmt.Sprintf("DURATION=%ds", duration),
		fmt.Sprintf("RATE=%d", drillInt("RATE", 20)), fmt.Sprintf("CHECKOUT_RATE=%d", drillInt("CHECKOUT_RATE", 2)))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(drillInt("WARMUP", 15)) * time.Second)
	t0 := time.Now()
	t.Logf("%s: the fault, %d s into k6's %d s", name, drillInt("WARMUP", 15), duration)
	events := fault(t0)
	for _, e := range events {
		t.Logf("  %s", e)
	}
	err := cmd.Wait()
	keep(name+".k6.log", out.String())
	f := parseDrill(t, out.String(), t0)
	if f.reads == 0 {
		t.Fatalf("k6 printed no drill figures (%v):\n%s", err, tail(out.String(), 40))
	}
	f.events = events
	f.lost = f.acked - ordersPresent(t, ackedIDs(out.String()))
	f.alerts = alertsSince(t, t0)
	report(t, name, f)
	return f
}

func parseDrill(t *testing.T, out string, t0 time.Time) drillFigures {
	f := drillFigures{failedAnswers: map[string]int{}}
	var lastAckAfterFail time.Time
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := k6Drill.FindStringSubmatch(line); m != nil {
			f.reads, _ = strconv.Atoi(m[1])
			f.readsFailed, _ = strconv.ParseFloat(m[2], 64)
			f.buyers, _ = strconv.Atoi(m[3])
			f.buyersFailed, _ = strconv.ParseFloat(m[4], 64)
			f.acked, _ = strconv.Atoi(m[5])
		}
		if m := k6Dropped.FindStringSubmatch(line); m != nil {
			f.dropped, _ = strconv.Atoi(m[1])
		}
		if m := k6Answers.FindStringSubmatch(line); m != nil {
			f.answers503, _ = strconv.Atoi(m[1])
			f.latencyOf503 = m[2]
		}
		m := k6Event.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		switch {
		case m[1] == "W" && len(fields) >= 2:
			at := unixMillis(fields[0])
			if at.Before(t0) {
				continue // before the fault: not its doing (and counted in the k6 figures)
			}
			f.failedAnswers[fields[1]]++
			if f.firstFail.IsZero() || at.Before(f.firstFail) {
				f.firstFail = at
			}
			if at.After(f.lastFailed) {
				f.lastFailed = at
			}
		case m[1] == "ACK" && len(fields) >= 2:
			at := unixMillis(fields[1])
			if !f.lastFailed.IsZero() && at.After(f.lastFailed) && (lastAckAfterFail.IsZero() || at.Before(lastAckAfterFail)) {
				lastAckAfterFail = at
			}
		}
	}
	// Writes were acknowledged again with the first checkout started after the last one that
	// failed (ACK lines come in any order, so this takes the earliest such).
	if !f.lastFailed.IsZero() && !lastAckAfterFail.IsZero() {
		f.recover = lastAckAfterFail.Sub(t0)
		f.writePause = lastAckAfterFail.Sub(f.firstFail)
	}
	return f
}

func unixMillis(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(n)
}

// ackedIDs are the orders the API answered 201 for.
func ackedIDs(out string) []string {
	var ids []string
	for _, m := range k6Event.FindAllStringSubmatch(out, -1) {
		if m[1] == "ACK" {
			ids = append(ids, strings.Fields(m[2])[0])
		}
	}
	return ids
}

// ordersPresent counts how many of ids are rows in the leader's orders table.
func ordersPresent(t *testing.T, ids []string) int {
	t.Helper()
	if len(ids) == 0 {
		return 0
	}
	leader, _ := cluster(t)
	return psqlInt(t, leader, fmt.Sprintf(`SELECT count(*) FROM orders WHERE id IN (%s)`, strings.Join(ids, ",")))
}

// alertsSince lists the alert mails the on-call mailbox received since t0 (waiting a moment for
// those on their way), each with its delay after t0.
func alertsSince(t *testing.T, t0 time.Time) []string {
	t.Helper()
	time.Sleep(5 * time.Second)
	var out struct {
		Messages []struct {
			Subject string    `json:"Subject"`
			Created time.Time `json:"Created"`
		} `json:"messages"`
	}
	getJSON(t, mailpitURL+"/api/v1/search?limit=50&query="+url.QueryEscape("to:on-call@flashcrowd.test"), &out)
	var alerts []string
	for i := len(out.Messages) - 1; i >= 0; i-- { // oldest first
		m := out.Messages[i]
		if m.Created.Before(t0) {
			continue
		}
		subject, _, _ := strings.Cut(m.Subject, ":")
		alerts = append(alerts, fmt.Sprintf("%s +%.0f s", subject, m.Created.Sub(t0).Seconds()))
	}
	return alerts
}

// report prints the drill's row and keeps it in results/drills/<name>.txt for make drills' table.
func report(t *testing.T, name string, f drillFigures) {
	t.Helper()
	recover := "no write failed"
	if f.recover > 0 {
		recover = fmt.Sprintf("%.1f", f.recover.Seconds())
	}
	alerts := strings.Join(f.alerts, ", ")
	if alerts == "" {
		alerts = "none"
	}
	row := fmt.Sprintf("| %s | %d | %.2f | %d | %.2f | %s | %d | %d | %s |",
		name, f.reads, f.readsFailed, f.buyers, f.buyersFailed, recover, f.acked, f.lost, alerts)
	t.Logf("\n| drill | reads | failed reads %% | buyers | failed writes %% | s to recover | orders acknowledged | lost | alerts (after the fault) |\n|---|---|---|---|---|---|---|---|---|\n%s", row)
	if len(f.failedAnswers) > 0 {
		t.Logf("write attempts not acknowledged, by status: %v; 503s answered in %s; writes paused %.1f s (first failed attempt to the first acknowledged after the last)",
			f.failedAnswers, f.latencyOf503, f.writePause.Seconds())
	}
	keep(name+".txt", row+"\n"+strings.Join(f.events, "\n")+"\n")
}

// keep writes a drill's file under results/drills/ (k6's output, the row for make drills).
func keep(file, body string) {
	dir := filepath.Join("..", "..", "results", "drills")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newLeader waits for a leader other than old and says when it came.
func newLeader(t *testing.T, old string, t0 time.Time, within time.Duration) (string, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if leader, _ := roles(t); leader != "" && leader != old {
			return leader, fmt.Sprintf("%s leads, %s after the fault", leader, drillSince(t0))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("no new leader within %v of the fault", within)
	return "", fmt.Sprintf("no new leader within %v", within)
}

// rejoined waits until the cluster has a leader and two streaming replicas again.
func rejoined(t *testing.T, t0 time.Time) string {
	t.Helper()
	cluster(t)
	return fmt.Sprintf("a leader and two replicas again, %s after the fault", drillSince(t0))
}

// make drill-primary: the leader's container is killed (SIGKILL: Postgres and Patroni at once).
// A replica is promoted within 30 s; reads never fail; writes answer 503 meanwhile and then
// succeed; with synchronous replication no acknowledged order is lost. SYNC=off runs it with
// asynchronous replication (and puts synchronous back after), to print that figure.
func TestDrillPrimary(t *testing.T) {
	old, _ := cluster(t)
	if os.Getenv("SYNC") == "off" {
		patronictl(t, old, "edit-config", "--force", "--set", "synchronous_mode=false")
		t.Cleanup(func() {
			leader, _ := cluster(t)
			patronictl(t, leader, "edit-config", "--force", "--set", "synchronous_mode=true")
		})
	}
	f := runDrill(t, "primary", func(t0 time.Time) []string {
		compose(t, "kill", "-s", "KILL", old)
		events := []string{fmt.Sprintf("kill -9 of %s (the leader's container)", old)}
		leader, e := newLeader(t, old, t0, 45*time.Second)
		events = append(events, e)
		if leader == "" {
			return events
		}
		compose(t, "start", old)
		return append(events, rejoined(t, t0)+fmt.Sprintf(" (%s rejoined as a replica)", old))
	})
	if os.Getenv("SYNC") == "off" {
		// Asynchronous replication may lose what the leader acknowledged and no replica had:
		// that figure is what this run is for, printed above, not a rule.
		f.lost = 0
	}
	check(t, f, 0, 0)
	if f.recover == 0 || f.recover > 40*time.Second {
		t.Errorf("writes acknowledged again %v after the fault, want a pause that ends within 40 s", f.recover)
	}
	if f.answers503 == 0 {
		t.Error("no write was answered 503 while there was no leader: the drill proved nothing")
	}
}

// make drill-switchover: a planned leader change (patronictl switchover), the sources' cutover.
// Reads never fail; writes pause at most 10 s; a client that retries on 503 loses none.
func TestDrillSwitchover(t *testing.T) {
	old, _ := cluster(t)
	f := runDrill(t, "switchover", func(t0 time.Time) []string {
		// No candidate named: with synchronous replication only the synchronous standby may
		// take over, and Patroni picks it.
		patronictl(t, old, "switchover", "--leader", old, "--force")
		events := []string{fmt.Sprintf("switchover away from %s", old)}
		_, e := newLeader(t, old, t0, 30*time.Second)
		return append(events, e, rejoined(t, t0))
	})
	check(t, f, 0, 0)
	if f.writePause > 10*time.Second {
		t.Errorf("writes paused %.1f s, want at most 10 s", f.writePause.Seconds())
	}
}

// check holds a drill to its rules: at most maxReads % failed reads and maxWrites % failed
// writes, and no acknowledged order lost.
func check(t *testing.T, f drillFigures, maxReads, maxWrites float64) {
	t.Helper()
	if f.dropped > 0 {
		t.Errorf("k6 dropped %d iterations: shoppers it never started cannot fail, so the figures understate", f.dropped)
	}
	if f.readsFailed > maxReads {
		t.Errorf("%.2f %% of reads failed, want at most %.2f %%", f.readsFailed, maxReads)
	}
	if f.buyersFailed > maxWrites {
		t.Errorf("%.2f %% of buyers had no order, want at most %.2f %%", f.buyersFailed, maxWrites)
	}
	if f.lost != 0 {
		t.Errorf("%d of %d acknowledged orders are missing", f.lost, f.acked)
	}
}

// container is the id of one running container of service (the first compose lists).
func container(t *testing.T, service string) string {
	t.Helper()
	ids := strings.Fields(compose(t, "ps", "-q", service))
	if len(ids) == 0 {
		t.Fatalf("no %s container runs", service)
	}
	return ids[0]
}

// killFor kills one container of service (SIGKILL: nothing is shut down cleanly), waits hold,
// and starts it again; the events say when.
func killFor(t *testing.T, service string, hold time.Duration, t0 time.Time) []string {
	t.Helper()
	id := container(t, service)
	runOut(t, "docker", "kill", "-s", "KILL", id)
	events := []string{fmt.Sprintf("kill -9 of one %s container (%s)", service, id[:12])}
	time.Sleep(hold)
	runOut(t, "docker", "start", id)
	return append(events, fmt.Sprintf("started again %s after the fault", drillSince(t0)))
}

// poolState waits until HAProxy has server in backend UP (up) or not, and says when.
func poolState(t *testing.T, backend, server string, up bool, t0 time.Time, within time.Duration) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if (haproxyStatus(t, backend, server) == "UP") == up {
			state := "left"
			if up {
				state = "is back in"
			}
			return fmt.Sprintf("%s %s %s, %s after the fault", server, state, backend, drillSince(t0)), true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Sprintf("%s still %s in %s after %v", server, map[bool]string{true: "out", false: "in"}[up], backend, within), false
}

// make drill-replica: a replica's container is killed and started again 20 s later. Reads go
// on from the other replica (or the leader); writes go on (with synchronous replication the
// leader waits for the other replica once Patroni has made it the synchronous one).
func TestDrillReplica(t *testing.T) {
	_, replicas := cluster(t)
	victim := replicas[0]
	f := runDrill(t, "replica", func(t0 time.Time) []string {
		compose(t, "kill", "-s", "KILL", victim)
		events := []string{fmt.Sprintf("kill -9 of %s (a replica's container)", victim)}
		e, _ := poolState(t, "pg_replicas", victim, false, t0, 15*time.Second)
		events = append(events, e)
		time.Sleep(time.Until(t0.Add(20 * time.Second)))
		compose(t, "start", victim)
		return append(events, fmt.Sprintf("started again %s after the fault", drillSince(t0)), rejoined(t, t0))
	})
	check(t, f, 0, 0)
}

// make drill-partition: a replica is cut off from the network (docker network disconnect):
// from its leader, etcd and HAProxy alike. It must leave the read pool within 15 s, and serve
// no read once out; 20 s later it is connected again and comes back.
func TestDrillPartition(t *testing.T) {
	_, replicas := cluster(t)
	victim := replicas[0]
	id := container(t, victim)
	network := "flashcrowd_default"
	var served int
	f := runDrill(t, "partition", func(t0 time.Time) []string {
		runOut(t, "docker", "network", "disconnect", network, id)
		events := []string{fmt.Sprintf("%s disconnected from %s", victim, network)}
		e, out := poolState(t, "pg_replicas", victim, false, t0, 15*time.Second)
		events = append(events, e)
		if !out {
			t.Errorf("%s did not leave the read pool within 15 s", victim)
		}
		before := productReads(t, victim)[victim] // docker exec needs no network
		time.Sleep(time.Until(t0.Add(20 * time.Second)))
		served = productReads(t, victim)[victim] - before
		runOut(t, "docker", "network", "connect", "--alias", victim, network, id)
		events = append(events, fmt.Sprintf("connected again %s after the fault; it served %d reads while out of the pool", drillSince(t0), served))
		e, _ = poolState(t, "pg_replicas", victim, true, t0, 60*time.Second)
		return append(events, e)
	})
	check(t, f, 0, 0)
	if served != 0 {
		t.Errorf("the cut-off replica served %d reads after it left the read pool", served)
	}
}

// killDrill is a drill whose fault is one container of service killed (SIGKILL) and started
// again 15 s later; shoppers must lose no read and no write to it.
func killDrill(t *testing.T, name, service string) {
	t.Helper()
	f := runDrill(t, name, func(t0 time.Time) []string { return killFor(t, service, 15*time.Second, t0) })
	check(t, f, 0, 0)
}

// make drill-catalog, drill-gateway: HAProxy retries a read that found its instance gone on
// another one; a buyer whose request was lost sends it again (its key makes that safe).
func TestDrillCatalog(t *testing.T) { killDrill(t, "catalog", "catalog") }
func TestDrillGateway(t *testing.T) { killDrill(t, "gateway", "gateway") }

// make drill-redis: the main Redis (cache, sessions, carts). Reads fall back to the database;
// carts and sessions answer 503 until it is back, and the buyers' retries then succeed.
func TestDrillRedis(t *testing.T) { killDrill(t, "redis", "redis") }

// make drill-pgbouncer: one of the two PgBouncers; the app pools connect to the other.
func TestDrillPgbouncer(t *testing.T) { killDrill(t, "pgbouncer", "pgbouncer-1") }

// make drill-worker: its tasks run again elsewhere (asynq's lease); shoppers notice nothing.
func TestDrillWorker(t *testing.T) { killDrill(t, "worker", "worker") }

// make drill-minio: images do not load meanwhile (k6 does not fetch them); the shop's reads
// and writes go on.
func TestDrillMinio(t *testing.T) { killDrill(t, "minio", "minio") }
