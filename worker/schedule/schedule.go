// Package schedule runs periodic jobs on every worker instance at once, yet each job once per
// period across all of them, with no leader and no lock to lose: each instance enqueues the
// period's task under an id derived from the period, and Redis refuses every copy after the
// first (asynq.ErrTaskIDConflict). An instance that is down misses nothing while another runs.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Job is a task type run once per period. Periods are aligned on the Unix epoch, so every
// instance, whenever it started, computes the same ones.
type Job struct {
	Type   string // the task type, and the prefix of its ids
	Period time.Duration
	// AfterPeriod runs a period's task once the period has ended (a report of it), after a
	// grace for the transactions still committing; otherwise it runs as the period begins.
	AfterPeriod bool
	Options     []asynq.Option // queue, retries, timeout
}

// Payload is version 1 of every scheduled task's payload: the period it is for.
type Payload struct {
	V     int       `json:"v"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ParsePayload decodes a scheduled task's payload; an unreadable one can never succeed.
func ParsePayload(t *asynq.Task) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("%s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if p.V != 1 || !p.End.After(p.Start) {
		return p, fmt.Errorf("%s payload %+v: unsupported: %w", t.Type(), p, asynq.SkipRetry)
	}
	return p, nil
}

// PeriodStart is the start of the period of length p that holds t.
func PeriodStart(t time.Time, p time.Duration) time.Time {
	n := t.UnixNano()
	return time.Unix(0, n-n%int64(p)).UTC()
}

// TaskID names the task of job for the period starting at start: "<job>:<start, unix s>".
func TaskID(job string, start time.Time) string {
	return fmt.Sprintf("%s:%d", job, start.Unix())
}

// Grace is how long after its period ends an AfterPeriod task runs: an order placed (its
// transaction started) just before the end may commit up to a statement timeout later, and a
// replica shows it a little after that.
func Grace(p time.Duration) time.Duration { return min(p/4, 30*time.Second) }

// TickInterval is how often an instance tries to enqueue a job of period p: a few times per
// period, so a tick lost to a Redis hiccup or a restart is made up within the period.
func TickInterval(p time.Duration) time.Duration { return min(p/4, time.Minute) }

// Task returns the task of j due at now: the current period's, or with AfterPeriod the
// previous one's. Its id is taken for as long as the task exists, and Retention keeps it two
// periods after it is done, longer than any instance keeps asking for that period.
func (j Job) Task(now time.Time) (*asynq.Task, error) {
	start := PeriodStart(now, j.Period)
	runAt := start
	if j.AfterPeriod {
		start = start.Add(-j.Period)
		runAt = start.Add(j.Period + Grace(j.Period))
	}
	b, err := json.Marshal(Payload{V: 1, Start: start, End: start.Add(j.Period)})
	if err != nil {
		return nil, fmt.Errorf("%s payload: %w", j.Type, err)
	}
	opts := append([]asynq.Option{asynq.TaskID(TaskID(j.Type, start)), asynq.Retention(2 * j.Period), asynq.ProcessAt(runAt)}, j.Options...)
	return asynq.NewTask(j.Type, b, opts...), nil
}

// Enqueuer is the part of asynq.Client the scheduler uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Results of a tick, the "result" label of flashcrowd_worker_scheduled_total.
const (
	Enqueued = "enqueued" // this instance made the period's task
	Taken    = "taken"    // another instance (or an earlier tick) already had
	Failed   = "error"    // Redis did not answer: the next tick tries again
)

// Scheduler ticks its jobs. Every instance runs one.
type Scheduler struct {
	queue     Enqueuer
	jobs      []Job
	log       *slog.Logger
	scheduled *prometheus.CounterVec
}

// New returns a scheduler of jobs that enqueues into queue; a job of period 0 is left out.
func New(queue Enqueuer, jobs []Job, log *slog.Logger, reg prometheus.Registerer) *Scheduler {
	s := &Scheduler{queue: queue, log: log, scheduled: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "flashcrowd_worker_scheduled_total",
		Help: "Ticks of the scheduler by job and result: enqueued (this instance made the period's task), taken (it existed already) or error.",
	}, []string{"job", "result"})}
	for _, j := range jobs {
		if j.Period > 0 {
			s.jobs = append(s.jobs, j)
			for _, r := range []string{Enqueued, Taken, Failed} {
				s.scheduled.WithLabelValues(j.Type, r) // the series exist from the start
			}
		}
	}
	return s
}

// Tick enqueues job's task due at now, unless it exists already.
func (s *Scheduler) Tick(ctx context.Context, j Job, now time.Time) (string, error) {
	t, err := j.Task(now)
	if err != nil {
		return Failed, err
	}
	_, err = s.queue.EnqueueContext(ctx, t)
	result := Enqueued
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		result, err = Taken, nil
	case err != nil:
		result, err = Failed, fmt.Errorf("schedule %s: %w", j.Type, err)
	}
	s.scheduled.WithLabelValues(j.Type, result).Inc()
	return result, err
}

// Run ticks every job at once and then every TickInterval of its period, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		wg.Go(func() {
			tick := time.NewTicker(TickInterval(j.Period))
			defer tick.Stop()
			for {
				switch result, err := s.Tick(ctx, j, time.Now()); {
				case err != nil:
					s.log.Warn("scheduled job not enqueued", "job", j.Type, "err", err)
				case result == Enqueued:
					s.log.Info("scheduled job enqueued", "job", j.Type)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
}
