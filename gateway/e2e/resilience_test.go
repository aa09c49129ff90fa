//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests stop a server and start it again; they run after the others (file order).

// waitReady waits until HAProxy routes to every running instance of services again.
func waitReady(t *testing.T, services ...string) {
	t.Helper()
	cmd := exec.Command("../../infra/scripts/wait-ready.sh", services...)
	cmd.Env = append(os.Environ(), "HAPROXY_STATS_PORT="+getenv("HAPROXY_STATS_PORT", "8404"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%v not back in HAProxy's rotation: %v %s", services, err, out)
	}
}

// startRedis starts the main Redis again, and waits until the shop works again: HAProxy
// routes to the orders instances (their readiness asks Redis for carts) and a cart takes an
// item. Redis has no Docker healthcheck, so `compose up --wait` returns as soon as it runs. In
// CI the first cart adds after the restart were still refused (503, "the catalog is
// unavailable for a moment") after the orders instances were back in rotation.
func startRedis(t *testing.T) {
	t.Helper()
	compose(t, "up", "--detach", "--wait", "redis")
	waitReady(t, "orders")
	// Any answer but a 503 (a seeded product may be sold out: 409) means carts work again.
	eventually(t, 30*time.Second, "a cart add answered without a 503 after Redis came back", func() bool {
		return newShopper(t).addToCart(7, 1).status != http.StatusServiceUnavailable
	})
}

func TestReadsSurviveRedisOutage(t *testing.T) {
	compose(t, "stop", "redis")
	t.Cleanup(func() { startRedis(t) })
	for id := int64(300); id < 330; id++ {
		getProduct(t, id) // fails the test on any non-200
	}

	startRedis(t)
	// Caching resumes: a product first read after the restart is soon answered by Redis for
	// an instance that has not read it yet. (Redis kept the preloaded copy on disk: drop it.)
	const id = 331
	dropProducts(t, id, 1)
	eventually(t, 10*time.Second, "a Redis hit after Redis came back", func() bool {
		_, r := getProduct(t, id)
		return r.header.Get("X-Cache") == "redis-hit"
	})
}

// The queue's Redis is stopped for 10 s while guests check out. Carts and sessions live in the
// other Redis and every order commits with its outbox rows, so each checkout gets its 201; once
// the queue is back, the outbox relays catch up and every order's confirmation arrives, once.
func TestOrdersPlacedWhileTheQueueIsDownGetTheirEmails(t *testing.T) {
	const orders, outage = 5, 10 * time.Second
	word := unique("Outage")
	p := createProduct(t, map[string]any{"name": "E2E " + word, "stock": orders})

	compose(t, "stop", "redis-queue")
	stopped := time.Now()
	t.Cleanup(func() { compose(t, "up", "--detach", "--wait", "redis-queue") })
	var ids []int64
	for i := range orders {
		s := newShopper(t)
		want(t, s.addToCart(p.ID, 1), 200, "add to cart with the queue down")
		email := fmt.Sprintf("%s-%d@shop.test", strings.ToLower(word), i)
		var o orderView
		want(t, s.checkout(unique("k"), map[string]string{"email": email}), 201, "checkout with the queue down").json(t, &o)
		ids = append(ids, o.ID)
	}
	time.Sleep(time.Until(stopped.Add(outage)))
	// Nothing can have been sent: else the queue was not down, and the test proves nothing.
	if n := len(mails(t, word, 50)); n > 0 {
		t.Fatalf("%d confirmation emails arrived while the queue was down", n)
	}

	compose(t, "up", "--detach", "--wait", "redis-queue")
	back := time.Now()
	eventually(t, 30*time.Second, "every order's confirmation email after the queue came back", func() bool {
		counts := emailsPerOrder(t, word, 50)
		for _, id := range ids {
			if counts[id] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("%d orders placed with the queue down for %v; their emails all arrived %v after it came back",
		orders, back.Sub(stopped).Round(100*time.Millisecond), time.Since(back).Round(100*time.Millisecond))
	time.Sleep(3 * time.Second) // a late duplicate still counts
	counts := emailsPerOrder(t, word, 50)
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("order %d: %d confirmation emails, want 1", id, counts[id])
		}
	}
}

func TestReadsSurviveAReplicaOutage(t *testing.T) {
	leader, replicas := cluster(t)
	down, other := replicas[0], replicas[1]
	compose(t, "stop", down)
	t.Cleanup(func() { compose(t, "up", "--detach", "--wait", down) })
	up := []string{leader, other}
	before := productReads(t, up...)
	first := uncachedIDs(t, 60)
	for id := first; id < first+60; id++ {
		getProduct(t, id) // fails the test on any non-200
	}
	during := productReads(t, up...)
	if during[leader]+during[other] == before[leader]+before[other] {
		t.Fatal("no read reached the database during the outage: the test proved nothing")
	}
	compose(t, "up", "--detach", "--wait", down)
	// Back in rotation: it streams again and serves reads.
	eventually(t, 30*time.Second, down+" streaming again", func() bool {
		return psql(t, leader, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`) == "2"
	})
	served := productReads(t)[down]
	// HAProxy takes the replica back after two passing checks; the pools' connections opened
	// before stay on the other replica until PgBouncer retires them (60 s), but reads in
	// parallel make the pools open new ones, which HAProxy sends to the replica with the fewest.
	back := time.Now()
	eventually(t, 90*time.Second, down+" serving reads again", func() bool {
		readInParallel(t, uncachedIDs(t, 40), 40)
		return productReads(t)[down] > served
	})
	t.Logf("%s served reads again %v after it was streaming", down, time.Since(back).Round(time.Second))
}

// haproxyStatus reads a server's status (UP, DOWN, ...) from HAProxy's stats CSV.
func haproxyStatus(t *testing.T, backend, server string) string {
	t.Helper()
	out := compose(t, "exec", "-T", "haproxy", "curl", "-fsS", "http://127.0.0.1:8404/;csv")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) > 17 && f[0] == backend && f[1] == server {
			return f[17]
		}
	}
	t.Fatalf("no %s/%s in HAProxy's stats", backend, server)
	return ""
}

// A replica more than PG_READ_MAX_LAG (16 MB) of WAL behind the leader leaves the read pool:
// Patroni's /replica?lag= compares its replay position with the leader's last one in etcd.
func TestLaggingReplicaLeavesTheReadPool(t *testing.T) {
	leader, replicas := cluster(t)
	lagging, other := replicas[1], replicas[0]
	// Patroni resumes a replica's paused replay at its next loop, unless cluster management is
	// paused (maintenance mode: no failover meanwhile either).
	patronictl(t, leader, "pause", "--wait")
	t.Cleanup(func() { patronictl(t, leader, "resume", "--wait") })
	psql(t, lagging, `SELECT pg_wal_replay_pause()`)
	t.Cleanup(func() { psql(t, lagging, `SELECT pg_wal_replay_resume()`) })
	// WAL the paused replica receives but does not replay: each switch to a new segment after a
	// write moves the leader's position to the next 16 MB boundary.
	for range 3 {
		psql(t, leader, `UPDATE products SET stock = stock WHERE id = 1`)
		psql(t, leader, `SELECT pg_switch_wal()`)
	}
	eventually(t, 30*time.Second, "HAProxy taking the lagging replica out", func() bool {
		return strings.HasPrefix(haproxyStatus(t, "pg_replicas", lagging), "DOWN")
	})

	before := productReads(t)
	first := uncachedIDs(t, 30)
	for id := first; id < first+30; id++ {
		getProduct(t, id)
	}
	after := productReads(t)
	if n := after[lagging] - before[lagging]; n != 0 {
		t.Fatalf("the lagging replica served %d reads", n)
	}
	if after[other] == before[other] {
		t.Fatalf("the healthy replica served no reads: %v → %v", before, after)
	}

	psql(t, lagging, `SELECT pg_wal_replay_resume()`)
	eventually(t, 30*time.Second, "the replica back in the read pool", func() bool {
		return haproxyStatus(t, "pg_replicas", lagging) == "UP"
	})
}

// A process that `docker exec` leaves behind (a healthcheck's psql orphaned by a probe timeout)
// must not be adopted by the postmaster: it would take the orphan's odd exit for a crashed
// backend and restart the whole server. An init process (compose `init: true`) adopts it instead.
func TestAnOrphanedExecDoesNotRestartPostgres(t *testing.T) {
	_, replicas := cluster(t)
	node := replicas[0]
	since := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	// The subshell exits at once, so psql is orphaned for certain (its parent is gone before it
	// dies) and adopted by PID 1.
	compose(t, "exec", "-T", node, "bash", "-c",
		`(psql -XAtq -U postgres -d flashcrowd -c "SELECT pg_sleep(2)" >/dev/null 2>&1 & echo $! >/tmp/orphan); sleep 0.5; kill -9 "$(cat /tmp/orphan)"`)
	time.Sleep(2 * time.Second)
	if logs := compose(t, "logs", "--no-log-prefix", "--since", since, node); strings.Contains(logs, "terminating any other active server processes") {
		t.Fatalf("%s restarted after an orphaned process was killed:\n%s", node, logs)
	}
}

// With every gateway stopped, the edge's standby answers: a "back soon" page for a browser and a
// problem for the API, both 503 with Retry-After, never a connection error or HAProxy's own 503.
func TestStandbyAnswersWhenEveryGatewayIsDown(t *testing.T) {
	compose(t, "kill", "gateway") // at once: this is about none being up, not about stopping well
	restart := func() {
		compose(t, "up", "--detach", "--wait", "--no-recreate", "gateway")
		waitReady(t, "gateway")
	}
	t.Cleanup(restart)

	var page response
	eventually(t, 10*time.Second, "the edge notices that no gateway is up", func() bool {
		// A URL of its own each time: the edge keeps the home page 10 s, and an earlier test's
		// copy would answer 200 here. Until its checks mark the killed gateways down, the edge
		// tries them, and after its retries answers its own 503: wait for the standby's.
		page = call(t, http.MethodGet, "/?standby="+unique(""), nil, nil)
		return page.status == http.StatusServiceUnavailable && !strings.Contains(string(page.body), "No server is available")
	})
	if page.header.Get("Retry-After") == "" || page.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(string(page.body), "back in a moment") {
		t.Errorf("the page: Retry-After %q, Content-Type %q\n%.300s", page.header.Get("Retry-After"), page.header.Get("Content-Type"), page.body)
	}
	// A URL no cache holds, so the answer must come from behind the edge.
	api := call(t, http.MethodGet, fmt.Sprintf("/api/v1/products?limit=3&sort=%s", "name"), nil, pastTheEdge)
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	api.json(t, &p)
	if api.status != http.StatusServiceUnavailable || p.Status != 503 || api.header.Get("Retry-After") == "" ||
		api.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("the API: %d %q Retry-After %q\n%s", api.status, api.header.Get("Content-Type"), api.header.Get("Retry-After"), api.body)
	}

	restart()
	if r := call(t, http.MethodGet, "/", nil, nil); r.status != http.StatusOK {
		t.Fatalf("after the gateways came back: %d", r.status)
	}
}

// Read-only mode: while no primary is reachable (here HAProxy's pg_write has no server; in a
// failover, until a replica is promoted and passes its checks), reads go on from the replicas
// and carts from Redis, every write answers a fast 503 problem with Retry-After, never a 500 or
// a hang, and the storefront shows a banner. Once the leader is back, writes succeed again and
// the banner goes.
func TestReadOnlyModeWhileThereIsNoPrimary(t *testing.T) {
	p := createProduct(t, map[string]any{"name": "E2E read-only lamp", "stock": 20})
	s := newShopper(t)
	want(t, s.addToCart(p.ID, 1), 200, "add to cart before the outage")

	leader, _ := cluster(t)
	// In maintenance the server takes no new connection; PgBouncer's open ones are cut too, as
	// HAProxy does when a check marks a server down.
	pgWrite := func(state string) {
		cmd := fmt.Sprintf("set server pg_write/%s state %s", leader, state)
		if state == "maint" {
			cmd += fmt.Sprintf("; shutdown sessions server pg_write/%s", leader)
		}
		out := compose(t, "exec", "-T", "-u", "haproxy", "haproxy", "sh", "-c",
			fmt.Sprintf(`echo "%s" | socat -t 2 stdio unix-connect:/run/haproxy/admin.sock`, cmd))
		if strings.TrimSpace(out) != "" {
			t.Fatalf("HAProxy's runtime API: %s", out)
		}
	}
	pgWrite("maint")
	t.Cleanup(func() { pgWrite("ready") })
	stopped := time.Now()

	// Reads that reach the database (past the caches) are served by the replicas.
	first := uncachedIDs(t, 20)
	for id := first; id < first+20; id++ {
		getProduct(t, id)
	}
	// The status the storefront's banner comes from (a catalog instance asks at most once a second).
	status := func() string {
		var v struct {
			Writes string `json:"writes"`
		}
		call(t, http.MethodGet, "/api/v1/status", nil, nil).json(t, &v)
		return v.Writes
	}
	eventually(t, 10*time.Second, "the status saying writes are unavailable", func() bool { return status() == "unavailable" })

	// Every write is a fast 503 problem with Retry-After.
	patch := fmt.Sprintf("/api/v1/admin/products/%d", p.ID)
	var took []time.Duration
	for i := range 10 {
		start := time.Now()
		r := call(t, http.MethodPatch, patch, map[string]any{"stock": 30 + i}, admin())
		took = append(took, time.Since(start))
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("admin write without a primary: %d %q Retry-After %q\n%s", r.status, r.header.Get("Content-Type"), r.header.Get("Retry-After"), r.body)
		}
	}
	slices.Sort(took)
	t.Logf("10 admin writes without a primary: 503 in %v (median), %v (slowest)", took[5].Round(time.Millisecond), took[9].Round(time.Millisecond))
	if took[5] > 100*time.Millisecond {
		t.Errorf("the 503 took %v (median), want at most 100 ms", took[5])
	}
	// The cart lives in Redis and keeps working; checkout needs the primary.
	want(t, s.addToCart(p.ID, 2), 200, "change the cart without a primary")
	co := s.checkout(unique("k"), map[string]string{"email": "read-only@shop.test"})
	if co.status != http.StatusServiceUnavailable || co.header.Get("Retry-After") == "" {
		t.Fatalf("checkout without a primary: %d Retry-After %q\n%s", co.status, co.header.Get("Retry-After"), co.body)
	}
	// The storefront says so (the edge keeps a page up to 10 s: each look is a URL of its own).
	banner := func() bool {
		page := call(t, http.MethodGet, "/?readonly="+unique(""), nil, nil)
		return page.status == http.StatusOK && strings.Contains(string(page.body), `class="readonly"`)
	}
	eventually(t, 15*time.Second, "the storefront's read-only banner", banner)
	t.Logf("read-only mode shown %v after the primary became unreachable", time.Since(stopped).Round(100*time.Millisecond))

	pgWrite("ready")
	back := time.Now()
	eventually(t, 30*time.Second, "writes succeeding again", func() bool {
		return call(t, http.MethodPatch, patch, map[string]any{"stock": 20}, admin()).status == http.StatusOK
	})
	t.Logf("writes succeeded again %v after the primary was back", time.Since(back).Round(100*time.Millisecond))
	// Once every PgBouncer pool has logged in again, writes keep succeeding, whichever catalog
	// instance and PgBouncer they take.
	settlePgBouncers(t)
	for i := range 20 {
		if r := call(t, http.MethodPatch, patch, map[string]any{"stock": 20 + i}, admin()); r.status != http.StatusOK {
			t.Errorf("write %d after the primary was back: %d\n%s", i+1, r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want(t, s.checkout(unique("k"), map[string]string{"email": "read-only@shop.test"}), 201, "checkout once the primary is back")
	eventually(t, 15*time.Second, "the banner gone", func() bool { return !banner() && status() == "available" })
}

// settlePgBouncers asks each PgBouncer's two pools for an answer until they give one. After
// a login to the database failed, PgBouncer refuses a pool's clients at once (the app answers
// 503 with Retry-After) until a login succeeds, and it tries one when a client asks, or on its
// own only while clients are connected: so a pool nobody used since the fault refuses its next
// client, seconds or minutes later. A test that took the database away leaves it settled.
func settlePgBouncers(t *testing.T) {
	t.Helper()
	for _, node := range []string{"pgbouncer-1", "pgbouncer-2"} {
		for _, database := range []string{"flashcrowd", "flashcrowd_ro"} {
			eventually(t, 15*time.Second, node+"'s pool "+database+" answering", func() bool {
				_, err := composeExec(t, map[string]string{"PGPASSWORD": dotenv("PG_APP_PASSWORD")}, node,
					"psql", "-XAtq", "-h", "127.0.0.1", "-p", "6432", "-U", "flashcrowd_app", "-d", database, "-c", "SELECT 1")
				return err == nil
			})
		}
	}
}

// The switchover drill, short: while a planned leader change runs (patronictl switchover),
// reads never fail, and writes answer 200 or a 503 with Retry-After, for at most 10 s, and
// then 200 again. (make drill-switchover runs it under k6's load, with retrying buyers.)
func TestSwitchoverPausesWritesBriefly(t *testing.T) {
	old, _ := cluster(t)
	p := createProduct(t, map[string]any{"name": "E2E switchover kettle", "stock": 100})
	patch := fmt.Sprintf("/api/v1/admin/products/%d", p.ID)
	type answer struct {
		at     time.Time
		status int
		retry  string
	}
	var (
		mu      sync.Mutex
		writes  []answer
		reads   []int
		stop    = make(chan struct{})
		done    sync.WaitGroup
		firstID = uncachedIDs(t, 400)
	)
	done.Add(2)
	go func() { // a write every 200 ms
		defer done.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			r, err := send(http.MethodPatch, patch, map[string]any{"stock": 100 + i%10}, admin())
			mu.Lock()
			if err != nil {
				writes = append(writes, answer{time.Now(), 0, ""})
			} else {
				writes = append(writes, answer{time.Now(), r.status, r.header.Get("Retry-After")})
			}
			mu.Unlock()
		}
	}()
	go func() { // a read of a product no cache holds every 100 ms
		defer done.Done()
		for id := firstID; ; id++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			r, err := send(http.MethodGet, fmt.Sprintf("/api/v1/products/%d", id), nil, pastTheEdge)
			mu.Lock()
			if err != nil {
				reads = append(reads, 0)
			} else {
				reads = append(reads, r.status)
			}
			mu.Unlock()
		}
	}()
	time.Sleep(3 * time.Second)
	start := time.Now()
	// No candidate named: with synchronous replication only the synchronous standby may take
	// over, and Patroni picks it.
	patronictl(t, old, "switchover", "--leader", old, "--force")
	var leader string
	eventually(t, 30*time.Second, "a new leader", func() bool { leader, _ = roles(t); return leader != "" && leader != old })
	t.Logf("%s leads %v after the switchover began", leader, time.Since(start).Round(100*time.Millisecond))
	time.Sleep(15 * time.Second)
	close(stop)
	done.Wait()
	// The orders service's pool too: a checkout (retried on 503, with the same key) is placed.
	// A connection PgBouncer held to the old leader can cost one 503 after the switchover
	// (seen once in CI, in the next test); that is the retry this allows, and it is logged.
	buyer := newShopper(t)
	want(t, buyer.addToCart(p.ID, 1), 200, "add to cart after the switchover")
	key, retried := unique("k"), 0
	// At most 8 tries, a second apart: the session may check out 10 times a minute.
	eventually(t, 8*time.Second, "a checkout placed after the switchover", func() bool {
		r := buyer.checkout(key, map[string]string{"email": "switchover@shop.test"})
		if r.status == http.StatusServiceUnavailable {
			retried++
			time.Sleep(time.Second)
			return false
		}
		want(t, r, 201, "checkout after the switchover")
		return true
	})
	if retried > 0 {
		t.Logf("the checkout after the switchover was answered 503 %d times before its 201", retried)
	}
	settlePgBouncers(t)

	var first, last time.Time
	for _, w := range writes {
		switch {
		case w.status == http.StatusOK:
		case w.status == http.StatusServiceUnavailable && w.retry != "":
			if first.IsZero() {
				first = w.at
			}
			last = w.at
		default:
			t.Errorf("a write answered %d (Retry-After %q), want 200 or 503 with Retry-After", w.status, w.retry)
		}
	}
	if n := len(writes); n == 0 || writes[n-1].status != http.StatusOK {
		t.Fatalf("writes did not succeed again after the switchover")
	}
	pause := last.Sub(first)
	if first.IsZero() {
		t.Logf("%d writes, none answered 503", len(writes))
	} else {
		t.Logf("%d writes; 503s from +%v to +%v after the switchover began (%v)", len(writes),
			first.Sub(start).Round(100*time.Millisecond), last.Sub(start).Round(100*time.Millisecond), pause.Round(100*time.Millisecond))
	}
	if pause > 10*time.Second {
		t.Errorf("writes answered 503 for %v, want at most 10 s", pause)
	}
	failed := 0
	for _, s := range reads {
		if s != http.StatusOK {
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d reads failed during the switchover", failed, len(reads))
	}
}
