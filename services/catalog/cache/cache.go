// Package cache is the catalog's two-level read cache.
//
//	L1  a small in-process LRU per instance with a short TTL: no network hop at all.
//	L2  Redis, shared by every instance (cache-aside, TTL with jitter, negative entries for 404s).
//
// A cold key is loaded from the database once, not once per request: requests in one instance
// share a load (singleflight), and across instances a short Redis lease lets one instance load
// while the others wait for its result. Writes invalidate both levels everywhere: Redis keys
// are deleted (listing pages by bumping a generation number, never by scanning keys) and a
// pub/sub message makes every instance drop its L1 copies. Writes also record their commit
// LSN, so a fill never reads a replica that has not replayed them. When Redis is down every
// call degrades to a database read.
//
// Both levels keep an answer as the API sends it: its JSON body and ETag, encoded once when it
// is loaded, so a hit costs no decoding, encoding or hashing.
package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
)

// Redis keys and the invalidation channel. The keys of answers carry their format's version
// (v2: ETag, newline, body), so instances of another version never read what they cannot parse.
// While two versions run side by side (a canary, a rollout), a write must reach both versions'
// copies: a write here deletes the previous version's key too (oldProductKey), and a message
// from any instance makes this one delete its own version's key, which the previous version's
// code does not know.
const (
	productKey    = "catalog:v2:product:%d"
	oldProductKey = "catalog:product:%d"
	productLSN    = "catalog:product:%d:lsn"
	listGen       = "catalog:products:gen"
	listLSN       = "catalog:products:lsn"
	pageKey       = "catalog:v2:page:%s:%s" // generation, the page's own key
	leaseKey      = "%s:lease"
	channel       = "catalog:invalidations"
)

const (
	// lsnTTL outlives any replica lag we tolerate: past it, every replica has the write.
	lsnTTL = time.Minute
	// unknownLSN records a write whose commit LSN could not be read (the primary failing right
	// after it, as a rule). Preloads see that a write happened and leave the product alone;
	// reads get no minimum, as before the write was known: sending them to the primary would
	// fail them exactly while there is none.
	unknownLSN = "0"
	// leaseTTL bounds how long one instance may hold the right to fill a key.
	leaseTTL = 3 * time.Second
	// awaitFor is how long an instance waits for another one's fill before loading itself.
	awaitFor = 500 * time.Millisecond
	// loadTimeout bounds a shared load, which outlives the request that started it.
	loadTimeout = 5 * time.Second
	// breakFor is how long Redis is skipped after it failed: while it is down, each request
	// would otherwise wait out a connection attempt before reading the database.
	breakFor = time.Second
)

// notFound is cached for products that do not exist; an answer starts with its ETag's quote,
// so it cannot collide.
const notFound = "!404"

// entry is a cached answer, or the fact that there is none.
type entry struct {
	web.Tagged
	missing bool
}

// pack is how Redis keeps an entry: the ETag, a newline, the body; or notFound.
func pack(e entry) []byte {
	if e.missing {
		return []byte(notFound)
	}
	return append(append([]byte(e.ETag), '\n'), e.Body...)
}

func unpack(s string) (entry, error) {
	if s == notFound {
		return entry{missing: true}, nil
	}
	etag, body, ok := strings.Cut(s, "\n")
	if !ok || !strings.HasPrefix(etag, `"`) {
		return entry{}, fmt.Errorf("cache entry %.20q is not an ETag and a body", s)
	}
	return entry{Tagged: web.Tagged{Body: []byte(body), ETag: etag}}, nil
}

// Loader loads what the API shows for a key (a product view, a page) from the database, reading
// a server that has replayed minLSN; catalog.ErrNotFound when there is none.
type Loader func(ctx context.Context, minLSN string) (any, error)

// Source says where an answer came from; the API shows it in the X-Cache header.
type Source string

const (
	L1Hit    Source = "l1-hit"
	RedisHit Source = "redis-hit"
	Miss     Source = "miss"
)

// Config sizes the cache.
type Config struct {
	// Disabled sends every read to the database: the "no cache" mode of the labs, which
	// measures what the cache buys. The code path is the same, only the look-ups are skipped.
	Disabled    bool
	TTL         time.Duration // Redis entries of pages (±10%)
	ProductTTL  time.Duration // Redis entries of products (±10%)
	NotFoundTTL time.Duration // Redis entries for products that do not exist
	LocalTTL    time.Duration // L1 entries
	LocalSize   int           // L1 entries per kind (products, listing pages)
	PreloadMax  int           // products KeepPreloaded keeps in Redis (the first, by id); 0: none
}

