package main

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/flashcrowd/flashcrowd/foundation/config"
	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// Media is where the catalog's object store is and how it signs in: as its own MinIO user,
// whose policy covers uploads/ and products/ only (infra/minio/setup).
type Media struct {
	S3Endpoint  string `env:"S3_ENDPOINT" envDefault:"http://minio:9000" desc:"In-network object store, used to check uploads."`
	S3PublicURL string `env:"S3_PUBLIC_URL" envDefault:"http://127.0.0.1:8080" desc:"The address browsers use: presigned URLs are signed for this exact host:port, and image_url and thumbnail_url are built on it."`
	S3AccessKey string `env:"S3_ACCESS_KEY,required" desc:"Object store access key."`
	S3SecretKey string `env:"S3_SECRET_KEY,required" secret:"true" desc:"Object store secret key."`
	S3Bucket    string `env:"S3_BUCKET" envDefault:"media" desc:"Bucket of images and thumbnails. HAProxy routes only /media/ to MinIO, so another name needs haproxy.cfg changed too."`
}

// Config is every variable 'catalog' (serve) reads; docs/configuration.md shows it (config.Doc).
type Config struct {
	config.Common
	web.Debug
	HTTPAddr        string `env:"HTTP_ADDR" envDefault:":8080" desc:"Listen address. 'catalog healthcheck' probes 127.0.0.1:<port>/healthz."`
	Version         string `env:"SERVICE_VERSION" envDefault:"stable" desc:"This instance's version label, in X-Version on every answer: a canary (make canary) says canary, so a shopper's answer shows which version served it (letters, digits, '.', '-', '_'; up to 32)."`
	AdminToken      string `env:"ADMIN_TOKEN,required" secret:"true" desc:"Bearer token the catalog requires on /api/v1/admin/*, whoever calls: it trusts no network."`
	InternalToken   string `env:"CATALOG_INTERNAL_TOKEN,required" secret:"true" desc:"Bearer token of /internal/v1/*: the orders service's stock changes, which drop products from the caches."`
	DatabaseURL     string `env:"DATABASE_URL,required" secret:"url" desc:"Primary pool: writes, commit LSNs, reads that must see a write."`
	DatabaseReadURL string `env:"DATABASE_READ_URL" secret:"url" desc:"Replica pool. Unset or equal to DATABASE_URL: no replicas, one pool, decided at start."`
	DBMaxConns      int    `env:"DB_MAX_CONNS" envDefault:"10" desc:"Maximum connections of each pgx pool (primary, replica) in this instance (1 to 1000)."`

	RedisAddr          string `env:"REDIS_ADDR" envDefault:"redis:6379" desc:"The main Redis: the cache (L2), its invalidations and commit LSNs."`
	RedisCacheUser     string `env:"REDIS_CACHE_USER" envDefault:"cache" desc:"The cache's ACL user there (keys and channels catalog:*)."`
	RedisCachePassword string `env:"REDIS_CACHE_PASSWORD,required" secret:"true" desc:"Its password."`
	RedisQueueAddr     string `env:"REDIS_QUEUE_ADDR" envDefault:"redis-queue:6379" desc:"The queue Redis, where the thumbnail tasks go (asynq)."`
	RedisQueueUser     string `env:"REDIS_QUEUE_USER" envDefault:"catalog" desc:"Its ACL user, which may only enqueue tasks (keys asynq:*)."`
	RedisQueuePassword string `env:"REDIS_QUEUE_PASSWORD,required" secret:"true" desc:"Its password."`

	CacheEnabled     bool          `env:"CACHE_ENABLED" envDefault:"true" desc:"false sends every read to the database (no L1, no Redis look-ups), to measure what the cache buys."`
	CacheTTL         time.Duration `env:"CACHE_TTL" envDefault:"10m" desc:"Lifetime in Redis of cached pages (listings, featured, search), ±10%. Writes invalidate at once; the TTL bounds a lost invalidation. At least 1s."`
	CacheProductTTL  time.Duration `env:"CACHE_PRODUCT_TTL" envDefault:"1h" desc:"Lifetime in Redis of cached products, ±10%. Writes invalidate at once; the TTL bounds a lost invalidation (a write while Redis was unreachable). A preload renews every preloaded answer each half of it. At least 1s."`
	CacheNotFoundTTL time.Duration `env:"CACHE_NOT_FOUND_TTL" envDefault:"10s" desc:"Lifetime in Redis of the marker for a product that does not exist, ±10%. At least 1s."`
	CacheL1TTL       time.Duration `env:"CACHE_L1_TTL" envDefault:"5s" desc:"Lifetime of an in-process L1 entry: the longest a copy stays stale in an instance that missed an invalidation."`
	CachePreloadMax  int           `env:"CACHE_PRELOAD_MAX" envDefault:"100000" desc:"How many products (the first, by id) are kept in Redis ahead of demand: one instance at a time reads them in id order (1,000 a query) at the first start, after Redis lost its data, and every CACHE_PRODUCT_TTL/2. About 650 bytes each: 100,000 take a quarter of the main Redis's 256 MB, shared with sessions and carts. 0: products reach Redis only when someone asks for them (0 to 10000000)."`
	CacheL1Size      int           `env:"CACHE_L1_SIZE" envDefault:"10000" desc:"Entries in each of the two L1 LRUs (products; pages) (1 to 10000000)."`

	EdgePurgeURL     string        `env:"EDGE_PURGE_URL" desc:"HAProxy's private purge port; comma-separated, one per edge node (the HA pair has two caches). After every write the instance sends PURGE /api/v1/products/{id} and /products/{id} (the storefront's page) to each, and again 1 s and 5 s later. Empty: no purges (no edge cache)."`
	HTTPUnreadyDelay time.Duration `env:"HTTP_UNREADY_DELAY" envDefault:"5s" desc:"On SIGTERM, how long the instance goes on serving while /readyz answers 503, so that HAProxy (two failed checks, within 3 s) stops sending it requests before it stops accepting them (0 to 20s)."`
	HTTPDrainTimeout time.Duration `env:"HTTP_DRAIN_TIMEOUT" envDefault:"10s" desc:"On SIGTERM, how long in-flight requests may take to finish."`

	Media
}

