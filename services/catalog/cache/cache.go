// Package cache is the catalog's Redis cache-aside layer. Reads look here first and fill it
// on a miss; writes invalidate it. It also remembers the commit LSN of recent writes so a
// cache fill never reads from a replica that has not seen them. When Redis is down, every
// call degrades to a miss and the caller reads the database.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/services/catalog"
)

// Keys. Listing pages carry a generation number that every write bumps, so invalidating all
// pages is one INCR instead of a scan over keys.
const (
	productKey = "catalog:product:%d"
	productLSN = "catalog:product:%d:lsn"
	listGen    = "catalog:products:gen"
	listLSN    = "catalog:products:lsn"
	listKey    = "catalog:products:%s:%d:%d" // generation, after, limit
)

// lsnTTL outlives any replica lag we tolerate: past it, every replica has the write.
const lsnTTL = time.Minute

// Cache is a Redis-backed product cache.
type Cache struct {
	rdb           *redis.Client
	ttl           time.Duration
	log           *slog.Logger
	requests      *prometheus.CounterVec
	invalidations prometheus.Counter
}

// New returns a cache whose entries live for ttl, ±10% so keys filled together do not expire together.
func New(rdb *redis.Client, ttl time.Duration, log *slog.Logger, reg prometheus.Registerer) *Cache {
	f := promauto.With(reg)
	return &Cache{
		rdb: rdb,
		ttl: ttl,
		log: log,
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_cache_requests_total",
			Help: "Cache look-ups by layer and result (hit, miss, or error when the cache was unreachable).",
		}, []string{"layer", "result"}),
		invalidations: f.NewCounter(prometheus.CounterOpts{
			Name: "flashcrowd_cache_invalidations_total",
			Help: "Writes that invalidated cached products and listings.",
		}),
	}
}

// Product returns product id from the cache, or loads it with load and caches it. load gets
// the LSN of the last write to this product, if recent. hit reports whether Redis answered.
func (c *Cache) Product(ctx context.Context, id int64,
	load func(ctx context.Context, id int64, minLSN string) (catalog.Product, error),
) (p catalog.Product, hit bool, err error) {
	key := fmt.Sprintf(productKey, id)
	vals, rerr := c.rdb.MGet(ctx, key, fmt.Sprintf(productLSN, id)).Result()
	var minLSN string
	if rerr == nil {
		if s, ok := vals[0].(string); ok && json.Unmarshal([]byte(s), &p) == nil {
			c.requests.WithLabelValues("redis", "hit").Inc()
			return p, true, nil
		}
		minLSN, _ = vals[1].(string)
	}
	c.miss(rerr)
	p, err = load(ctx, id, minLSN)
	if err != nil {
		return p, false, err
	}
	if rerr == nil {
		c.set(ctx, key, p)
	}
	return p, false, nil
}

// Products returns a listing page from the cache, or loads it and caches it.
func (c *Cache) Products(ctx context.Context, after int64, limit int,
	load func(ctx context.Context, after int64, limit int, minLSN string) (catalog.Page, error),
) (page catalog.Page, hit bool, err error) {
	vals, rerr := c.rdb.MGet(ctx, listGen, listLSN).Result()
	var key, minLSN string
	if rerr == nil {
		gen, _ := vals[0].(string)
		if gen == "" {
			gen = "0"
		}
		minLSN, _ = vals[1].(string)
		key = fmt.Sprintf(listKey, gen, after, limit)
		s, gerr := c.rdb.Get(ctx, key).Result()
		if gerr == nil && json.Unmarshal([]byte(s), &page) == nil {
			c.requests.WithLabelValues("redis", "hit").Inc()
			return page, true, nil
		}
		if !errors.Is(gerr, redis.Nil) {
			rerr = gerr
		}
	}
	c.miss(rerr)
	page, err = load(ctx, after, limit, minLSN)
	if err != nil {
		return page, false, err
	}
	if rerr == nil {
		c.set(ctx, key, page)
	}
	return page, false, nil
}

// Invalidate drops product id and every listing page after a write that committed at lsn.
// An error means cached copies may stay stale until their TTL runs out.
func (c *Cache) Invalidate(ctx context.Context, id int64, lsn string) error {
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if lsn != "" {
			p.Set(ctx, fmt.Sprintf(productLSN, id), lsn, lsnTTL)
			p.Set(ctx, listLSN, lsn, lsnTTL)
		}
		p.Del(ctx, fmt.Sprintf(productKey, id))
		p.Incr(ctx, listGen)
		return nil
	})
	if err != nil {
		return fmt.Errorf("invalidate product %d: %w", id, err)
	}
	c.invalidations.Inc()
	return nil
}

func (c *Cache) miss(err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		c.requests.WithLabelValues("redis", "error").Inc()
		c.log.Debug("cache unreachable, reading the database", "err", err)
		return
	}
	c.requests.WithLabelValues("redis", "miss").Inc()
}

func (c *Cache) set(ctx context.Context, key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	jitter := time.Duration(rand.Int64N(int64(c.ttl)/5)) - c.ttl/10
	if err := c.rdb.Set(ctx, key, b, c.ttl+jitter).Err(); err != nil {
		c.log.Debug("cache fill failed", "key", key, "err", err)
	}
}