// Cache is the two-level product cache.
type Cache struct {
	rdb      *redis.Client
	cfg      Config
	log      *slog.Logger
	products *local[int64]
	pages    *local[string] // listing and search pages
	group    singleflight.Group
	// epoch counts invalidations seen here: a load that started before one must not fill L1.
	epoch atomic.Uint64
	// skipUntil (Unix nanoseconds) is when to try Redis again after a failure.
	skipUntil atomic.Int64

	requests      *prometheus.CounterVec
	coalesced     *prometheus.CounterVec
	invalidations *prometheus.CounterVec
	preloads      *prometheus.CounterVec
	preloaded     prometheus.Counter
}

// New returns a cache over rdb. Run Listen to receive other instances' invalidations.
func New(rdb *redis.Client, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Cache {
	f := promauto.With(reg)
	return &Cache{
		rdb:      rdb,
		cfg:      cfg,
		log:      log,
		products: newLocal[int64](cfg.LocalSize, cfg.LocalTTL),
		pages:    newLocal[string](cfg.LocalSize, cfg.LocalTTL),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_cache_requests_total",
			Help: "Cache look-ups by layer (l1, redis) and result (hit, miss, or error when Redis was unreachable).",
		}, []string{"layer", "result"}),
		coalesced: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_cache_coalesced_total",
			Help: "Misses answered without a database load of their own: sharing another request's load in this instance (singleflight) or waiting for another instance's fill (lease).",
		}, []string{"how"}),
		invalidations: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_cache_invalidations_total",
			Help: "Invalidations applied, by source: a write in this instance, or a message from another one.",
		}, []string{"source"}),
		preloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_cache_preloads_total",
			Help: "Preloads of every product into Redis run by this instance, by result (ok, error).",
		}, []string{"result"}),
		preloaded: f.NewCounter(prometheus.CounterOpts{
			Name: "flashcrowd_cache_preloaded_products_total",
			Help: "Product answers this instance's preloads wrote to Redis: new or changed ones (an unchanged answer only has its TTL renewed; one written in the last minute is left out).",
		}),
	}
}

// Product returns product id's answer from L1, Redis or, on a miss, from load.
func (c *Cache) Product(ctx context.Context, id int64, load Loader) (web.Tagged, Source, error) {
	if c.cfg.Disabled {
		return direct(ctx, load)
	}
	e, src, err := get(ctx, c, c.products, id, "product:"+strconv.FormatInt(id, 10), func(ctx context.Context) ([]byte, Source, error) {
		key := fmt.Sprintf(productKey, id)
		vals, err := c.mget(ctx, key, fmt.Sprintf(productLSN, id))
		if err != nil {
			return c.loadWithoutRedis(ctx, err, func(ctx context.Context) (any, error) { return load(ctx, "") })
		}
		if s, ok := vals[0].(string); ok {
			c.requests.WithLabelValues("redis", "hit").Inc()
			return []byte(s), RedisHit, nil
		}
		minLSN := knownLSN(vals[1])
		return c.fill(ctx, key, c.cfg.ProductTTL, func(ctx context.Context) (any, error) { return load(ctx, minLSN) })
	})
	return answer(e, src, err)
}

// Page returns the answer for a page of products (a listing or search results) named by key,
// from L1, Redis or, on a miss, from load. Every write invalidates every page.
func (c *Cache) Page(ctx context.Context, key string, load Loader) (web.Tagged, Source, error) {
	if c.cfg.Disabled {
		return direct(ctx, load)
	}
	e, src, err := get(ctx, c, c.pages, key, "page:"+key, func(ctx context.Context) ([]byte, Source, error) {
		vals, err := c.mget(ctx, listGen, listLSN)
		if err != nil {
			return c.loadWithoutRedis(ctx, err, func(ctx context.Context) (any, error) { return load(ctx, "") })
		}
		gen, _ := vals[0].(string)
		if gen == "" {
			gen = "0"
		}
		minLSN := knownLSN(vals[1])
		rkey := fmt.Sprintf(pageKey, gen, key)
		s, err := c.rdb.Get(ctx, rkey).Result()
		switch {
		case err == nil:
			c.requests.WithLabelValues("redis", "hit").Inc()
			return []byte(s), RedisHit, nil
		case !errors.Is(err, redis.Nil):
			c.tripped(err)
			return c.loadWithoutRedis(ctx, err, func(ctx context.Context) (any, error) { return load(ctx, minLSN) })
		}
		return c.fill(ctx, rkey, c.cfg.TTL, func(ctx context.Context) (any, error) { return load(ctx, minLSN) })
	})
	return answer(e, src, err)
}

