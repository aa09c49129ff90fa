// Command orders serves carts, checkout and orders. Subcommands:
//
//	orders              serve the API and relay the outbox (the default)
//	orders migrate      apply the orders schema's migrations; then exit
//	orders healthcheck  probe this container's /healthz (the image has no shell or curl)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/orders/cart"
	"github.com/flashcrowd/flashcrowd/services/orders/catalogapi"
	"github.com/flashcrowd/flashcrowd/services/orders/httpapi"
	"github.com/flashcrowd/flashcrowd/services/orders/postgres"
)

// Redis ACL users (infra/redis): carts may touch cart:* and stock:* only, on the main Redis;
// orders may only enqueue tasks (asynq:*), on the queue Redis.
const (
	redisCartsUser = "carts"
	redisQueueUser = "orders"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
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
	log, err := web.NewLogger(stdout, "orders", cfg.LogLevel)
	if err != nil {
		return err
	}
	reg := web.NewRegistry()

	primary, err := db.Open(ctx, cfg.DatabaseURL, db.Primary, cfg.DBMaxConns, db.NewMetrics(reg))
	if err != nil {
		return err
	}
	defer primary.Close()
	store := postgres.NewStore(primary, log)

	// Short timeouts and no retries: a shopper waiting on a cart is better told to retry (503)
	// than kept waiting on a Redis that is down.
	rdb := redis.NewClient(&redis.Options{
		Addr: cfg.RedisAddr, Username: redisCartsUser, Password: cfg.RedisCartsPassword, MaxRetries: -1,
		DialTimeout: 250 * time.Millisecond, ReadTimeout: 250 * time.Millisecond, WriteTimeout: 250 * time.Millisecond,
	})
	defer rdb.Close()
	carts := cart.New(rdb, cfg.CartTTL)

	// The task queues have a Redis of their own, where this user may only enqueue. Only the
	// relay uses it, and backs off while it fails; checkouts and readiness never wait on it.
	queue := asynq.NewClient(asynq.RedisClientOpt{
		Addr: cfg.RedisQueueAddr, Username: redisQueueUser, Password: cfg.RedisQueuePassword,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	defer queue.Close()
	relay := postgres.NewRelay(primary, queue, cfg.OutboxPollInterval, log, reg)

	catalog := catalogapi.New(&cfg.CatalogURL, cfg.CatalogInternalToken, catalogapi.ProductTTL, log, reg)
	instance, _ := os.Hostname()
	h := httpapi.NewServer(httpapi.Deps{
		Log:      log,
		Registry: reg,
		// Carts, in Redis, are what every instance needs. The catalog and the database are left
		// out: they are shared, so their failure would take every instance out together and the
		// edge would answer for all of them. Without the catalog carts cannot be priced, but
		// orders can still be read and checkouts decided; without a primary (a failover) carts
		// go on working and what needs the database answers a fast 503 (read-only mode).
		Ready: map[string]web.Check{"redis": carts.Ping},
		Store: store,
		Carts: carts,
		// Counts live 2 s from their last figure: a restock the gate has not seen waits at most that;
		// a cart holds what it added for CART_HOLD.
		Stock:        cart.NewStock(rdb, 2*time.Second, cfg.CartHold),
		Catalog:      catalog,
		IdentityKey:  []byte(cfg.IdentityKey),
		CancelWindow: cfg.OrderCancelWindow,
		Nudge:        relay.Nudge,
		// Half the pool: checkouts of one product wait on its row lock holding a connection,
		// and the other half keeps order reads and key look-ups going during a flash sale.
		MaxTransactions: max(cfg.DBMaxConns/2, 1),
		Instance:        instance,
	})

	rctx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var relaying sync.WaitGroup
	relaying.Go(func() { relay.Run(rctx) })

	web.ServeDebug(ctx, log, cfg.DebugAddr)
	err = web.Serve(ctx, log, cfg.HTTPAddr, h, cfg.HTTPUnreadyDelay, cfg.HTTPDrainTimeout)
	// No request is left: one last pass moves the last commits' outbox rows (the other
	// instances would otherwise get them on their next poll), then the relay stops.
	stopRelay()
	relaying.Wait()
	dctx, cancel := context.WithTimeout(context.Background(), cfg.HTTPDrainTimeout)
	defer cancel()
	if _, rerr := relay.RelayOnce(dctx); rerr != nil {
		log.Warn("last outbox pass", "err", rerr)
	}
	return errors.Join(err, catalog.Close(dctx))
}

// migrate applies the orders schema before any instance starts.
func migrate(ctx context.Context, cfg MigrateConfig, stdout io.Writer) error {
	log, err := web.NewLogger(stdout, "orders-migrate", cfg.LogLevel)
	if err != nil {
		return err
	}
	start := time.Now()
	// The cluster may be electing its leader still: wait for one (Patroni's ttl is 20 s).
	if err := db.WaitForPrimary(ctx, cfg.MigrateDatabaseURL, time.Minute); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := postgres.Migrate(ctx, cfg.MigrateDatabaseURL)
	if err != nil {
		return err
	}
	log.Info("database ready", "applied", applied, "took", time.Since(start).String())
	return nil
}