// versionLabel keeps SERVICE_VERSION fit for a header value and a metric label.
var versionLabel = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	var errs []error
	if !versionLabel.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("SERVICE_VERSION=%q: want letters, digits, '.', '-' or '_', up to 32", c.Version))
	}
	if c.HTTPUnreadyDelay < 0 || c.HTTPUnreadyDelay > 20*time.Second {
		errs = append(errs, fmt.Errorf("HTTP_UNREADY_DELAY=%s: want 0 to 20s", c.HTTPUnreadyDelay))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS=%d: want 1 to 1000", c.DBMaxConns))
	}
	if c.CacheTTL < time.Second || c.CacheProductTTL < time.Second || c.CacheNotFoundTTL < time.Second || c.CacheL1TTL <= 0 {
		errs = append(errs, errors.New("CACHE_TTL, CACHE_PRODUCT_TTL and CACHE_NOT_FOUND_TTL must be at least 1s, CACHE_L1_TTL above 0"))
	}
	if c.CachePreloadMax < 0 || c.CachePreloadMax > 10_000_000 {
		errs = append(errs, fmt.Errorf("CACHE_PRELOAD_MAX=%d: want 0 to 10000000", c.CachePreloadMax))
	}
	if c.CacheL1Size < 1 || c.CacheL1Size > 10_000_000 {
		errs = append(errs, fmt.Errorf("CACHE_L1_SIZE=%d: want 1 to 10000000", c.CacheL1Size))
	}
	return errors.Join(errs...)
}

// MigrateConfig is every variable 'catalog migrate' reads.
type MigrateConfig struct {
	config.Common
	MigrateDatabaseURL string `env:"MIGRATE_DATABASE_URL,required" secret:"url" desc:"Connection to the primary as the schema owner (the leader, through HAProxy's pg_write); not through PgBouncer: goose's session advisory lock needs a session. Waits up to a minute for a primary."`
	SeedProducts       int    `env:"SEED_PRODUCTS" envDefault:"100000" desc:"Deterministic products to seed (0 to 1000000): product i gets id i and SKU FC-<i in 7 digits>. A rerun adds only those past the count reached and never brings back a deleted one."`
}

// Validate checks what the tags cannot.
func (c *MigrateConfig) Validate() error {
	if c.SeedProducts < 0 || c.SeedProducts > 1_000_000 {
		return fmt.Errorf("SEED_PRODUCTS=%d: want 0 to 1000000", c.SeedProducts)
	}
	return nil
}