// direct answers from the database, as every read does with the cache off.
func direct(ctx context.Context, load Loader) (web.Tagged, Source, error) {
	v, err := load(ctx, "")
	if err != nil {
		return web.Tagged{}, Miss, err
	}
	t, err := web.Tag(v)
	return t, Miss, err
}

func answer(e entry, src Source, err error) (web.Tagged, Source, error) {
	if err == nil && e.missing {
		err = catalog.ErrNotFound
	}
	return e.Tagged, src, err
}

// get answers from L1, or runs remote once for all concurrent callers of the same key in
// this instance and keeps its answer in L1.
func get[K comparable](ctx context.Context, c *Cache, l1 *local[K], key K, flight string,
	remote func(ctx context.Context) ([]byte, Source, error),
) (entry, Source, error) {
	if e, ok := l1.Get(key); ok {
		c.requests.WithLabelValues("l1", "hit").Inc()
		return e, L1Hit, nil
	}
	c.requests.WithLabelValues("l1", "miss").Inc()
	type loaded struct {
		e     entry
		src   Source
		epoch uint64 // invalidations seen when the load started
	}
	v, err, shared := c.group.Do(flight, func() (any, error) {
		epoch := c.epoch.Load()
		// The load is shared, so it must not die with the request that happened to start it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		b, src, err := remote(lctx)
		if err != nil {
			return nil, err
		}
		e, err := unpack(string(b))
		return loaded{e, src, epoch}, err
	})
	if shared {
		c.coalesced.WithLabelValues("singleflight").Inc()
	}
	if err != nil {
		return entry{}, Miss, err
	}
	l := v.(loaded)
	if c.epoch.Load() == l.epoch { // else a write landed during the load: it may be stale
		l1.Add(key, l.e)
	}
	return l.e, l.src, nil
}

// fill runs after a Redis miss on key. One instance takes a short lease and loads from the
// database; the others wait briefly for its result. The filler writes Redis only if it still
// holds the lease: a write in between deletes the lease, so a value read before that write
// is never cached after it.
func (c *Cache) fill(ctx context.Context, key string, ttl time.Duration,
	load func(ctx context.Context) (any, error),
) ([]byte, Source, error) {
	c.requests.WithLabelValues("redis", "miss").Inc()
	lease := fmt.Sprintf(leaseKey, key)
	token := newToken()
	leased, err := c.rdb.SetNX(ctx, lease, token, leaseTTL).Result()
	c.tripped(err)
	if err == nil && !leased {
		if b, ok := c.await(ctx, key); ok {
			c.coalesced.WithLabelValues("lease").Inc()
			return b, RedisHit, nil
		}
	}
	b, err := encode(ctx, load)
	if err != nil {
		if leased {
			c.rdb.Del(context.WithoutCancel(ctx), lease) // let another instance try at once
		}
		return nil, Miss, err
	}
	if leased {
		if string(b) == notFound {
			ttl = c.cfg.NotFoundTTL
		}
		if err := fillScript.Run(ctx, c.rdb, []string{lease, key}, token, b, jitter(ttl).Milliseconds()).Err(); err != nil {
			c.log.Debug("cache fill failed", "key", key, "err", err)
		}
	}
	return b, Miss, nil
}

