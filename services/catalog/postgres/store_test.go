package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres/internal/queries"
)

// TestRead checks where read runs a query and what it does when the query fails: never twice
// on one pool, on the primary only when a replica cannot answer, and a fallback counted for
// each time it does. The queries are stand-ins that fail or succeed as the case says; the pools
// point at servers that hang up, so the only statement that reaches one, a replica's LSN check,
// fails as it would on a replica that is down.
func TestRead(t *testing.T) {
	failure := errors.New("connection reset by peer")
	timeout := &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}
	tests := []struct {
		name     string
		replicas bool
		minLSN   string
		fails    map[string]error // what the query returns on each pool; nil: it succeeds
		runs     []string         // the pools the query ran on, in order
		err      error
		fallback string // the reason counted; "" for none
	}{
		{name: "no replicas: the primary answers", runs: []string{"primary"}},
		{name: "no replicas: a failure is final", fails: map[string]error{"primary": failure},
			runs: []string{"primary"}, err: failure},
		{name: "no replicas: the primary has every write, no LSN check", minLSN: "42",
			fails: map[string]error{"primary": failure}, runs: []string{"primary"}, err: failure},
		{name: "a replica answers", replicas: true, runs: []string{"replica"}},
		{name: "not found on a replica, no write to wait for", replicas: true,
			fails: map[string]error{"replica": catalog.ErrNotFound}, runs: []string{"replica"}, err: catalog.ErrNotFound},
		{name: "a replica fails: the primary answers", replicas: true, fails: map[string]error{"replica": failure},
			runs: []string{"replica", "primary"}, fallback: "replica_error"},
		{name: "both fail: each once", replicas: true, fails: map[string]error{"replica": failure, "primary": failure},
			runs: []string{"replica", "primary"}, err: failure, fallback: "replica_error"},
		{name: "a replica times out: the primary is spared", replicas: true, fails: map[string]error{"replica": timeout},
			runs: []string{"replica"}, err: timeout},
		// pgx's connect timeout wraps context.DeadlineExceeded while the caller's context lives.
		{name: "a replica does not answer in time: the primary answers", replicas: true,
			fails: map[string]error{"replica": fmt.Errorf("connect: %w", context.DeadlineExceeded)},
			runs:  []string{"replica", "primary"}, fallback: "replica_error"},
		{name: "the LSN check fails on a replica: the primary answers", replicas: true, minLSN: "42",
			runs: []string{"primary"}, fallback: "replica_error"},
		{name: "the LSN check fails and so does the primary", replicas: true, minLSN: "42",
			fails: map[string]error{"primary": failure}, runs: []string{"primary"}, err: failure, fallback: "replica_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary, replica := hangingUp(t), hangingUp(t)
			if !tt.replicas {
				replica = nil
			}
			s := NewStore(primary, replica, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
			var runs []string
			err := s.read(context.Background(), tt.minLSN, func(db queries.DBTX) error {
				pool := "replica"
				if db == queries.DBTX(primary) {
					pool = "primary"
				}
				runs = append(runs, pool)
				return tt.fails[pool]
			})
			if !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
			if !slices.Equal(runs, tt.runs) {
				t.Errorf("ran on %v, want %v", runs, tt.runs)
			}
			for _, reason := range []string{"replica_behind", "replica_error"} {
				want := 0.0
				if reason == tt.fallback {
					want = 1
				}
				if got := testutil.ToFloat64(s.fallbacks.WithLabelValues(reason)); got != want {
					t.Errorf("%s fallbacks = %v, want %v", reason, got, want)
				}
			}
		})
	}
}

func TestDBError(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{&pgconn.PgError{Code: "57014"}, catalog.ErrTimeout},
		// A replica cut off by a partition never answers: the load's deadline ends the wait.
		{fmt.Errorf("timeout: %w", context.DeadlineExceeded), catalog.ErrTimeout},
		{&pgconn.PgError{Code: "23505", ConstraintName: "products_sku_key"}, catalog.ErrConflict},
		{&pgconn.PgError{Code: "23514", ConstraintName: "products_stock_check"}, catalog.ErrStock},
		{&pgconn.PgError{Code: "23514", ConstraintName: "products_stock_max"}, catalog.ErrStock},
		{&pgconn.PgError{Code: "22003"}, catalog.ErrStock},
	}
	for _, tt := range tests {
		if err := dbError("update product 7", tt.err); !errors.Is(err, tt.want) {
			t.Errorf("%v: %v, want %v", tt.err, err, tt.want)
		}
	}
	// Any other error keeps its own identity, for logs and for errors.As.
	other := &pgconn.PgError{Code: "23514", ConstraintName: "products_name_check"}
	if err := dbError("create product X", other); !errors.Is(err, other) || errors.Is(err, catalog.ErrStock) {
		t.Errorf("name check: %v", err)
	}
}

// hangingUp returns a pool for a server that accepts connections and closes them at once: a
// database that is down. pgxpool connects only when a statement needs a connection.
func hangingUp(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	pool, err := pgxpool.New(context.Background(), "postgres://test@"+ln.Addr().String()+"/test?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
