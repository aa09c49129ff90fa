// Command catalog serves the product catalog API. Subcommands:
//
//	catalog            serve the API (the default)
//	catalog migrate    apply schema migrations, seed products and make the media bucket; then exit
//	catalog healthcheck  probe this container's /healthz (the image has no shell or curl)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/foundation/env"
	"github.com/flashcrowd/flashcrowd/foundation/objstore"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/httpapi"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "healthcheck":
		return web.Probe(ctx, env.New(getenv).String("HTTP_ADDR", ":8080"), "/healthz")
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "serve":
		return serve(ctx, getenv, stdout)
	}
	return fmt.Errorf("unknown command %q: want serve, migrate or healthcheck", cmd)
}

// mediaConfig is the object store configuration both serve and migrate read.
type mediaConfig struct{ endpoint, publicURL, access, secret, bucket string }

func loadMedia(e *env.Reader) mediaConfig {
	return mediaConfig{
		endpoint:  e.String("S3_ENDPOINT", "http://minio:9000"),
		publicURL: e.String("S3_PUBLIC_URL", "http://127.0.0.1:8080"),
		access:    e.Required("S3_ACCESS_KEY"),
		secret:    e.Required("S3_SECRET_KEY"),
		bucket:    e.String("S3_BUCKET", "media"),
	}
}

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	e := env.New(getenv)
	var (
		httpAddr  = e.String("HTTP_ADDR", ":8080")
		logLevel  = e.String("LOG_LEVEL", "info")
		dbURL     = e.Required("DATABASE_URL")
		dbReadURL = e.String("DATABASE_READ_URL", getenv("DATABASE_URL"))
		maxConns  = e.Int("DB_MAX_CONNS", 10, 1, 1000)
		redisAddr = e.String("REDIS_ADDR", "redis:6379")
		// One Redis user per job (infra/redis/redis-entrypoint): the cache may touch only
		// catalog:* keys and channels, the task queue only asynq:*.
		cacheUser = e.String("REDIS_CACHE_USER", "cache")
		cachePass = e.Required("REDIS_CACHE_PASSWORD")
		queueUser = e.String("REDIS_QUEUE_USER", "queue")
		queuePass = e.Required("REDIS_QUEUE_PASSWORD")
		cacheCfg  = cache.Config{
			Disabled: !e.Bool("CACHE_ENABLED", true),
			// Writes drop their entries at once (delete and pub/sub), so the TTL is only the
			// bound on staleness when an invalidation is lost (Redis down during a write). Long
			// enough that a product read every few minutes stays cached between reads.
			TTL:         e.Duration("CACHE_TTL", 10*time.Minute),
			NotFoundTTL: e.Duration("CACHE_NOT_FOUND_TTL", 10*time.Second),
			LocalTTL:    e.Duration("CACHE_L1_TTL", 5*time.Second),
			LocalSize:   e.Int("CACHE_L1_SIZE", 10_000, 1, 10_000_000),
		}
		drain    = e.Duration("SHUTDOWN_TIMEOUT", 10*time.Second)
		purgeURL = e.String("EDGE_PURGE_URL", "")
		mc       = loadMedia(e)
	)
	if err := e.Err(); err != nil {
		return err
	}
	if cacheCfg.TTL < time.Second || cacheCfg.NotFoundTTL < time.Second || cacheCfg.LocalTTL <= 0 {
		return fmt.Errorf("configuration: CACHE_TTL and CACHE_NOT_FOUND_TTL must be at least 1s, CACHE_L1_TTL above 0")
	}
	log, err := web.NewLogger(stdout, "catalog", logLevel)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	dbm := db.NewMetrics(reg)
	primary, err := db.Open(ctx, dbURL, db.Primary, maxConns, dbm)
	if err != nil {
		return err
	}
	defer primary.Close()
	// Without replicas (the labs' "no replicas" mode) reads share the primary's pool.
	replica := primary
	if dbReadURL != dbURL {
		if replica, err = db.Open(ctx, dbReadURL, db.Replica, maxConns, dbm); err != nil {
			return err
		}
		defer replica.Close()
	}
	store := postgres.NewStore(primary, replica, log, reg)
	// The tree is reference data that changes only with the seeder, which runs before any
	// instance starts.
	tree, err := store.Categories(ctx)
	if err != nil {
		return err
	}

	cacheRdb := newRedis(redisAddr, cacheUser, cachePass)
	defer cacheRdb.Close()
	queueRdb := newRedis(redisAddr, queueUser, queuePass)
	defer queueRdb.Close()
	queue := asynq.NewClientFromRedisClient(queueRdb)

	media, err := newMedia(mc)
	if err != nil {
		return err
	}
	c := cache.New(cacheRdb, cacheCfg, log, reg)
	go c.Listen(ctx) // other instances' invalidations
	instance, _ := os.Hostname()
	h := httpapi.NewServer(httpapi.Deps{
		Log:      log,
		Metrics:  web.NewMetrics(reg),
		Store:    store,
		Cache:    c,
		Media:    media,
		Queue:    queue,
		Tree:     tree,
		Edge:     httpapi.NewEdge(purgeURL, reg),
		Instance: instance,
		// Redis is left out on purpose: without it reads still work, from the database.
		Ready:  map[string]web.Check{"database": store.Ping},
		Scrape: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	})
	return web.Serve(ctx, log, httpAddr, h, drain, nil)
}