// fillScript sets KEYS[2] only while the caller's token still holds the lease KEYS[1].
var fillScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`)

// await polls key until another instance has filled it or awaitFor has passed.
func (c *Cache) await(ctx context.Context, key string) ([]byte, bool) {
	deadline := time.Now().Add(awaitFor)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(10 * time.Millisecond):
		}
		if s, err := c.rdb.Get(ctx, key).Result(); err == nil {
			return []byte(s), true
		}
	}
	return nil, false
}

// errRedisSkipped stands for the failure that tripped the breaker while Redis is skipped.
var errRedisSkipped = errors.New("redis skipped after a recent failure")

// mget asks Redis for keys unless it failed within the last breakFor.
func (c *Cache) mget(ctx context.Context, keys ...string) ([]any, error) {
	if c.skipping() {
		return nil, errRedisSkipped
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	c.tripped(err)
	return vals, err
}

// skipping reports whether Redis failed within the last breakFor, so is not asked now.
func (c *Cache) skipping() bool { return time.Now().UnixNano() < c.skipUntil.Load() }

// tripped starts skipping Redis after a failure to reach it.
func (c *Cache) tripped(err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		c.skipUntil.Store(time.Now().Add(breakFor).UnixNano())
	}
}

// loadWithoutRedis reads the database when Redis could not be asked: the request still succeeds.
func (c *Cache) loadWithoutRedis(ctx context.Context, rerr error, load func(ctx context.Context) (any, error)) ([]byte, Source, error) {
	c.requests.WithLabelValues("redis", "error").Inc()
	c.log.Debug("cache unreachable, reading the database", "err", rerr)
	b, err := encode(ctx, load)
	return b, Miss, err
}

// encode runs load and returns its answer as Redis keeps it.
func encode(ctx context.Context, load func(ctx context.Context) (any, error)) ([]byte, error) {
	v, err := load(ctx)
	if errors.Is(err, catalog.ErrNotFound) {
		return pack(entry{missing: true}), nil
	}
	if err != nil {
		return nil, err
	}
	t, err := web.Tag(v)
	return pack(entry{Tagged: t}), err
}

// Invalidate drops product id and every listing page, here and in every instance, after a
// write that committed at lsn. An error means Redis copies may stay stale until their TTL.
func (c *Cache) Invalidate(ctx context.Context, id int64, lsn string) error {
	return c.invalidate(ctx, id, lsn, true)
}

// InvalidateProduct drops product id alone: for a change no listing needs at once, such as an
// order taking some of its stock. Listing pages keep their copies until their TTL, so a burst
// of orders does not empty every listing cache once per order.
func (c *Cache) InvalidateProduct(ctx context.Context, id int64, lsn string) error {
	return c.invalidate(ctx, id, lsn, false)
}

func (c *Cache) invalidate(ctx context.Context, id int64, lsn string, listings bool) error {
	if c.cfg.Disabled {
		return nil
	}
	if lsn == "" {
		lsn = unknownLSN // still recorded: a preload must not bring back what the write replaced
	}
	c.dropLocal(id)
	c.invalidations.WithLabelValues("write").Inc()
	key := fmt.Sprintf(productKey, id)
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		lsnKeys := []string{fmt.Sprintf(productLSN, id)}
		if listings {
			lsnKeys = append(lsnKeys, listLSN)
		}
		// Writes may finish out of order: keep the highest LSN, never an older one.
		// Eval, not EvalSha: a pipeline cannot fall back when Redis does not know the script yet.
		keepMax.Eval(ctx, p, lsnKeys, lsn, lsnTTL.Milliseconds())
		p.Del(ctx, key, fmt.Sprintf(leaseKey, key), fmt.Sprintf(oldProductKey, id))
		if listings {
			p.Incr(ctx, listGen)
		}
		p.Publish(ctx, channel, strconv.FormatInt(id, 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("invalidate product %d: %w", id, err)
	}
	return nil
}

// knownLSN is the minimum LSN a read of an LSN key asks for: none when no write is recorded,
// or only one whose position is unknown.
func knownLSN(v any) string {
	if s, _ := v.(string); s != unknownLSN {
		return s
	}
	return ""
}

// keepMax sets each key to ARGV[1] (an LSN as a number of bytes) unless it holds a higher one,
// and renews its TTL either way. A key that does not exist is set, even to 0 (unknownLSN).
var keepMax = redis.NewScript(`
for _, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  if not cur or tonumber(ARGV[1]) > tonumber(cur) then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    redis.call('PEXPIRE', key, ARGV[2])
  end
end
return 0`)

// Listen applies other instances' invalidations to L1 until ctx ends. Messages sent while
// the subscription was down are lost, so on every resubscription it drops all of L1.
func (c *Cache) Listen(ctx context.Context) {
	if c.cfg.Disabled {
		return
	}
	sub := c.rdb.Subscribe(ctx, channel)
	defer sub.Close()
	msgs := sub.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				c.epoch.Add(1)
				c.products.Purge()
				c.pages.Purge()
			case *redis.Message:
				if id, err := strconv.ParseInt(m.Payload, 10, 64); err == nil {
					c.dropLocal(id)
					c.invalidations.WithLabelValues("pubsub").Inc()
					// The writer may be of the previous version, which deleted only its own key.
					if err := c.rdb.Del(ctx, fmt.Sprintf(productKey, id)).Err(); err != nil {
						c.log.Debug("cache: delete after an invalidation message failed", "product_id", id, "err", err)
					}
				}
			}
		}
	}
}

func (c *Cache) dropLocal(id int64) {
	c.epoch.Add(1)
	c.products.Remove(id)
	c.pages.Purge() // any page may hold the product, and pages are few
}

func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
