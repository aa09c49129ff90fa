// Command pg-health runs beside Postgres in each database container and answers, over HTTP, what
// a load balancer needs to know about that server, on one connection it keeps open: a check is
// a query, not a login. A login here is a fork, a SCRAM exchange and a new backend faulting in
// shared memory, about a tenth of a CPU-second on a small machine; HAProxy checking two replicas
// every few seconds by logging in each time (psql from a script) cost a tenth of a core at idle.
// The paths and the port are Patroni's REST API's, so HAProxy's checks keep working when Patroni
// answers them instead.
//
//	GET /primary   200 when the server takes writes (not in recovery), else 503
//	GET /replica   200 when the server is a replica fit to serve reads, else 503: in recovery, and
//	               either it has replayed all the WAL it received or its last replayed
//	               transaction is younger than PG_READ_MAX_LAG_SECONDS. Lag counts only while WAL
//	               waits to be replayed: an idle primary, or one that is down, must not make every
//	               replica look stale and empty the read pool.
//	GET /health    200 when the server answers a query, else 503
//
// Each answer is a small JSON document: {"role": "replica", "lag_seconds": 0.4}.
//
//	pg-health            serve (HTTP_ADDR, default :8008; PGHOST etc. as libpq reads them)
//	pg-health check ROLE ask the running agent (the container healthcheck): exit 0 when GET /ROLE is 200
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "check" {
		os.Exit(check(os.Getenv, os.Args[2], os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "pg-health:", err)
		os.Exit(1)
	}
}

// config is every setting, from the environment. The connection itself is libpq's: PGHOST,
// PGUSER, PGDATABASE and so on.
type config struct {
	addr   string        // HTTP_ADDR, default :8008 (Patroni's)
	maxLag time.Duration // PG_READ_MAX_LAG_SECONDS, default 10
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{addr: getenv("HTTP_ADDR"), maxLag: 10 * time.Second}
	if c.addr == "" {
		c.addr = ":8008"
	}
	if v := getenv("PG_READ_MAX_LAG_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3600 {
			return c, fmt.Errorf("PG_READ_MAX_LAG_SECONDS=%q: want whole seconds from 1 to 3600", v)
		}
		c.maxLag = time.Duration(n) * time.Second
	}
	return c, nil
}

// status is what one query tells about the server.
type status struct {
	InRecovery bool    // a replica (or a primary being started from a backup)
	Fresh      bool    // no WAL waiting to be replayed, or the last replay within the bound
	LagSeconds float64 // since the last replayed transaction; 0 on a primary
}

// prober asks the server for its status.
type prober func(ctx context.Context) (status, error)

const statusSQL = `
SELECT pg_is_in_recovery(),
       pg_last_wal_receive_lsn() IS NULL
         OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
         OR now() - pg_last_xact_replay_timestamp() < make_interval(secs => $1),
       coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8`

// "Not yet replayed" is receive > replay, not receive != replay: a restarted replica reports the
// start of the WAL segment it resumed streaming from, behind what it already replayed, until the
// primary next writes.

// poolProber queries through a pool of one connection, opened once and reopened after a failure.
func poolProber(pool *pgxpool.Pool, maxLag time.Duration) prober {
	return func(ctx context.Context) (status, error) {
		var s status
		err := pool.QueryRow(ctx, statusSQL, maxLag.Seconds()).Scan(&s.InRecovery, &s.Fresh, &s.LagSeconds)
		if !s.InRecovery {
			s.LagSeconds = 0
		}
		return s, err
	}
}

// handler answers the three paths from one probe each, within two seconds.
func handler(probe prober, log *slog.Logger) http.Handler {
	answer := func(want func(status) bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			s, err := probe(ctx)
			body := map[string]any{}
			code := http.StatusOK
			if err != nil {
				log.Warn("probe failed", "err", err)
				code, body["error"] = http.StatusServiceUnavailable, "the database does not answer"
			} else {
				body["role"], body["lag_seconds"] = "primary", s.LagSeconds
				if s.InRecovery {
					body["role"] = "replica"
				}
				if !want(s) {
					code = http.StatusServiceUnavailable
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /primary", answer(func(s status) bool { return !s.InRecovery }))
	mux.Handle("GET /replica", answer(func(s status) bool { return s.InRecovery && s.Fresh }))
	mux.Handle("GET /health", answer(func(status) bool { return true }))
	return mux
}

// run serves until ctx ends. ready, when not nil, receives the listening address.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("program", "pg-health")
	pcfg, err := pgxpool.ParseConfig("") // libpq's environment variables
	if err != nil {
		return err
	}
	pcfg.MaxConns = 1
	pcfg.ConnConfig.RuntimeParams["application_name"] = "pg-health"
	pcfg.ConnConfig.RuntimeParams["statement_timeout"] = "2000"
	// The server may be starting, recovering or gone: the pool connects on the first check.
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler(poolProber(pool, cfg.maxLag), log),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "max_lag", cfg.maxLag.String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// check asks the agent of this container for role ("primary", "replica" or "health") and
// returns the exit code of a container healthcheck: 0 for a 200.
func check(getenv func(string) string, role string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "pg-health:", err)
		return 1
	}
	_, port, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		fmt.Fprintln(stderr, "pg-health:", err)
		return 1
	}
	client := http.Client{Timeout: 3 * time.Second}
	res, err := client.Get("http://127.0.0.1:" + port + "/" + role)
	if err != nil {
		fmt.Fprintln(stderr, "pg-health:", err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "pg-health: GET /%s: %s %s", role, res.Status, body)
		return 1
	}
	return 0
}