// newRedis opens a client that logs in to Redis as user. Short timeouts and no retries: when
// Redis is down, reads must fall through to the database at once (the cache also stops asking
// Redis for a moment after a failure), and an enqueue must fail fast, into a 503 with Retry-After.
func newRedis(addr, user, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Username: user, Password: password, MaxRetries: -1,
		DialTimeout: 250 * time.Millisecond, ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond,
	})
}

func newMedia(mc mediaConfig) (httpapi.Media, error) {
	store, err := objstore.New(mc.endpoint, mc.access, mc.secret)
	if err != nil {
		return httpapi.Media{}, err
	}
	presign, err := objstore.New(mc.publicURL, mc.access, mc.secret)
	if err != nil {
		return httpapi.Media{}, fmt.Errorf("S3_PUBLIC_URL: %w", err)
	}
	return httpapi.Media{Store: store, Presign: presign, Bucket: mc.bucket, PublicURL: mc.publicURL}, nil
}

// migrate prepares the stores before any app instance starts: schema, seed data, media bucket.
func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	e := env.New(getenv)
	var (
		url  = e.Required("MIGRATE_DATABASE_URL")
		seed = e.Int("SEED_PRODUCTS", 100_000, 0, 1_000_000)
		mc   = loadMedia(e)
	)
	if err := e.Err(); err != nil {
		return err
	}
	log, err := web.NewLogger(stdout, "catalog-migrate", "info")
	if err != nil {
		return err
	}
	start := time.Now()
	applied, added, err := postgres.Migrate(ctx, url, seed)
	if err != nil {
		return err
	}
	log.Info("database ready", "applied", applied, "seed_products", seed, "added", added, "took", time.Since(start).String())

	media, err := newMedia(mc)
	if err != nil {
		return err
	}
	if err := ensureBucket(ctx, media.Store, mc.bucket); err != nil {
		return err
	}
	log.Info("media bucket ready", "bucket", mc.bucket)
	return nil
}

// ensureBucket makes the media bucket and lets anyone read it: product images are public.
func ensureBucket(ctx context.Context, s *minio.Client, bucket string) error {
	ok, err := s.BucketExists(ctx, bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	if !ok {
		err := s.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: objstore.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return fmt.Errorf("make bucket %s: %w", bucket, err)
		}
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},` +
		`"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::` + bucket + `/*"]}]}`
	if err := s.SetBucketPolicy(ctx, bucket, policy); err != nil {
		return fmt.Errorf("bucket %s policy: %w", bucket, err)
	}
	return nil
}
