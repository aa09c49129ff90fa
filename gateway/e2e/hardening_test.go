//go:build e2e

package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests check that each data service gives every client only what its job needs. Where
// they can, they first show that a permitted call works, so that a refusal cannot come from a
// wrong password or a broken command line.

// composeExec runs a command in a service's container and returns its output and error: the
// refusals under test make some of these commands fail on purpose.
func composeExec(t *testing.T, env map[string]string, service string, cmd ...string) (string, error) {
	t.Helper()
	args := []string{"compose", "exec", "-T"}
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	args = append(append(args, service), cmd...)
	c := exec.Command("docker", args...)
	c.Dir = "../.."
	out, err := c.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// redisCall is one command sent to a Redis server as user: "" for no login at all, any other
// with the password its container has for it (REDIS_<USER>_PASSWORD, as compose passes it). host, when set, is the other Redis to send it to from this container: a
// user of one server must not get into the other with its password.
type redisCall struct {
	user    string
	command []string
	host    string
}

// redisAnswers sends each call with redis-cli inside the container of the Redis service server
// (redis or redis-queue), in one docker exec, and returns the replies: error replies (NOAUTH,
// NOPERM, WRONGPASS) as text, whatever redis-cli's exit status.
func redisAnswers(t *testing.T, server string, calls []redisCall) []string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var script strings.Builder
	for _, c := range calls {
		switch c.user {
		case "":
			script.WriteString("redis-cli")
		default:
			script.WriteString(`REDISCLI_AUTH="$REDIS_` + strings.ToUpper(c.user) + `_PASSWORD" redis-cli --user ` + c.user)
		}
		if c.host != "" {
			script.WriteString(" -h " + c.host)
		}
		script.WriteString(" --no-auth-warning")
		for _, arg := range c.command {
			script.WriteString(" " + quote(arg))
		}
		script.WriteString(" 2>&1; echo '<end>'\n")
	}
	out, err := composeExec(t, nil, server, "sh", "-c", script.String())
	answers := strings.Split(out, "<end>")
	if len(answers) != len(calls)+1 {
		t.Fatalf("redis-cli in %s: %v\n%s", server, err, out)
	}
	for i := range answers {
		answers[i] = strings.TrimSpace(answers[i])
	}
	return answers[:len(calls)]
}

// redisTest is a call and what its reply must contain.
type redisTest struct {
	redisCall
	want string
}

// checkRedis sends every call to server and fails the test on each reply that lacks its want.
func checkRedis(t *testing.T, server string, tests []redisTest) {
	t.Helper()
	calls := make([]redisCall, len(tests))
	for i, tt := range tests {
		calls[i] = tt.redisCall
	}
	for i, got := range redisAnswers(t, server, calls) {
		if tt := tests[i]; !strings.Contains(got, tt.want) {
			who := tt.user
			if who == "" {
				who = "no login"
			}
			if tt.host != "" {
				who += " (on " + tt.host + ")"
			}
			t.Errorf("%s: %s: %s answered %q, want %s", server, who, strings.Join(tt.command, " "), got, tt.want)
		}
	}
}

