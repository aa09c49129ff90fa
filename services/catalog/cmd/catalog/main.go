// Command catalog serves the product catalog API. Subcommands:
//
//	catalog            serve the API (the default)
//	catalog migrate    apply schema migrations and seed products; then exit
//	catalog healthcheck  probe this container's /healthz (the image has no shell or curl)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/foundation/objstore"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/httpapi"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
	"github.com/flashcrowd/flashcrowd/services/catalog/purge"
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
	case "healthcheck", "serve":
		var cfg Config
		if err := config.Load(&cfg, getenv); err != nil {
			return err
		}
		if cmd == "healthcheck" {
			return web.Probe(ctx, cfg.HTTPAddr, "/healthz")
		}
		return serve(ctx, cfg, stdout)
	case "migrate":
		var cfg MigrateConfig
		if err := config.Load(&cfg, getenv); err != nil {
			return err
		}
		return migrate(ctx, cfg, stdout)
	}
	return fmt.Errorf("unknown command %q: want serve, migrate or healthcheck", cmd)
}

func serve(ctx context.Context, cfg Config, stdout io.Writer) error {
	log, err := web.NewLogger(stdout, "catalog", cfg.LogLevel)
	if err != nil {
		return err
	}
	reg := web.NewRegistry()

	dbm := db.NewMetrics(reg)
	primary, err := db.Open(ctx, cfg.DatabaseURL, db.Primary, cfg.DBMaxConns, dbm)
	if err != nil {
		return err
	}
	defer primary.Close()
	// Decided once, here: without a separate read URL (the labs' "no replicas" mode) there is
	// no replica pool, and every read goes to the primary.
	var replica *pgxpool.Pool
	if cfg.DatabaseReadURL != "" && cfg.DatabaseReadURL != cfg.DatabaseURL {
		if replica, err = db.Open(ctx, cfg.DatabaseReadURL, db.Replica, cfg.DBMaxConns, dbm); err != nil {
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

	// Short timeouts and no retries: when Redis is down, reads must fall through to the
	// database at once (the cache also stops asking Redis for a moment after a failure).
	// go-redis dials up to five times per connection by default, and waits up to a second
	// longer than ReadTimeout for a free one: a read would wait 1.25-1.65 s for an absent
	// Redis, past the orders service's 1 s limit on catalog calls. One dial, no longer wait.
	rdb := redis.NewClient(&redis.Options{
		Addr: cfg.RedisAddr, Username: cfg.RedisCacheUser, Password: cfg.RedisCachePassword, MaxRetries: -1,
		DialTimeout: 250 * time.Millisecond, ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond,
		DialerRetries: 1, PoolTimeout: 250 * time.Millisecond,
	})
	defer rdb.Close()
	// The task queues have a Redis of their own, where this user may only enqueue.
	queue := asynq.NewClient(asynq.RedisClientOpt{Addr: cfg.RedisQueueAddr, Username: cfg.RedisQueueUser, Password: cfg.RedisQueuePassword})
	defer queue.Close()

	media, err := newMedia(cfg.Media)
	if err != nil {
		return err
	}
	c := cache.New(rdb, cache.Config{
		Disabled:    !cfg.CacheEnabled,
		TTL:         cfg.CacheTTL,
		ProductTTL:  cfg.CacheProductTTL,
		NotFoundTTL: cfg.CacheNotFoundTTL,
		LocalTTL:    cfg.CacheL1TTL,
		LocalSize:   cfg.CacheL1Size,
		PreloadMax:  cfg.CachePreloadMax,
	}, log, reg)
	go c.Listen(ctx)                                        // other instances' invalidations
	go c.KeepPreloaded(ctx, httpapi.Preloads(store, media)) // the product tail, in Redis
	purges := purge.New(cfg.EdgePurgeURL, reg)
	instance, _ := os.Hostname()
	h := httpapi.NewServer(httpapi.Deps{
		Log:      log,
		Registry: reg,
		// Redis is left out on purpose: without it reads still work, from the database.
		Ready:         map[string]web.Check{"database": store.Ping},
		Writable:      store.Writable,
		Store:         store,
		Cache:         c,
		Media:         media,
		Queue:         queue,
		Tree:          tree,
		Purge:         purges,
		AdminToken:    cfg.AdminToken,
		InternalToken: cfg.InternalToken,
		Instance:      instance,
		Version:       cfg.Version,
	})
	web.ServeDebug(ctx, log, cfg.DebugAddr)
	err = web.Serve(ctx, log, cfg.HTTPAddr, h, cfg.HTTPUnreadyDelay, cfg.HTTPDrainTimeout)
	// No request is left to write: send the last writes' repurges (up to 5 s after them).
	pctx, cancel := context.WithTimeout(context.Background(), cfg.HTTPDrainTimeout)
	defer cancel()
	return errors.Join(err, purges.Close(pctx))
}

func newMedia(mc Media) (httpapi.Media, error) {
	store, err := objstore.New(mc.S3Endpoint, mc.S3AccessKey, mc.S3SecretKey)
	if err != nil {
		return httpapi.Media{}, err
	}
	presign, err := objstore.New(mc.S3PublicURL, mc.S3AccessKey, mc.S3SecretKey)
	if err != nil {
		return httpapi.Media{}, fmt.Errorf("S3_PUBLIC_URL: %w", err)
	}
	return httpapi.Media{Store: store, Presign: presign, Bucket: mc.S3Bucket, PublicURL: mc.S3PublicURL}, nil
}

// migrate prepares the database before any app instance starts: schema and seed data. (The
// media bucket is MinIO's own setup: infra/minio/setup.)
func migrate(ctx context.Context, cfg MigrateConfig, stdout io.Writer) error {
	log, err := web.NewLogger(stdout, "catalog-migrate", cfg.LogLevel)
	if err != nil {
		return err
	}
	start := time.Now()
	// The cluster may be electing its leader still: wait for one (Patroni's ttl is 20 s).
	if err := db.WaitForPrimary(ctx, cfg.MigrateDatabaseURL, time.Minute); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, added, err := postgres.Migrate(ctx, cfg.MigrateDatabaseURL, cfg.SeedProducts)
	if err != nil {
		return err
	}
	log.Info("database ready", "applied", applied, "seed_products", cfg.SeedProducts, "added", added, "took", time.Since(start).String())
	return nil
}
