package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// Config is every variable 'orders' (serve) reads; docs/configuration.md shows it (config.Doc).
type Config struct {
	config.Common
	web.Debug
	HTTPAddr    string `env:"HTTP_ADDR" envDefault:":8080" desc:"Listen address. 'orders healthcheck' probes 127.0.0.1:<port>/healthz."`
	DatabaseURL string `env:"DATABASE_URL,required" secret:"url" desc:"The primary, through PgBouncer: checkouts, orders, customers and the outbox. Orders never read a replica: every read must see the writes before it."`
	DBMaxConns  int    `env:"DB_MAX_CONNS" envDefault:"10" desc:"Maximum connections of the pgx pool in this instance (1 to 1000)."`

	RedisAddr          string `env:"REDIS_ADDR" envDefault:"redis:6379" desc:"The main Redis: carts and the stock gate's counts (as ACL user carts, keys cart:* and stock:*)."`
	RedisCartsPassword string `env:"REDIS_CARTS_PASSWORD,required" secret:"true" desc:"Password of its user carts."`
	RedisQueueAddr     string `env:"REDIS_QUEUE_ADDR" envDefault:"redis-queue:6379" desc:"The queue Redis, which the outbox relay fills (as ACL user orders, which may only enqueue: keys asynq:*). Checkouts do not need it: while it is down the outbox keeps the tasks."`
	RedisQueuePassword string `env:"REDIS_QUEUE_PASSWORD,required" secret:"true" desc:"Password of its user orders."`

	IdentityKey          string  `env:"IDENTITY_KEY,required" secret:"true" desc:"Key of the HMAC the gateway signs X-Flashcrowd-Identity with (at least 32 bytes; the gateway has the same). Requests without a valid one get a 401."`
	CatalogURL           url.URL `env:"CATALOG_URL" envDefault:"http://haproxy:8081" desc:"The catalog's API, http://host:port: prices and stock (GET /api/v1/products/{id}) and, after each order, POST /internal/v1/stock-changes."`
	CatalogInternalToken string  `env:"CATALOG_INTERNAL_TOKEN,required" secret:"true" desc:"Bearer token the catalog requires on /internal/v1/stock-changes."`

	CartTTL            time.Duration `env:"CART_TTL" envDefault:"168h" desc:"Lifetime of a cart in Redis after its last use (1m to 8760h)."`
	CartHold           time.Duration `env:"CART_HOLD" envDefault:"15m" desc:"How long units added to a cart stay held for it after it last changed them (1m to 24h): other buyers hear \"sold out\" while every unit is held; then they are free again and the cart's checkout holds anew."`
	OrderCancelWindow  time.Duration `env:"ORDER_CANCEL_WINDOW" envDefault:"30m" desc:"How long after checkout its owner may cancel an order, putting the stock back (0 to 720h; 0: never)."`
	OutboxPollInterval time.Duration `env:"OUTBOX_POLL_INTERVAL" envDefault:"5s" desc:"How often the outbox relay looks for rows no commit of this instance woke it for (a dead instance's, or a failed enqueue's) (10ms to 1m), and its first back-off after a failure; a local commit (an order placed or cancelled) wakes it at once. Each look at an empty outbox is one query on the primary, from every instance: every 1 s rather than 5, the two instances' looks cost the idle stack a third of a percent of a core more (orders and PgBouncer, measured)."`
	HTTPUnreadyDelay   time.Duration `env:"HTTP_UNREADY_DELAY" envDefault:"5s" desc:"On SIGTERM, how long the instance goes on serving while /readyz answers 503, so that HAProxy (two failed checks, within 3 s) stops sending it requests before it stops accepting them (0 to 20s)."`
	HTTPDrainTimeout   time.Duration `env:"HTTP_DRAIN_TIMEOUT" envDefault:"10s" desc:"On SIGTERM, how long in-flight requests may take to finish."`
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	var errs []error
	if c.HTTPUnreadyDelay < 0 || c.HTTPUnreadyDelay > 20*time.Second {
		errs = append(errs, fmt.Errorf("HTTP_UNREADY_DELAY=%s: want 0 to 20s", c.HTTPUnreadyDelay))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS=%d: want 1 to 1000", c.DBMaxConns))
	}
	if len(c.IdentityKey) < identity.MinKeyLen {
		errs = append(errs, fmt.Errorf("IDENTITY_KEY: %d bytes, want at least %d", len(c.IdentityKey), identity.MinKeyLen))
	}
	if u := c.CatalogURL; u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("CATALOG_URL=%q: want http://host:port", u.String()))
	}
	if c.CartTTL < time.Minute || c.CartTTL > 8760*time.Hour {
		errs = append(errs, fmt.Errorf("CART_TTL=%s: want 1m to 8760h", c.CartTTL))
	}
	if c.CartHold < time.Minute || c.CartHold > 24*time.Hour {
		errs = append(errs, fmt.Errorf("CART_HOLD=%s: want 1m to 24h", c.CartHold))
	}
	if c.OrderCancelWindow < 0 || c.OrderCancelWindow > 720*time.Hour {
		errs = append(errs, fmt.Errorf("ORDER_CANCEL_WINDOW=%s: want 0 to 720h", c.OrderCancelWindow))
	}
	if c.OutboxPollInterval < 10*time.Millisecond || c.OutboxPollInterval > time.Minute {
		errs = append(errs, fmt.Errorf("OUTBOX_POLL_INTERVAL=%s: want 10ms to 1m", c.OutboxPollInterval))
	}
	if c.HTTPDrainTimeout < 0 {
		errs = append(errs, errors.New("HTTP_DRAIN_TIMEOUT must not be negative"))
	}
	return errors.Join(errs...)
}

// MigrateConfig is every variable 'orders migrate' reads.
type MigrateConfig struct {
	config.Common
	MigrateDatabaseURL string `env:"MIGRATE_DATABASE_URL,required" secret:"url" desc:"Connection to the primary as the schema owner (the leader, through HAProxy's pg_write); not through PgBouncer: goose's session advisory lock needs a session. Waits up to a minute for a primary. The catalog's migrations must have run: checkout takes stock from its products table."`
}
