// Package db opens pgx connection pools the way every Flashcrowd service needs them: sized per
// instance (PgBouncer multiplexes them onto few server connections), with every query counted by
// role so a load test can read database queries per second, and pool saturation exported.
package db

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Role names the server a pool talks to; it is the "role" label on the metrics.
type Role string

const (
	Primary Role = "primary"
	Replica Role = "replica"
)

// Metrics counts queries per role and exposes the statistics of every pool opened with it.
type Metrics struct {
	queries *prometheus.CounterVec
	pools   *poolCollector
}

// NewMetrics registers the query counter and the pool statistics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	pools := &poolCollector{pools: map[Role]*pgxpool.Pool{}}
	reg.MustRegister(pools)
	return &Metrics{
		queries: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_db_queries_total",
			Help: "Queries sent to the database, by role (primary or replica).",
		}, []string{"role"}),
		pools: pools,
	}
}

// connectTimeout bounds one connect: a connect that takes longer is to a server or balancer that
// will not answer, and without a bound pgx waits for the kernel to give up on it, minutes.
const connectTimeout = 3 * time.Second

// ParseConnConfig parses url for a single connection (a migrator's), with the pools' connect
// timeout.
func ParseConnConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.ConnectTimeout = connectTimeout
	return cfg, nil
}

// Open makes a pool for url; it connects on first use, so a database that is not up yet fails
// requests (and /readyz), not the start. maxConns bounds this instance's share.
func Open(ctx context.Context, url string, role Role, maxConns int, m *Metrics) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db %s: parse url: %w", role, err)
	}
	cfg.MaxConns = int32(maxConns)
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	cfg.ConnConfig.ConnectTimeout = connectTimeout
	cfg.ConnConfig.Tracer = queryCounter{m.queries.WithLabelValues(string(role))}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db %s: %w", role, err)
	}
	m.pools.add(role, pool)
	return pool, nil
}

// queryCounter is a pgx tracer that counts every query the pool sends.
type queryCounter struct{ c prometheus.Counter }

func (q queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.c.Inc()
	return ctx
}

func (queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

var (
	poolConnsDesc = prometheus.NewDesc("flashcrowd_db_pool_connections",
		"Connections in this instance's pool by state (acquired, idle) and its maximum.", []string{"role", "state"}, nil)
	poolWaitsDesc = prometheus.NewDesc("flashcrowd_db_pool_acquire_waits_total",
		"Acquires that had to wait for a free connection: the pool was saturated.", []string{"role"}, nil)
	poolWaitDesc = prometheus.NewDesc("flashcrowd_db_pool_acquire_wait_seconds_total",
		"Time spent waiting for a free connection.", []string{"role"}, nil)
)

// poolCollector reads pgxpool's own statistics at scrape time.
type poolCollector struct {
	mu    sync.Mutex
	pools map[Role]*pgxpool.Pool
}

func (c *poolCollector) add(role Role, p *pgxpool.Pool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pools[role] = p
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConnsDesc
	ch <- poolWaitsDesc
	ch <- poolWaitDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for role, p := range c.pools {
		s, r := p.Stat(), string(role)
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(s.AcquiredConns()), r, "acquired")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(s.IdleConns()), r, "idle")
		ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(s.MaxConns()), r, "max")
		ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(s.EmptyAcquireCount()), r)
		ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds(), r)
	}
}

// StartupWait is how long a migrator keeps trying to reach the database: it runs while the
// database's members start, when a connect through the balancer can still land on a member that
// is not ready (seen: a fresh replica refusing TLS, then not answering, for a few seconds).
const StartupWait = 30 * time.Second

// WaitFor calls try until it succeeds, once a second, for at most wait; then it returns try's
// last error. A cancelled ctx ends it at once.
func WaitFor(ctx context.Context, wait time.Duration, try func(context.Context) error) error {
	deadline := time.Now().Add(wait)
	for {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if time.Now().Add(time.Second).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
