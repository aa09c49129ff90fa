// Command worker is the queue-backed worker tier: an asynq server that takes background tasks
// (thumbnails today) from Redis, plus a small HTTP listener for health checks and metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/semaphore"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/objstore"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/worker/images"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var cfg Config
	if err := config.Load(&cfg, getenv); err != nil {
		return err
	}
	if len(args) > 1 && args[1] == "healthcheck" {
		return web.Probe(ctx, cfg.HTTPAddr, "/healthz")
	}
	log, err := web.NewLogger(stdout, "worker", cfg.LogLevel)
	if err != nil {
		return err
	}

	store, err := objstore.New(cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey)
	if err != nil {
		return err
	}
	redisOpt := asynq.RedisClientOpt{Addr: cfg.RedisAddr, Username: cfg.RedisQueueUser, Password: cfg.RedisQueuePassword}
	reg := web.NewRegistry()
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	reg.MustRegister(metrics.NewQueueMetricsCollector(inspector)) // queue depth and latency, read from Redis

	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency: cfg.Concurrency,
		// On shutdown, tasks still running after this are handed back to the queue for another worker.
		ShutdownTimeout: cfg.TaskDrainTimeout,
		Logger:          asynqLogger{log},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			log.Warn("task failed", "type", t.Type(), "err", err)
		}),
	})
	mux := asynq.NewServeMux()
	mux.Use(taskMetrics(reg))
	mux.Handle(tasks.TypeThumbnail, &images.Thumbnailer{
		Store: store, Bucket: cfg.S3Bucket, Decoding: semaphore.NewWeighted(cfg.DecodeMemoryMiB << 20),
	})
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	defer srv.Shutdown()

	// Ready means able to take tasks: Redis. The worker's MinIO user may only read images and
	// write thumbnails, not look at the bucket; an object store outage shows as retried tasks.
	r := web.NewRouter(log, reg, map[string]web.Check{
		"redis": func(context.Context) error { return srv.Ping() },
	})
	return web.Serve(ctx, log, cfg.HTTPAddr, r, cfg.HTTPDrainTimeout)
}

// taskMetrics counts tasks by type and outcome and times them.
func taskMetrics(reg prometheus.Registerer) asynq.MiddlewareFunc {
	f := promauto.With(reg)
	done := f.NewCounterVec(prometheus.CounterOpts{
		Name: "flashcrowd_worker_tasks_total",
		Help: "Tasks this worker finished, by type and result (ok or error).",
	}, []string{"type", "result"})
	took := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flashcrowd_worker_task_duration_seconds",
		Help:    "Time to process a task, by type.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
	}, []string{"type"})
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			result := "ok"
			if err != nil {
				result = "error"
			}
			done.WithLabelValues(t.Type(), result).Inc()
			took.WithLabelValues(t.Type()).Observe(time.Since(start).Seconds())
			return err
		})
	}
}

// asynqLogger routes asynq's own logs into the service's JSON log.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...))
	os.Exit(1)
}
