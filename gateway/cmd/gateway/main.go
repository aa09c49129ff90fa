// Command gateway is the edge API: HAProxy's edge frontend balances over its instances, and it
// forwards to the internal services. It owns customers' sessions and logins. Run "gateway
// healthcheck" to probe a running instance.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/gateway/httpapi"
	"github.com/flashcrowd/flashcrowd/gateway/session"
	"github.com/flashcrowd/flashcrowd/gateway/storefront"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
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
	log, err := web.NewLogger(stdout, "gateway", cfg.LogLevel)
	if err != nil {
		return err
	}
	csrf, err := httpapi.CrossOrigin(cfg.PublicOrigins)
	if err != nil {
		return fmt.Errorf("PUBLIC_ORIGINS: %w", err)
	}
	// As ACL user sessions (infra/redis) it sends GETEX, SET and DEL on session:*, and the login
	// limiter's script (EVALSHA, EVAL when Redis does not know it yet), which calls TIME, GET and
	// SET on rate:login:* (redis_rate prefixes its keys with rate:).
	//
	// Short timeouts and one dial per attempt: a session operation that Redis cannot answer
	// fails the request with a 503 at once instead of holding it. One retry, on a fresh
	// connection, covers pooled connections that a Redis restart closed.
	rdb := redis.NewClient(&redis.Options{
		Addr: cfg.RedisAddr, Username: cfg.RedisSessionsUser, Password: cfg.RedisSessionsPassword,
		MaxRetries: 1, DialerRetries: 1,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
	})
	defer rdb.Close()
	instance, _ := os.Hostname()
	transport := httpapi.NewTransport(cfg.ProxyMaxIdleConns)
	shop, err := storefront.New(storefront.Deps{Log: log, Catalog: &cfg.UpstreamURL, Transport: transport, AdminToken: cfg.AdminToken})
	if err != nil {
		return fmt.Errorf("storefront: %w", err)
	}
	compress, err := httpapi.Compress()
	if err != nil {
		return fmt.Errorf("compression: %w", err)
	}
	h := httpapi.NewServer(httpapi.Deps{
		Log:        log,
		Registry:   web.NewRegistry(),
		Upstream:   &cfg.UpstreamURL,
		Transport:  transport,
		Storefront: shop,
		AdminToken: cfg.AdminToken,
		// Redis is left out of readiness on purpose, as in the catalog: every instance shares
		// it, so failing readiness would take every gateway out of HAProxy at once and stop
		// catalog browsing, which needs no session, along with the logins and carts that do.
		// Session routes answer 503 while it is down.
		Sessions: session.NewStore(rdb, cfg.SessionTTL),
		Limiter:  redis_rate.NewLimiter(rdb),
		Limits: httpapi.Limits{
			LoginPerAccount: cfg.LoginLimitPerAccount, LoginPerClient: cfg.LoginLimitPerClient,
			CheckoutPerSession: cfg.CheckoutLimitPerSession,
		},
		IdentityKey: []byte(cfg.IdentityKey),
		CrossOrigin: csrf,
		Instance:    instance,
	})
	web.ServeDebug(ctx, log, cfg.DebugAddr)
	return web.Serve(ctx, log, cfg.HTTPAddr, compress(h), cfg.HTTPUnreadyDelay, cfg.HTTPDrainTimeout)
}
