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

// redisCall is one command sent to Redis as user: "" for no login at all, "healthcheck" for the
// container healthcheck's own user (its password is made at Redis's start, in the container).
type redisCall struct {
	user    string
	command []string
}

// redisAnswers sends each call with redis-cli inside Redis's container, in one docker exec, and
// returns the replies: error replies (NOAUTH, NOPERM) as text, whatever redis-cli's exit status.
func redisAnswers(t *testing.T, calls []redisCall) []string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var script strings.Builder
	for _, c := range calls {
		switch c.user {
		case "":
			script.WriteString("redis-cli")
		case "healthcheck":
			script.WriteString(`REDISCLI_AUTH="$(cat /run/redis/healthcheck.pass)" redis-cli --user healthcheck`)
		default: // the password compose gave the container, from .env
			script.WriteString(`REDISCLI_AUTH="$REDIS_` + strings.ToUpper(c.user) + `_PASSWORD" redis-cli --user ` + c.user)
		}
		script.WriteString(" --no-auth-warning")
		for _, arg := range c.command {
			script.WriteString(" " + quote(arg))
		}
		script.WriteString(" 2>&1; echo '<end>'\n")
	}
	out, err := composeExec(t, nil, "redis", "sh", "-c", script.String())
	answers := strings.Split(out, "<end>")
	if len(answers) != len(calls)+1 {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	for i := range answers {
		answers[i] = strings.TrimSpace(answers[i])
	}
	return answers[:len(calls)]
}

func TestRedisGivesEachJobOnlyItsOwnKeys(t *testing.T) {
	tests := []struct {
		redisCall
		want string // in the reply
	}{
		// What each user's job needs works, so a refusal below cannot come from a wrong password.
		{redisCall{"cache", []string{"SET", "catalog:e2e:acl", "1", "EX", "60"}}, "OK"},
		{redisCall{"queue", []string{"SET", "asynq:e2e:acl", "1", "EX", "60"}}, "OK"},
		{redisCall{"exporter", []string{"INFO", "server"}}, "redis_version"},
		{redisCall{"healthcheck", []string{"PING"}}, "PONG"},
		// Everything else is refused.
		{redisCall{"", []string{"PING"}}, "NOAUTH"},
		{redisCall{"", []string{"GET", "catalog:e2e:acl"}}, "NOAUTH"},
		{redisCall{"cache", []string{"GET", "asynq:e2e:acl"}}, "NOPERM"},
		{redisCall{"cache", []string{"SET", "asynq:e2e:acl", "x"}}, "NOPERM"},
		{redisCall{"cache", []string{"SMEMBERS", "asynq:queues"}}, "NOPERM"},
		{redisCall{"cache", []string{"EVAL", "return redis.call('GET', KEYS[1])", "1", "asynq:e2e:acl"}}, "NOPERM"},
		{redisCall{"cache", []string{"PUBLISH", "asynq:cancel", "x"}}, "NOPERM"},
		{redisCall{"cache", []string{"CONFIG", "SET", "maxmemory-samples", "10"}}, "NOPERM"}, // its value: harmless if allowed
		{redisCall{"queue", []string{"GET", "catalog:e2e:acl"}}, "NOPERM"},
		{redisCall{"queue", []string{"SET", "catalog:e2e:acl", "x"}}, "NOPERM"},
		{redisCall{"queue", []string{"DEL", "catalog:products:gen"}}, "NOPERM"},
		{redisCall{"queue", []string{"EVAL", "return redis.call('GET', KEYS[1])", "1", "catalog:e2e:acl"}}, "NOPERM"},
		{redisCall{"queue", []string{"PUBLISH", "catalog:invalidations", "1"}}, "NOPERM"},
		{redisCall{"exporter", []string{"GET", "catalog:e2e:acl"}}, "NOPERM"},
		{redisCall{"exporter", []string{"CONFIG", "SET", "maxmemory-samples", "10"}}, "NOPERM"},
		{redisCall{"healthcheck", []string{"GET", "catalog:e2e:acl"}}, "NOPERM"},
		{redisCall{"healthcheck", []string{"INFO"}}, "NOPERM"},
		// Last: were it allowed, it would empty Redis, queues included.
		{redisCall{"cache", []string{"FLUSHALL"}}, "NOPERM"},
	}
	calls := make([]redisCall, len(tests))
	for i, tt := range tests {
		calls[i] = tt.redisCall
	}
	for i, got := range redisAnswers(t, calls) {
		if tt := tests[i]; !strings.Contains(got, tt.want) {
			who := tt.user
			if who == "" {
				who = "no login"
			}
			t.Errorf("%s: %s answered %q, want %s", who, strings.Join(tt.command, " "), got, tt.want)
		}
	}
}

// console runs one command on PgBouncer's admin console as monitor.
func console(t *testing.T, command string) (string, error) {
	t.Helper()
	return composeExec(t, nil, "pgbouncer", "sh", "-c",
		`PGPASSWORD="$PG_MONITOR_PASSWORD" psql -XAtq -h 127.0.0.1 -p 6432 -U monitor -d pgbouncer -c "`+command+`"`)
}

func TestPgBouncerMonitorOnlyReadsStatistics(t *testing.T) {
	if out, err := console(t, "SHOW POOLS"); err != nil || !strings.Contains(out, "flashcrowd_app") {
		t.Fatalf("SHOW POOLS as monitor: %v\n%s", err, out)
	}
	// Harmless ones first: should they work, the test stops before it could shut PgBouncer down.
	if out, err := console(t, "RELOAD"); err == nil {
		t.Fatalf("monitor may RELOAD PgBouncer: %s", out)
	}
	if out, err := console(t, "PAUSE flashcrowd_ro"); err == nil {
		console(t, "RESUME flashcrowd_ro")
		t.Fatalf("monitor may PAUSE a pool: %s", out)
	}
	out, err := console(t, "SHUTDOWN")
	if err == nil || !strings.Contains(out, "admin access needed") {
		t.Fatalf("SHUTDOWN as monitor: %v\n%s, want it refused (admin access needed)", err, out)
	}
}

// appSQL runs a psql script through PgBouncer as the app role, inside PgBouncer's container,
// and returns its output and how long psql took (docker exec's own start-up left out).
func appSQL(t *testing.T, database, script string) (string, time.Duration, error) {
	t.Helper()
	out, err := composeExec(t, map[string]string{"PGPASSWORD": dotenv("PG_APP_PASSWORD")}, "pgbouncer", "bash", "-c",
		`start=$EPOCHREALTIME
		 psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p 6432 -U flashcrowd_app -d `+database+` <<'SQL'
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
