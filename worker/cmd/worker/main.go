// Command worker is the queue-backed worker tier: an asynq server that takes background tasks
// from the queue Redis (thumbnails, order confirmation emails, order webhooks), a scheduler that enqueues
// the periodic jobs (the sales report, the catalog warm-up) once per period across every
// instance, and a small HTTP listener for health checks and metrics.
//
// There is no job that releases stock held by abandoned checkouts: checkout takes stock only
// in the transaction that places the order, so nothing is ever held.
package main

import (
	"context"
	"errors"
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
	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/foundation/objstore"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/worker/email"
	"github.com/flashcrowd/flashcrowd/worker/images"
	"github.com/flashcrowd/flashcrowd/worker/postgres"
	"github.com/flashcrowd/flashcrowd/worker/reports"
	"github.com/flashcrowd/flashcrowd/worker/schedule"
	"github.com/flashcrowd/flashcrowd/worker/warm"
	"github.com/flashcrowd/flashcrowd/worker/webhook"
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
	mailer, err := email.NewSender(cfg.SMTPAddr, cfg.MailFrom, cfg.SMTPTimeout)
	if err != nil {
		return err
	}
	redisOpt := asynq.RedisClientOpt{Addr: cfg.RedisQueueAddr, Username: cfg.RedisQueueUser, Password: cfg.RedisQueuePassword}
	reg := web.NewRegistry()
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	reg.MustRegister(metrics.NewQueueMetricsCollector(inspector)) // queue depth and latency, read from Redis
	// The webhook fan-out and the scheduler enqueue with it.
	queue := asynq.NewClient(redisOpt)
	defer queue.Close()

	// The database is optional: without it the jobs that read orders are off.
	var orders *postgres.Orders
	if cfg.DatabaseReadURL != "" {
		pool, err := db.Open(ctx, cfg.DatabaseReadURL, db.Replica, cfg.DBMaxConns, db.NewMetrics(reg))
		if err != nil {
			return err
		}
		defer pool.Close()
		orders = postgres.NewOrders(pool)
	}

	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency: cfg.Concurrency,
		// Confirmation emails first, without starving the rest: when both queues have work,
		// critical gets 2 of every 3 free slots, so thumbnails and webhooks still move in a burst.
		Queues:         map[string]int{tasks.QueueCritical: 6, tasks.QueueDefault: 3},
		RetryDelayFunc: retryDelay,
		// While the queues are empty, each worker looks every 1 to 3 s (asynq's default: 0.5 to
		// 1.5 s): a confirmation mail of a quiet shop leaves a second later, and the idle stack
		// sends the queue Redis half the polls. A busy worker takes the next task at once.
		TaskCheckInterval: taskCheckInterval,
		// On shutdown, tasks still running after this are handed back to the queue for another worker.
		ShutdownTimeout: cfg.TaskDrainTimeout,
		Logger:          asynqLogger{log},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			if retried >= maxRetry || errors.Is(err, asynq.SkipRetry) {
				// Archived: asynqmon lists it; an operator can run it again from there.
				log.Error("task archived", "type", t.Type(), "retried", retried, "err", err)
				return
			}
			log.Warn("task failed", "type", t.Type(), "retried", retried, "err", err)
		}),
	})
	mux := asynq.NewServeMux()
	mux.Use(taskMetrics(reg))
	mux.Handle(tasks.TypeThumbnail, &images.Thumbnailer{
		Store: store, Bucket: cfg.S3Bucket, Decoding: semaphore.NewWeighted(cfg.DecodeMemoryMiB << 20),
	})
	mux.Handle(tasks.TypeOrderConfirmation, mailer)
	mux.Handle(tasks.TypeOrderEvent, &webhook.FanOut{Queue: queue, URLs: cfg.Webhooks.URLs, MaxRetry: cfg.Webhooks.MaxRetry})
	mux.Handle(tasks.TypeWebhookDelivery, webhook.NewDeliverer(cfg.Webhooks.URLs, cfg.Webhooks.Secret, cfg.Webhooks.Timeout))
	var best warm.BestSellers // a nil *postgres.Orders would not be a nil interface
	salesPeriod := time.Duration(0)
	if orders != nil {
		best, salesPeriod = orders, cfg.SalesReportPeriod
		mux.Handle(reports.TypeSales, &reports.Sales{Source: orders, Store: store, Bucket: cfg.S3Bucket, Log: log})
	}
	mux.Handle(warm.TypeCatalog, warm.New(cfg.CatalogURL, best, cfg.CacheWarmProducts, log))
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	defer srv.Shutdown()

	sched := schedule.New(queue, []schedule.Job{
		{Type: reports.TypeSales, Period: salesPeriod, AfterPeriod: true,
			Options: []asynq.Option{asynq.Queue(tasks.QueueDefault), asynq.MaxRetry(5), asynq.Timeout(5 * time.Minute)}},
		// A warm-up that failed is tried once more; the next period's runs anyway.
		{Type: warm.TypeCatalog, Period: cfg.CacheWarmPeriod,
			Options: []asynq.Option{asynq.Queue(tasks.QueueDefault), asynq.MaxRetry(1), asynq.Timeout(time.Minute)}},
	}, log, reg)
	schedCtx, stopSched := context.WithCancel(ctx)
	scheduled := make(chan struct{})
	go func() { sched.Run(schedCtx); close(scheduled) }()
	defer func() { stopSched(); <-scheduled }()

	// Ready means able to take tasks: the queue Redis. The worker's MinIO user may only read images and
	// write thumbnails and reports, not look at the bucket; an object store, SMTP or database
	// outage shows as retried tasks.
	r := web.NewRouter(log, reg, map[string]web.Check{
		"redis-queue": func(context.Context) error { return srv.Ping() },
	})
	web.ServeDebug(ctx, log, cfg.DebugAddr)
	return web.Serve(ctx, log, cfg.HTTPAddr, r, 0, cfg.HTTPDrainTimeout) // no load balancer in front
}

// taskCheckInterval is how long an idle worker waits before it looks at the queues again.
const taskCheckInterval = 2 * time.Second

// retryDelay spaces the retries of webhook deliveries as webhook.RetryDelay says; other tasks
// keep asynq's default.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if t.Type() == tasks.TypeWebhookDelivery {
		return webhook.RetryDelay(n, err, t)
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
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
