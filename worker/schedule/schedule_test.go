package schedule

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestPeriods(t *testing.T) {
	at := time.Date(2026, 12, 1, 21, 47, 13, 500, time.UTC)
	for _, tt := range []struct {
		p    time.Duration
		want time.Time
	}{
		{10 * time.Second, time.Date(2026, 12, 1, 21, 47, 10, 0, time.UTC)},
		{time.Minute, time.Date(2026, 12, 1, 21, 47, 0, 0, time.UTC)},
		{time.Hour, time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)},
		{24 * time.Hour, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{7 * time.Minute, time.Unix(at.Unix()-at.Unix()%420, 0).UTC()}, // epoch-aligned, not day-aligned
	} {
		if got := PeriodStart(at, tt.p); !got.Equal(tt.want) {
			t.Errorf("PeriodStart(%s) = %s, want %s", tt.p, got, tt.want)
		}
		// Any instant of the period gives the same start, in any time zone.
		if got := PeriodStart(tt.want.Add(tt.p-1).In(time.FixedZone("X", 5*3600)), tt.p); !got.Equal(tt.want) {
			t.Errorf("end of period %s: start %s, want %s", tt.p, got, tt.want)
		}
	}
	if id := TaskID("report:sales", time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)); id != "report:sales:1796158800" {
		t.Errorf("TaskID = %s", id)
	}
	if TickInterval(10*time.Second) != 2500*time.Millisecond || TickInterval(time.Hour) != time.Minute {
		t.Error("a few ticks per period, at least one a minute")
	}
}

func TestTaskOfAPeriod(t *testing.T) {
	// In the future, so the queue holds the tasks as scheduled, showing when they run.
	now := time.Date(2036, 12, 1, 21, 47, 13, 0, time.UTC)
	for _, tt := range []struct {
		job        Job
		start, run time.Time
	}{
		{Job{Type: "catalog:warm", Period: time.Minute}, time.Date(2036, 12, 1, 21, 47, 0, 0, time.UTC), time.Date(2036, 12, 1, 21, 47, 0, 0, time.UTC)},
		// A report covers the hour that ended, and runs 30 s after it.
		{Job{Type: "report:sales", Period: time.Hour, AfterPeriod: true}, time.Date(2036, 12, 1, 20, 0, 0, 0, time.UTC), time.Date(2036, 12, 1, 21, 0, 30, 0, time.UTC)},
	} {
		task, err := tt.job.Task(now)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePayload(task)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Start.Equal(tt.start) || !p.End.Equal(tt.start.Add(tt.job.Period)) {
			t.Errorf("%s: period %s to %s, want from %s", tt.job.Type, p.Start, p.End, tt.start)
		}
		// The id and the run time are what the queue shows.
		rds := miniredis.RunT(t)
		c := asynq.NewClient(asynq.RedisClientOpt{Addr: rds.Addr()})
		info, err := c.EnqueueContext(context.Background(), task)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if info.ID != TaskID(tt.job.Type, tt.start) || info.Retention != 2*tt.job.Period {
			t.Errorf("%s: id %s, retention %s", tt.job.Type, info.ID, info.Retention)
		}
		if !info.NextProcessAt.Equal(tt.run) {
			t.Errorf("%s: runs at %s, want %s", tt.job.Type, info.NextProcessAt, tt.run)
		}
	}
}

// Three instances tick a 10 s job every 2.5 s for a minute, each from its own start time: six
// periods, six tasks, not eighteen (the drill, in simulated time).
func TestSeveralSchedulersEnqueueOncePerPeriod(t *testing.T) {
	rds := miniredis.RunT(t)
	opt := asynq.RedisClientOpt{Addr: rds.Addr()}
	job := Job{Type: "test:job", Period: 10 * time.Second}
	t0 := time.Date(2020, 12, 1, 22, 0, 0, 0, time.UTC) // in the past: the tasks are pending
	reg := prometheus.NewRegistry()
	var scheds []*Scheduler
	for i := range 3 {
		c := asynq.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		r := prometheus.NewRegistry()
		if i == 0 {
			r = reg
		}
		scheds = append(scheds, New(c, []Job{job}, quiet, r))
	}
	results := map[string]int{}
	for step := time.Duration(0); step < time.Minute; step += 250 * time.Millisecond {
		for i, s := range scheds {
			offset := time.Duration(i) * 750 * time.Millisecond // instances tick out of step
			if (step-offset)%TickInterval(job.Period) != 0 || step < offset {
				continue
			}
			r, err := s.Tick(context.Background(), job, t0.Add(step))
			if err != nil {
				t.Fatal(err)
			}
			results[r]++
		}
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	pending, err := insp.ListPendingTasks("default")
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 6 || results[Enqueued] != 6 || results[Taken] != 3*24-6 {
		t.Fatalf("%d tasks, results %v; want 6 enqueued, the rest taken", len(pending), results)
	}
	for i, info := range pending {
		if want := TaskID(job.Type, t0.Add(time.Duration(i)*job.Period)); info.ID != want {
			t.Errorf("task %d: id %s, want %s", i, info.ID, want)
		}
	}
	if n := testutil.ToFloat64(scheds[0].scheduled.WithLabelValues(job.Type, Taken)); n == 0 {
		t.Error("flashcrowd_worker_scheduled_total{result=taken} not counted")
	}
}

// Once the period's task has run, Retention keeps its id taken: later ticks in the period do
// not run it again. A real asynq server processes it, on miniredis.
func TestDoneTaskStaysTakenForThePeriod(t *testing.T) {
	rds := miniredis.RunT(t)
	opt := asynq.RedisClientOpt{Addr: rds.Addr()}
	var runs atomic.Int32
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 1, Logger: nopLogger{}, TaskCheckInterval: 50 * time.Millisecond})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:job", func(context.Context, *asynq.Task) error { runs.Add(1); return nil })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	c := asynq.NewClient(opt)
	defer c.Close()
	s := New(c, nil, quiet, prometheus.NewRegistry())
	job := Job{Type: "test:job", Period: time.Hour}
	now := time.Now()
	if r, err := s.Tick(context.Background(), job, now); r != Enqueued || err != nil {
		t.Fatalf("first tick: %s, %v", r, err)
	}
	for deadline := time.Now().Add(5 * time.Second); runs.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task never ran")
		}
	}
	time.Sleep(100 * time.Millisecond) // asynq marks it completed after the handler returns
	if r, err := s.Tick(context.Background(), job, now.Add(time.Second)); r != Taken || err != nil {
		t.Fatalf("tick after the run: %s, %v; want taken", r, err)
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times", runs.Load())
	}
}

// Run ticks at once, and stops with its context.
func TestRun(t *testing.T) {
	rds := miniredis.RunT(t)
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: rds.Addr()})
	defer c.Close()
	s := New(c, []Job{{Type: "a:job", Period: time.Hour}, {Type: "off:job", Period: 0}}, quiet, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(s.scheduled.WithLabelValues("a:job", Enqueued)) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no tick")
		}
	}
	cancel()
	<-done
	if n := testutil.CollectAndCount(s.scheduled); n != 3 {
		t.Errorf("%d series, want 3: the disabled job has none", n)
	}
}

type nopLogger struct{}

func (nopLogger) Debug(...any) {}
func (nopLogger) Info(...any)  {}
func (nopLogger) Warn(...any)  {}
func (nopLogger) Error(...any) {}
func (nopLogger) Fatal(...any) {}
