// Command worker is the queue-backed worker tier: an asynq server that takes background tasks
// (thumbnails today) from Redis, plus a small HTTP listener for health checks and metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flashcrowd/flashcrowd/contracts/tasks"
	"github.com/flashcrowd/flashcrowd/foundation/env"
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

type config struct {
	httpAddr, logLevel                     string
	redisAddr, redisUser, redisPassword    string
	s3Endpoint, s3Access, s3Secret, bucket string
	concurrency                            int
	shutdownTimeout                        time.Duration
}

func loadConfig(getenv func(string) string) (config, error) {
	e := env.New(getenv)
	c := config{
		httpAddr:      e.String("HTTP_ADDR", ":8080"),
		logLevel:      e.String("LOG_LEVEL", "info"),
		redisAddr:     e.String("REDIS_ADDR", "redis:6379"),
		redisUser:     e.String("REDIS_QUEUE_USER", "queue"), // may touch only asynq:* (infra/redis)
		redisPassword: e.Required("REDIS_QUEUE_PASSWORD"),
		s3Endpoint:    e.String("S3_ENDPOINT", "http://minio:9000"),
		s3Access:      e.Required("S3_ACCESS_KEY"),
		s3Secret:      e.Required("S3_SECRET_KEY"),
		bucket:        e.String("S3_BUCKET", "media"),
		concurrency:   e.Int("WORKER_CONCURRENCY", 8, 1, 1000),
		// With the 5 s HTTP drain, this fits compose's 30 s stop grace period.
		shutdownTimeout: e.Duration("SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	return c, e.Err()
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 && args[1] == "healthcheck" {
		return web.Probe(ctx, env.New(getenv).String("HTTP_ADDR", ":8080"), "/healthz")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log, err := web.NewLogger(stdout, "worker", cfg.logLevel)
	if err != nil {
		return err
	}

	store, err := objstore.New(cfg.s3Endpoint, cfg.s3Access, cfg.s3Secret)
	if err != nil {
		return err
	}
	redisOpt := asynq.RedisClientOpt{Addr: cfg.redisAddr, Username: cfg.redisUser, Password: cfg.redisPassword}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	reg.MustRegister(metrics.NewQueueMetricsCollector(inspector)) // queue depth and latency, read from Redis

	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency: cfg.concurrency,
		// On shutdown, tasks still running after this are handed back to the queue for another worker.
		ShutdownTimeout: cfg.shutdownTimeout,
		Logger:          asynqLogger{log},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			log.Warn("task failed", "type", t.Type(), "err", err)
		}),
	})
	mux := asynq.NewServeMux()
	mux.Use(taskMetrics(reg))
	mux.Handle(tasks.TypeThumbnail, &images.Thumbnailer{Store: store, Bucket: cfg.bucket})
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	defer srv.Shutdown()

	r := chi.NewRouter()
	r.Use(web.Stack(log, web.NewMetrics(reg)))
	r.Method(http.MethodGet, "/healthz", web.Healthz())
	r.Method(http.MethodGet, "/readyz", web.Readyz(map[string]web.Check{
		"redis": func(context.Context) error { return srv.Ping() },
		"object store": func(ctx context.Context) error {
			ok, err := store.BucketExists(ctx, cfg.bucket)
			if err == nil && !ok {
				err = errors.New("bucket " + cfg.bucket + " does not exist")
			}
			return err
		},
	}))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return web.Serve(ctx, log, cfg.httpAddr, r, 5*time.Second, nil)
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
