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
	// An idle relay still reads the gauges' figures this often: rows parked by another relay,
	// or requeued or deleted by an operator, show without waiting for the next order.
	relayIdleObserve = 5 * time.Second
	// A busy one reads them at most this often: a query per pass would double the relay's
	// statements on the primary just when orders are busiest.
	relayBusyObserve = time.Second
	// After a nudge the relay waits this long, so that the commits of the moment go in one pass:
	// in a burst of orders each would otherwise pay for a transaction of its own.
	relayGather = 20 * time.Millisecond
)

// Relay moves committed outbox rows into asynq. Every orders instance runs one: each batch
// locks its rows with FOR UPDATE SKIP LOCKED, so relays share the rows instead of queueing
// behind each other, and a row leaves the outbox in the transaction that saw it enqueued. A
// relay that dies between the enqueue and the commit leaves its rows to the next one, whose
// enqueue then fails with asynq.ErrTaskIDConflict (the task id derives from the row id): done.
// A row this binary cannot make a task of is parked in the same transaction: it stays in the
// outbox, with the reason, and no relay claims it again until an operator requeues it.
type Relay struct {
	pool     *pgxpool.Pool
	queue    Enqueuer
	interval time.Duration
	log      *slog.Logger
	nudge    chan struct{}

	relayed  prometheus.Counter
	errs     prometheus.Counter
	oldest   prometheus.Gauge
	parked   prometheus.Gauge
	observed time.Time // when Run last read the gauges' figures
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
			Help: "Age of the oldest row waiting in the outbox at the last poll (parked rows left out); 0 when none waits. It grows while Redis is unreachable.",
		}),
		parked: f.NewGauge(prometheus.GaugeOpts{
			Name: "flashcrowd_outbox_parked",
			Help: "Outbox rows parked at the last poll: rows no relay could make a task of (an unknown task type), waiting for an operator to requeue or delete them.",
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
	r.unpark(ctx)
	var backoff time.Duration
	for {
		claimed, _, err := r.relay(ctx)
		wait := r.interval
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.errs.Inc()
			backoff = min(max(2*backoff, r.interval), relayMaxBackoff)
			wait = backoff/2 + rand.N(backoff/2+1)
			r.log.Warn("outbox relay", "err", err, "retry_in", wait.String())
		case claimed == relayBatch:
			backoff, wait = 0, 0 // more rows are waiting
		default:
			backoff = 0
		}
		r.observe(ctx, claimed == 0 && err == nil)
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
			if !sleep(ctx, relayGather) {
				return
			}
		}
	}
}

// unpark puts back in line the parked rows whose type this binary knows: during a rolling
// deploy that adds a task type, instances still on the old binary park its rows, and the
// first new one to start relays them.
func (r *Relay) unpark(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	n, err := queries.New(r.pool).UnparkOutbox(ctx, tasks.OutboxTypes)
	switch {
	case err != nil:
		r.log.Warn("outbox rows not unparked", "err", err)
	case n > 0:
		r.log.Info("outbox rows unparked", "rows", n)
	}
}

// RelayOnce moves one batch and returns how many rows it moved; it parks the rows it cannot
// read. On a Redis error it still deletes the rows enqueued before it (their tasks exist) and
// returns the error; the rest stay for the next try.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	_, moved, err := r.relay(ctx)
	return moved, err
}

// relay is RelayOnce, also returning how many rows it claimed.
func (r *Relay) relay(ctx context.Context) (claimed, moved int, err error) {
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	// Most polls find the outbox empty: one query then, not a transaction's three statements.
	waiting, err := queries.New(r.pool).OutboxWaiting(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("look at outbox: %w", err)
	}
	if !waiting {
		return 0, 0, nil
	}
	var (
		enqueueErr error
		unreadable []parking
	)
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		rows, err := q.ClaimOutbox(ctx, relayBatch)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		claimed = len(rows)
		var ready []outboxTask
		ready, unreadable = readClaim(rows)
		if len(unreadable) > 0 {
			p := queries.ParkOutboxParams{}
			for _, u := range unreadable {
				p.Ids, p.Reasons = append(p.Ids, u.id), append(p.Reasons, u.reason)
			}
			if err := q.ParkOutbox(ctx, p); err != nil {
				return fmt.Errorf("park outbox rows: %w", err)
			}
		}
		done := make([]int64, 0, len(ready))
		for _, t := range ready {
			if _, err := r.queue.EnqueueContext(ctx, t.task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				enqueueErr = fmt.Errorf("enqueue outbox row %d: %w", t.id, err)
				break
			}
			done = append(done, t.id)
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
	// Logged once, now that the parking is committed: no relay claims these rows again.
	for _, u := range unreadable {
		r.log.Error("outbox row parked", "id", u.id, "task_type", u.typ, "reason", u.reason)
	}
	r.relayed.Add(float64(moved))
	return claimed, moved, enqueueErr
}

// outboxTask is a claimed row made into its task.
type outboxTask struct {
	id   int64
	task *asynq.Task
}

// parking is a claimed row this binary cannot make a task of, and why.
type parking struct {
	id          int64
	typ, reason string
}

// readClaim makes each claimed row its task, in the claim's order, and sets apart the rows it
// cannot (a task type this binary does not know, from a newer or an older one) to be parked:
// retrying them could never succeed, and left in place they would come back in every claim.
func readClaim(rows []queries.ClaimOutboxRow) (ready []outboxTask, unreadable []parking) {
	for _, row := range rows {
		task, err := tasks.Outboxed(row.TaskType, row.Payload, row.ID)
		if err != nil {
			unreadable = append(unreadable, parking{id: row.ID, typ: row.TaskType, reason: err.Error()})
			continue
		}
		ready = append(ready, outboxTask{id: row.ID, task: task})
	}
	return ready, unreadable
}

// observe reads the outbox's backlog into the gauges after a pass, at most every
// relayBusyObserve. After a pass that claimed nothing, nothing waits but what other relays hold
// right now: the oldest age is 0 without asking, and the database is asked only every
// relayIdleObserve, for the parked count.
func (r *Relay) observe(ctx context.Context, idle bool) {
	switch since := time.Since(r.observed); {
	case idle && since < relayIdleObserve:
		r.oldest.Set(0)
		return
	case since < relayBusyObserve:
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	b, err := queries.New(r.pool).OutboxBacklog(ctx)
	if err != nil {
		return // the gauges keep their last figures; the next pass asks again
	}
	r.oldest.Set(b.OldestAgeSeconds)
	r.parked.Set(float64(b.Parked))
	r.observed = time.Now()
}

// sleep waits d, or less when ctx ends first: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
