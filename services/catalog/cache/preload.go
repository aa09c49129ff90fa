package cache

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/web"
)

// preloadKey marks a catalog-wide preload done (or running) for as long as it holds: half the
// answers' TTL, so every answer is written again before it can expire. It is also the lock:
// the instance that sets it preloads, the others do not.
const preloadKey = "catalog:v2:preloaded"

// PreloadBatch is how many products one preload query reads.
const PreloadBatch = 1000

// Item is one product's answer for the preload: its id and the value the API shows.
type Item struct {
	ID   int64
	View any
}

// Batch returns up to limit products with ids above after, in id order; fewer means the end.
type Batch func(ctx context.Context, after int64, limit int) ([]Item, error)

// KeepPreloaded keeps every product's answer in Redis ahead of demand, until ctx ends. Once
// every minute each instance checks the marker; when it is gone (Redis started empty, was
// flushed or restarted, or half a TTL has passed), the instance that sets it again reads the
// catalog in id order, PreloadBatch products per query, and writes each answer to Redis.
//
// Why: a shop's popularity has a long tail. The edge and L1 hold the head; without a preload
// each product of the tail costs a database query the first time anyone asks for it in a TTL,
// and most of the tail is asked for once or twice. Kept in Redis (about 600 bytes a product),
// the tail costs a Redis round trip instead. A catalog too large for Redis would preload its
// best sellers instead.
//
// A preload never hides a write: a product written within the last minute (its commit LSN is
// still recorded) is left to the next read, which loads it from a server that has the write.
func (c *Cache) KeepPreloaded(ctx context.Context, next Batch) {
	if c.cfg.Disabled {
		return
	}
	host, _ := os.Hostname()
	t := time.NewTimer(time.Duration(mrand.Int64N(int64(5 * time.Second)))) // instances start together
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(time.Minute)
		took, err := c.tryPreload(ctx, host, next)
		switch {
		case err != nil:
			c.preloads.WithLabelValues("failed").Inc()
			c.log.Warn("cache preload failed; another instance retries within a minute", "err", err)
		case took > 0:
			c.preloads.WithLabelValues("done").Inc()
			c.log.Info("cache preloaded", "took", took.Round(time.Millisecond).String())
		}
	}
}

// tryPreload preloads when no instance has within half a TTL; 0 and nil when another had.
func (c *Cache) tryPreload(ctx context.Context, host string, next Batch) (time.Duration, error) {
	ok, err := c.rdb.SetNX(ctx, preloadKey, host, c.cfg.TTL/2).Result()
	if err != nil || !ok {
		return 0, err
	}
	start := time.Now()
	if err := c.Preload(ctx, next); err != nil {
		c.rdb.Del(context.WithoutCancel(ctx), preloadKey) // let any instance try again
		return 0, err
	}
	return time.Since(start), nil
}

// Preload writes every product next returns to Redis, one script call per batch.
func (c *Cache) Preload(ctx context.Context, next Batch) error {
	var after int64
	for {
		read := time.Now()
		items, err := next(ctx, after, PreloadBatch)
		if err != nil {
			return fmt.Errorf("preload products after %d: %w", after, err)
		}
		// One script call per batch: keys, then the LSN keys that veto them; answers, then TTLs.
		keys := make([]string, 2*len(items))
		args := make([]any, 2*len(items))
		for i, it := range items {
			t, err := web.Tag(it.View)
			if err != nil {
				return fmt.Errorf("preload product %d: %w", it.ID, err)
			}
			keys[i], keys[len(items)+i] = fmt.Sprintf(productKey, it.ID), fmt.Sprintf(productLSN, it.ID)
			args[i], args[len(items)+i] = pack(entry{Tagged: t}), jitter(c.cfg.TTL).Milliseconds()
		}
		// A write's LSN key, which vetoes a stale answer, lives lsnTTL: a batch read longer ago
		// than that could overwrite a write it never saw. (It takes milliseconds.)
		if time.Since(read) > lsnTTL/2 {
			return fmt.Errorf("preload products after %d: the batch took %s to read and encode", after, time.Since(read))
		}
		if len(items) > 0 {
			if err := preloadScript.Run(ctx, c.rdb, keys, args...).Err(); err != nil {
				return fmt.Errorf("preload products after %d: %w", after, err)
			}
		}
		c.preloaded.Add(float64(len(items)))
		if len(items) < PreloadBatch {
			return nil
		}
		after = items[len(items)-1].ID
	}
}

// preloadScript sets each of the first half of KEYS to its answer (the first half of ARGV; the
// TTLs in milliseconds are the second half) unless a write recorded its LSN in the matching key
// of the second half recently: the batch may have been read before that write, and the next
// read loads the product afresh. One call a batch: a thousand calls would cost Redis more.
var preloadScript = redis.NewScript(`
local n = #KEYS / 2
for i = 1, n do
  if not redis.call('GET', KEYS[n + i]) then
    redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[n + i])
  end
end
return 0`)

// jitter spreads ttl by ±10%: keys written together expire apart.
func jitter(ttl time.Duration) time.Duration {
	return ttl + time.Duration(mrand.Int64N(int64(ttl)/5+1)) - ttl/10
}