// The main Redis: the cache, sessions, carts and the stock gate, each job in its own keys; the
// queues are not there, and the queue Redis's users cannot log in to it.
func TestRedisGivesEachJobOnlyItsOwnKeys(t *testing.T) {
	checkRedis(t, "redis", []redisTest{
		// What each user's job needs works, so a refusal below cannot come from a wrong password.
		{redisCall{"cache", []string{"SET", "catalog:e2e:acl", "1", "EX", "60"}, ""}, "OK"},
		{redisCall{"sessions", []string{"SET", "session:e2e:acl", "1", "EX", "60"}, ""}, "OK"},
		{redisCall{"carts", []string{"SET", "cart:e2e:acl", "1", "EX", "60"}, ""}, "OK"},
		{redisCall{"exporter", []string{"INFO", "server"}, ""}, "redis_version"},
		{redisCall{"exporter", []string{"CONFIG", "GET", "maxmemory-policy"}, ""}, "volatile-lru"},
		// Everything else is refused.
		{redisCall{"", []string{"PING"}, ""}, "NOAUTH"},
		{redisCall{"", []string{"GET", "catalog:e2e:acl"}, ""}, "NOAUTH"},
		{redisCall{"cache", []string{"GET", "session:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"cache", []string{"SET", "cart:e2e:acl", "x"}, ""}, "NOPERM"},
		{redisCall{"cache", []string{"EVAL", "return redis.call('GET', KEYS[1])", "1", "session:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"cache", []string{"PUBLISH", "asynq:cancel", "x"}, ""}, "NOPERM"},
		{redisCall{"cache", []string{"CONFIG", "SET", "maxmemory-samples", "10"}, ""}, "NOPERM"}, // its value: harmless if allowed
		{redisCall{"sessions", []string{"GET", "cart:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"GET", "catalog:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"SET", "catalog:e2e:acl", "x"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"DEL", "catalog:products:gen"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"EVAL", "return redis.call('GET', KEYS[1])", "1", "session:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"PUBLISH", "catalog:invalidations", "1"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"SET", "asynq:e2e:acl", "x"}, ""}, "NOPERM"},
		{redisCall{"carts", []string{"KEYS", "*"}, ""}, "NOPERM"},
		{redisCall{"exporter", []string{"GET", "catalog:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"exporter", []string{"CONFIG", "SET", "maxmemory-samples", "10"}, ""}, "NOPERM"},
		// The jobs of this server have no user on the queue Redis.
		{redisCall{"carts", []string{"PING"}, "redis-queue"}, "WRONGPASS"},
		{redisCall{"cache", []string{"PING"}, "redis-queue"}, "WRONGPASS"},
		// Last: were it allowed, it would empty Redis.
		{redisCall{"cache", []string{"FLUSHALL"}, ""}, "NOPERM"},
	})
}

// The queue Redis: asynq's keys only. The catalog and the orders service may only add tasks,
// the worker processes them, asynqmon inspects; the main Redis's users cannot log in to it.
func TestQueueRedisLetsEnqueuersOnlyEnqueue(t *testing.T) {
	// What an enqueue runs: a script (its calls are checked too) that looks for the task id.
	exists := []string{"EVAL", "return redis.call('EXISTS', KEYS[1])", "1", "asynq:e2e:none"}
	checkRedis(t, "redis-queue", []redisTest{
		{redisCall{"catalog", exists, ""}, "0"},
		{redisCall{"orders", exists, ""}, "0"},
		{redisCall{"worker", []string{"SET", "asynq:e2e:acl", "1", "EX", "60"}, ""}, "OK"},
		{redisCall{"asynqmon", []string{"GET", "asynq:e2e:acl"}, ""}, "1"},
		{redisCall{"exporter", []string{"INFO", "memory"}, ""}, "used_memory"},
		{redisCall{"exporter", []string{"CONFIG", "GET", "maxmemory-policy"}, ""}, "noeviction"},
		// An enqueuer reads, moves and deletes no task, and cancels none.
		{redisCall{"", []string{"PING"}, ""}, "NOAUTH"},
		{redisCall{"catalog", []string{"GET", "asynq:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"catalog", []string{"DEL", "asynq:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"orders", []string{"LREM", "asynq:{critical}:pending", "0", "x"}, ""}, "NOPERM"},
		{redisCall{"orders", []string{"EVAL", "return redis.call('DEL', KEYS[1])", "1", "asynq:e2e:acl"}, ""}, "no permissions to run the 'del' command"},
		{redisCall{"orders", []string{"PUBLISH", "asynq:cancel", "x"}, ""}, "NOPERM"},
		{redisCall{"orders", []string{"SET", "catalog:e2e:acl", "x"}, ""}, "NOPERM"},
		{redisCall{"worker", []string{"GET", "catalog:e2e:acl"}, ""}, "NOPERM"},
		{redisCall{"worker", []string{"PUBLISH", "catalog:invalidations", "1"}, ""}, "NOPERM"},
		{redisCall{"asynqmon", []string{"SET", "session:e2e:acl", "x"}, ""}, "NOPERM"},
		{redisCall{"asynqmon", []string{"KEYS", "*"}, ""}, "NOPERM"},
		{redisCall{"exporter", []string{"GET", "asynq:e2e:acl"}, ""}, "NOPERM"},
		// The jobs of this server have no user on the main Redis.
		{redisCall{"orders", []string{"PING"}, "redis"}, "WRONGPASS"},
		{redisCall{"worker", []string{"PING"}, "redis"}, "WRONGPASS"},
		{redisCall{"asynqmon", []string{"PING"}, "redis"}, "WRONGPASS"},
		// Last: were it allowed, it would empty the queues.
		{redisCall{"worker", []string{"FLUSHALL"}, ""}, "NOPERM"},
	})
}

// console runs one command on a PgBouncer's admin console as monitor.
func console(t *testing.T, node, command string) (string, error) {
	t.Helper()
	return composeExec(t, nil, node, "sh", "-c",
		`PGPASSWORD="$PG_MONITOR_PASSWORD" psql -XAtq -h 127.0.0.1 -p 6432 -U monitor -d pgbouncer -c "`+command+`"`)
}

func TestPgBouncerMonitorOnlyReadsStatistics(t *testing.T) {
	if out, err := console(t, "pgbouncer-1", "SHOW POOLS"); err != nil || !strings.Contains(out, "flashcrowd_app") {
		t.Fatalf("SHOW POOLS as monitor: %v\n%s", err, out)
	}
	// Harmless ones first: should they work, the test stops before it could shut PgBouncer down.
	if out, err := console(t, "pgbouncer-1", "RELOAD"); err == nil {
		t.Fatalf("monitor may RELOAD PgBouncer: %s", out)
	}
	if out, err := console(t, "pgbouncer-1", "PAUSE flashcrowd_ro"); err == nil {
		console(t, "pgbouncer-1", "RESUME flashcrowd_ro")
		t.Fatalf("monitor may PAUSE a pool: %s", out)
	}
	out, err := console(t, "pgbouncer-1", "SHUTDOWN")
	if err == nil || !strings.Contains(out, "admin access needed") {
		t.Fatalf("SHUTDOWN as monitor: %v\n%s, want it refused (admin access needed)", err, out)
	}
}

// appSQL runs a psql script through PgBouncer as the app role, inside PgBouncer's container,
// and returns its output and how long psql took (docker exec's own start-up left out).
func appSQL(t *testing.T, database, script string) (string, time.Duration, error) {
	t.Helper()
	out, err := composeExec(t, map[string]string{"PGPASSWORD": dotenv("PG_APP_PASSWORD")}, "pgbouncer-1", "bash", "-c",
		`start=$EPOCHREALTIME
		 psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p 6432 -U flashcrowd_app -d `+database+` 2>&1 <<'SQL'
`+script+`
SQL
		 rc=$?; echo "took=$EPOCHREALTIME $start"; exit $rc`)
	took := time.Duration(0)
	if i := strings.LastIndex(out, "took="); i >= 0 {
		took = parseTook(out[i+len("took="):])
		out = strings.TrimSpace(out[:i])
	}
	return out, took, err
}

// parseTook reads "end start", two of bash's $EPOCHREALTIME (seconds, with microseconds).
func parseTook(s string) time.Duration {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0
	}
	end, _ := strconv.ParseFloat(f[0], 64)
	start, _ := strconv.ParseFloat(f[1], 64)
	return time.Duration((end - start) * float64(time.Second))
}

func TestAppRoleStatementsStopAfterTwoSeconds(t *testing.T) {
	for _, database := range []string{"flashcrowd", "flashcrowd_ro"} { // primary, replicas
		out, took, err := appSQL(t, database, `SELECT pg_sleep(3);`)
		if err != nil && !strings.Contains(out, "57014") {
			// Not the timeout: a connection that failed on its way (seen once, with no message
			// kept). Say what it was and try once more; a missing timeout fails both times.
			t.Logf("%s: pg_sleep(3) failed otherwise after %v: %v\n%s; trying again", database, took, err, out)
			out, took, err = appSQL(t, database, `SELECT pg_sleep(3);`)
		}
		t.Logf("%s: pg_sleep(3) ended after %v", database, took.Round(10*time.Millisecond))
		if err == nil || !strings.Contains(out, "57014") {
			t.Fatalf("%s: SELECT pg_sleep(3) as flashcrowd_app: %v\n%s\nwant SQLSTATE 57014 (statement timeout)", database, err, out)
		}
		if took < 1900*time.Millisecond || took > 2700*time.Millisecond {
			t.Errorf("%s: cancelled after %v, want about 2 s", database, took)
		}
	}
}

func TestAppRoleIdleTransactionIsClosed(t *testing.T) {
	var wg sync.WaitGroup
	for _, database := range []string{"flashcrowd", "flashcrowd_ro"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// PgBouncer's own idle_transaction_timeout is 60 s: this must be Postgres's, for the role.
			out, _, err := appSQL(t, database, "BEGIN;\nSELECT 1;\n\\! sleep 7\nSELECT 'still open';")
			if err == nil || strings.Contains(out, "still open") {
				t.Errorf("%s: a transaction left idle for 7 s was still open: %v\n%s", database, err, out)
			}
		}()
	}
	wg.Wait()
}
