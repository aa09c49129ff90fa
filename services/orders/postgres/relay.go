package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres/internal/queries"
)

// Enqueuer puts a task on the queue (*asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Relay batch and back-off bounds.
const (
	relayBatch      = 100
	relayMaxBackoff = 10 * time.Second
	relayTimeout    = 5 * time.Second // one batch: the claim, the enqueues, the delete
)

// Relay moves committed outbox rows into asynq. Every orders instance runs one: each batch
// locks its rows with FOR UPDATE SKIP LOCKED, so relays share the rows instead of queueing
// behind each other, and a row leaves the outbox in the transaction that saw it enqueued. A
// relay that dies between the enqueue and the commit leaves its rows to the next one, whose
// enqueue then fails with asynq.ErrTaskIDConflict (the task id derives from the row id): done.
type Relay struct {
	pool     *pgxpool.Pool
	queue    Enqueuer
	interval time.Duration
	log      *slog.Logger
	nudge    chan struct{}

	relayed prometheus.Counter
	errs    prometheus.Counter
	oldest  prometheus.Gauge
}

// NewRelay returns a relay that reads the outbox on pool every interval, and at once when
// nudged, and enqueues on queue. Its metrics are registered with reg.
func NewRelay(pool *pgxpool.Pool, queue Enqueuer, interval time.Duration, log *slog.Logger, reg prometheus.Registerer) *Relay {
	f := promauto.With(reg)
	return &Relay{
		pool: pool, queue: queue, interval: interval, log: log,
		nudge: make(chan struct{}, 1),
		relayed: f.NewCounter(prometheus.CounterOpts{
			Name: "flashcrowd_outbox_relayed_total",
			Help: "Outbox rows this instance moved into the task queue (or found there already).",
		}),
		errs: f.NewCounter(prometheus.CounterOpts{
			Name: "flashcrowd_outbox_relay_errors_total",
			Help: "Relay batches that failed (database or Redis), each followed by a back-off.",
		}),
		oldest: f.NewGauge(prometheus.GaugeOpts{
			Name: "flashcrowd_outbox_oldest_age_seconds",
			Help: "Age of the oldest row waiting in the outbox at the last poll; 0 when empty. It grows while Redis is unreachable.",
		}),
	}
}

// Nudge asks the relay to look at the outbox now (after a local commit), without waiting for
// its next poll. It never blocks.
func (r *Relay) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default: // a nudge is pending already
	}
}

// Run relays until ctx is cancelled. After a failure it backs off, doubling up to 10 s, with
// jitter so that instances do not retry in step.
func (r *Relay) Run(ctx context.Context) {
	var backoff time.Duration
	for {
		claimed, n, err := r.relay(ctx)
		wait := r.interval
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.errs.Inc()
			backoff = min(max(2*backoff, r.interval), relayMaxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			r.log.Warn("outbox relay", "err", err, "retry_in", wait.String())
		case n == relayBatch:
			backoff, wait = 0, 0 // more rows are waiting
		default:
			backoff = 0
		}
		if claimed == 0 && err == nil {
			r.oldest.Set(0) // nothing waiting but what other relays hold right now
		} else {
			r.observeOldest(ctx)
		}
		if wait == 0 {
			continue
		}
		nudge := r.nudge
		if err != nil {
			nudge = nil // a failing relay keeps its back-off: commits must not make it hammer Redis
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-nudge:
			t.Stop()
		}
	}
}

// RelayOnce moves one batch and returns how many rows it moved. On a Redis error it still
// deletes the rows enqueued before it (their tasks exist) and returns the error; the rest stay
// for the next try.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	_, moved, err := r.relay(ctx)
	return moved, err
}

// relay is RelayOnce, also returning how many rows it claimed.
func (r *Relay) relay(ctx context.Context) (claimed, moved int, err error) {
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	var enqueueErr error
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		rows, err := q.ClaimOutbox(ctx, relayBatch)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		claimed = len(rows)
		done := make([]int64, 0, len(rows))
		for _, row := range rows {
			task, err := tasks.Outboxed(row.TaskType, row.Payload, row.ID)
			if err != nil {
				// A row this binary cannot read stays put, counted and logged on every pass:
				// the oldest-row gauge keeps growing until someone looks.
				r.errs.Inc()
				r.log.Error("outbox row skipped", "id", row.ID, "err", err)
				continue
			}
			if _, err := r.queue.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				enqueueErr = fmt.Errorf("enqueue outbox row %d: %w", row.ID, err)
				break
			}
			done = append(done, row.ID)
		}
		if len(done) == 0 {
			return nil
		}
		if err := q.DeleteOutbox(ctx, done); err != nil {
			return fmt.Errorf("delete outbox rows: %w", err)
		}
		moved = len(done)
		return nil
	})
	if err != nil {
		return claimed, 0, err
	}
	r.relayed.Add(float64(moved))
	return claimed, moved, enqueueErr
}

func (r *Relay) observeOldest(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	created, err := queries.New(r.pool).OldestOutbox(ctx)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		r.oldest.Set(0)
	case err == nil:
		r.oldest.Set(time.Since(created).Seconds())
	}
}
