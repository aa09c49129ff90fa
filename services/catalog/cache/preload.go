package cache

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

const (
	// preloadedKey says a preload finished within the last half ProductTTL: until it expires,
	// no instance preloads. (Every answer a preload wrote outlives it.)
	preloadedKey = "catalog:v2:preloaded"
	// preloadingKey is the lock of the one instance preloading now; preloadLockTTL bounds it,
	// so an instance that dies mid-way holds it no longer, and it is renewed after each batch.
	preloadingKey  = "catalog:v2:preloading"
	preloadLockTTL = time.Minute
	// preloadEvery is how often each instance checks whether a preload is due.
	preloadEvery = time.Minute
)

// PreloadBatch is how many products one preload query reads.
const PreloadBatch = 1000

// Item is one product's answer for the preload: its id and the value the API shows.
type Item struct {
	ID   int64
	View any
}

// Batch returns up to limit products with ids above after, in id order; fewer means the end.
// Every write committed before the call must be in what it returns (it reads a replica that
// has replayed the primary's position at the call, or the primary).
type Batch func(ctx context.Context, after int64, limit int) ([]Item, error)

// KeepPreloaded keeps the answers of the first PreloadMax products (by id) in Redis ahead of
// demand, until ctx ends. Each instance checks once a minute; when no preload finished within
// half a ProductTTL (Redis started empty, lost its data, or the last one is that old), the
// instance that takes the lock reads the catalog in id order, PreloadBatch products per query,
// and writes each answer to Redis.
//
// Why: a shop's popularity has a long tail. The edge and L1 hold the head; without a preload
// each product of the tail costs a database query the first time anyone asks for it in a TTL,
// and most of the tail is asked for once or twice. Kept in Redis (about 650 bytes a product),
// the tail costs a Redis round trip instead.
//
// A preload never puts back what a write replaced: each batch has every write committed before
// it was read (see Batch), and a product written since has its write LSN recorded in Redis,
// which makes the script leave it to the next read.
func (c *Cache) KeepPreloaded(ctx context.Context, next Batch) {
	if c.cfg.Disabled || c.cfg.PreloadMax <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(mrand.Int64N(int64(5 * time.Second)))) // instances start together
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(preloadEvery)
		n, took, err := c.tryPreload(ctx, next)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			c.preloads.WithLabelValues("error").Inc()
			c.log.Warn("cache preload failed; an instance tries again within a minute", "err", err)
		case took > 0:
			c.preloads.WithLabelValues("ok").Inc()
			c.log.Info("cache preloaded", "products", n, "took", took.Round(time.Millisecond).String())
		}
	}
}

// tryPreload preloads if one is due and no other instance is at it; took is 0 when it did not.
func (c *Cache) tryPreload(ctx context.Context, next Batch) (n int, took time.Duration, err error) {
	if c.skipping() {
		return 0, 0, nil // Redis failed a moment ago: reads already say so
	}
	if err := c.rdb.Get(ctx, preloadedKey).Err(); !errors.Is(err, redis.Nil) {
		c.tripped(err)
		return 0, 0, nil // done lately, or Redis unreachable (its own metric and log say so)
	}
	token := newToken()
	ok, err := c.rdb.SetNX(ctx, preloadingKey, token, preloadLockTTL).Result()
	if c.tripped(err); err != nil || !ok {
		return 0, 0, nil
	}
	defer unlockScript.Run(context.WithoutCancel(ctx), c.rdb, []string{preloadingKey}, token)
	start := time.Now()
	n, err = c.Preload(ctx, next, func(ctx context.Context) error {
		return c.rdb.PExpire(ctx, preloadingKey, preloadLockTTL).Err()
	})
	if err != nil {
		return n, 0, err
	}
	return n, time.Since(start), c.rdb.Set(ctx, preloadedKey, token, c.cfg.ProductTTL/2).Err()
}

// Preload writes the answers of up to PreloadMax products to Redis, one script call per batch,
// calling renew (when not nil) after each; it returns how many it read.
func (c *Cache) Preload(ctx context.Context, next Batch, renew func(context.Context) error) (int, error) {
	var after int64
	n := 0
	for n < c.cfg.PreloadMax {
		read := time.Now()
		items, err := next(ctx, after, min(PreloadBatch, c.cfg.PreloadMax-n))
		if err != nil {
			return n, fmt.Errorf("preload products after %d: %w", after, err)
		}
		// One script call per batch: keys, then the LSN keys that veto them; answers, then TTLs.
		keys := make([]string, 2*len(items))
		args := make([]any, 2*len(items))
		for i, it := range items {
			t, err := web.Tag(it.View)
			if err != nil {
				return n, fmt.Errorf("preload product %d: %w", it.ID, err)
			}
			keys[i], keys[len(items)+i] = fmt.Sprintf(productKey, it.ID), fmt.Sprintf(productLSN, it.ID)
			args[i], args[len(items)+i] = pack(entry{Tagged: t}), jitter(c.cfg.ProductTTL).Milliseconds()
		}
		// A write's LSN key, which vetoes a stale answer, lives lsnTTL: a batch read longer ago
		// than that could overwrite a write it never saw. (It takes milliseconds.)
		if time.Since(read) > lsnTTL/2 {
			return n, fmt.Errorf("preload products after %d: the batch took %s to read and encode", after, time.Since(read))
		}
		if len(items) > 0 {
			written, err := preloadScript.Run(ctx, c.rdb, keys, args...).Int()
			if err != nil {
				return n, fmt.Errorf("preload products after %d: %w", after, err)
			}
			c.preloaded.Add(float64(written))
		}
		n += len(items)
		if len(items) < PreloadBatch {
			return n, nil
		}
		if renew != nil {
			if err := renew(ctx); err != nil {
				return n, fmt.Errorf("preload: renew the lock: %w", err)
			}
		}
		after = items[len(items)-1].ID
	}
	return n, nil
}

// preloadScript stores each of the first half of KEYS (the answers are the first half of ARGV,
// their TTLs in milliseconds the second) unless a write recorded its LSN in the matching key of
// the second half recently: that product is left to the next read, which loads it from a server
// that has the write. An answer Redis already holds only has its TTL renewed, so the
// append-only file grows by an expiry, not a body. Returns how many answers it wrote.
var preloadScript = redis.NewScript(`
local n = #KEYS / 2
local written = 0
for i = 1, n do
  if not redis.call('GET', KEYS[n + i]) then
    if redis.call('GET', KEYS[i]) == ARGV[i] then
      redis.call('PEXPIRE', KEYS[i], ARGV[n + i])
    else
      redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[n + i])
      written = written + 1
    end
  end
end
return written`)

// unlockScript deletes the lock KEYS[1] only while it still holds the caller's token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// jitter spreads ttl by ±10%: keys written together expire apart.
func jitter(ttl time.Duration) time.Duration {
	return ttl + time.Duration(mrand.Int64N(int64(ttl)/5+1)) - ttl/10
}
