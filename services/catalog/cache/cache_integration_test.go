//go:build integration

package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/foundation/web"
	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
)

// newInstance is one catalog instance's cache against the stack's real Redis.
func newInstance(t *testing.T, addr string) *cache.Cache {
	t.Helper()
	// As the catalog's cache user: the tests touch only what the cache may (make integration sets it).
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, Username: os.Getenv("REDIS_CACHE_USER"), Password: os.Getenv("REDIS_CACHE_PASSWORD"),
		DialTimeout: 300 * time.Millisecond, MaxRetries: -1, PoolSize: 50,
	})
	t.Cleanup(func() { rdb.Close() })
	cfg := cache.Config{TTL: time.Minute, ProductTTL: time.Minute, NotFoundTTL: 10 * time.Second, LocalTTL: 5 * time.Second, LocalSize: 100, PreloadMax: 5000}
	return cache.New(rdb, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
}

func redisAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		t.Fatal("integration tests need REDIS_ADDR (make integration sets it)")
	}
	return addr
}

// loader stands in for the database: it counts loads and records the LSN it was asked for.
type loader struct {
	calls   atomic.Int64
	price   atomic.Int64
	missing atomic.Bool
	delay   time.Duration
	mu      sync.Mutex
	minLSN  string
}

func (l *loader) product(id int64) cache.Loader {
	return func(_ context.Context, minLSN string) (any, error) {
		l.calls.Add(1)
		l.mu.Lock()
		l.minLSN = minLSN
		l.mu.Unlock()
		time.Sleep(l.delay)
		if l.missing.Load() {
			return nil, catalog.ErrNotFound
		}
		return catalog.Product{ID: id, PriceCents: l.price.Load()}, nil
	}
}

// read is c.Product decoded, with its ETag checked against the body it came with.
func read(ctx context.Context, c *cache.Cache, id int64, l *loader) (catalog.Product, cache.Source, error) {
	var p catalog.Product
	t, src, err := c.Product(ctx, id, l.product(id))
	if err != nil {
		return p, src, err
	}
	if err := json.Unmarshal(t.Body, &p); err != nil {
		return p, src, err
	}
	if want, _ := web.Tag(p); want.ETag != t.ETag {
		return p, src, fmt.Errorf("ETag %s is not the body's (%s)", t.ETag, want.ETag)
	}
	return p, src, nil
}

func uniqueID() int64 { return time.Now().UnixNano() } // keys no other test or run uses

func TestTwoLevelsAndInvalidationEverywhere(t *testing.T) {
	addr := redisAddr(t)
	a, b := newInstance(t, addr), newInstance(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Listen(ctx)
	time.Sleep(100 * time.Millisecond) // let b subscribe

	id := uniqueID()
	l := &loader{}
	l.price.Store(100)
	steps := []struct {
		c    *cache.Cache
		want cache.Source
	}{{a, cache.Miss}, {a, cache.L1Hit}, {b, cache.RedisHit}, {b, cache.L1Hit}}
	for i, s := range steps {
		p, src, err := read(ctx, s.c, id, l)
		if err != nil || src != s.want || p.PriceCents != 100 {
			t.Fatalf("step %d: %+v from %s (%v), want price 100 from %s", i, p, src, err, s.want)
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Fatalf("%d database loads, want 1", n)
	}

	// A write through instance a must reach b's L1 through pub/sub, well within a second.
	l.price.Store(200)
	if err := a.Invalidate(ctx, id, "23803720"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		p, _, err := read(ctx, b, id, l)
		if err == nil && p.PriceCents == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance b still serves %+v (%v) a second after the write", p, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.minLSN != "23803720" {
		t.Fatalf("the load after the write got minLSN %q, want the write's LSN", l.minLSN)
	}
}

// 500 concurrent requests for one cold key, spread over three instances, must not become
// 500 database queries: singleflight joins them inside an instance, the lease across instances.
func TestStampedeOnAColdKey(t *testing.T) {
	addr := redisAddr(t)
	instances := []*cache.Cache{newInstance(t, addr), newInstance(t, addr), newInstance(t, addr)}
	id := uniqueID()
	l := &loader{delay: 50 * time.Millisecond} // a database that takes a moment to answer
	l.price.Store(300)

	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _, err := read(context.Background(), instances[i%3], id, l)
			if err != nil || p.PriceCents != 300 {
				failures.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("500 concurrent requests over 3 instances: %d database loads", l.calls.Load())
	if failures.Load() > 0 {
		t.Fatalf("%d requests failed", failures.Load())
	}
	if n := l.calls.Load(); n > 3 {
		t.Fatalf("%d database loads for one cold key, want at most 3", n)
	}
}

func TestMissingProductsAreCachedToo(t *testing.T) {
	addr := redisAddr(t)
	a, b := newInstance(t, addr), newInstance(t, addr)
	l := &loader{}
	l.missing.Store(true)
	id := uniqueID()
	for _, c := range []*cache.Cache{a, b} {
		if _, _, err := read(context.Background(), c, id, l); !errors.Is(err, catalog.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Fatalf("%d loads for a missing product, want 1 (then a cached 404)", n)
	}
}

func TestRedisDownDegradesToTheDatabase(t *testing.T) {
	c := newInstance(t, "127.0.0.1:1") // nothing listens there
	l := &loader{}
	l.price.Store(400)
	p, src, err := read(context.Background(), c, 42, l)
	if err != nil || src != cache.Miss || p.PriceCents != 400 {
		t.Fatalf("with Redis down: %+v from %s (%v), want a database read", p, src, err)
	}
	if _, src, _ := read(context.Background(), c, 42, l); src != cache.L1Hit {
		t.Fatalf("second read from %s, want L1 even without Redis", src)
	}
	if err := c.Invalidate(context.Background(), 42, ""); err == nil {
		t.Fatal("invalidation with Redis down should report its failure")
	}
}

// Writes can finish out of order; the LSN a read must wait for never goes backwards.
func TestWriteLSNNeverGoesBackwards(t *testing.T) {
	c := newInstance(t, redisAddr(t))
	ctx := context.Background()
	id := uniqueID()
	for _, lsn := range []string{"5000", "9000", "7000"} {
		if err := c.Invalidate(ctx, id, lsn); err != nil {
			t.Fatal(err)
		}
	}
	l := &loader{}
	if _, _, err := read(ctx, c, id, l); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.minLSN != "9000" {
		t.Fatalf("load asked for LSN %q, want the highest, 9000", l.minLSN)
	}
}

// While two versions run side by side, an instance of the previous version deletes only its own
// key and publishes the id. This version's copy in Redis must go too, or every instance would
// serve the old product from it until CACHE_TTL.
func TestAWriteByAnotherVersionDropsThisVersionsCopy(t *testing.T) {
	addr := redisAddr(t)
	a, listener := newInstance(t, addr), newInstance(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go listener.Listen(ctx)
	time.Sleep(100 * time.Millisecond) // let it subscribe

	id := uniqueID()
	l := &loader{}
	l.price.Store(100)
	if _, _, err := read(ctx, a, id, l); err != nil { // fills Redis
		t.Fatal(err)
	}
	// The other version's write: the database changes, and only the id is published.
	l.price.Store(200)
	rdb := redis.NewClient(&redis.Options{Addr: addr, Username: os.Getenv("REDIS_CACHE_USER"), Password: os.Getenv("REDIS_CACHE_PASSWORD")})
	defer rdb.Close()
	if err := rdb.Publish(ctx, "catalog:invalidations", strconv.FormatInt(id, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		p, src, err := read(ctx, newInstance(t, addr), id, l) // an empty L1: Redis or the database
		if err == nil && p.PriceCents == 200 && src == cache.Miss {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second after the message, a new instance still reads %+v from %s (%v)", p, src, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The preload puts products in Redis before anyone asks, so the first read of each is a Redis
// hit with the body the API would have loaded. A product written within the last minute is left
// out (the batch may predate the write), whether the write's LSN is known or not, and the next
// read loads it afresh. A preloaded answer expires after ProductTTL, as a filled one does.
func TestPreloadFillsRedisButNotOverARecentWrite(t *testing.T) {
	ctx := context.Background()
	addr := redisAddr(t)
	c := newInstance(t, addr)
	first := uniqueID()
	n := cache.PreloadBatch + 2 // two batches
	written := map[int64]bool{first + 1: true, first + int64(n) - 1: true}
	if err := c.Invalidate(ctx, first+1, "5000"); err != nil {
		t.Fatal(err)
	}
	if err := c.Invalidate(ctx, first+int64(n)-1, ""); err != nil { // its LSN was not read
		t.Fatal(err)
	}
	var asked []int64
	batch := func(_ context.Context, after int64, limit int) ([]cache.Item, error) {
		asked = append(asked, after)
		var items []cache.Item
		for id := max(after+1, first); id < first+int64(n) && len(items) < limit; id++ {
			items = append(items, cache.Item{ID: id, View: catalog.Product{ID: id, PriceCents: 700}})
		}
		return items, nil
	}
	got, err := c.Preload(ctx, batch, nil)
	if err != nil || got != n {
		t.Fatalf("preloaded %d (%v), want %d", got, err, n)
	}
	if want := []int64{0, first + cache.PreloadBatch - 1}; fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Fatalf("batches asked after %v, want %v", asked, want)
	}
	other := newInstance(t, addr) // an empty L1: what it reads comes from Redis or the loader
	l := &loader{}
	l.price.Store(900)
	for id := first; id < first+int64(n); id++ {
		p, src, err := read(ctx, other, id, l)
		if err != nil {
			t.Fatal(err)
		}
		want, wantSrc := int64(700), cache.RedisHit
		if written[id] {
			want, wantSrc = 900, cache.Miss
		}
		if p.ID != id || p.PriceCents != want || src != wantSrc {
			t.Fatalf("product %d: got %d at price %d from %s, want price %d from %s", id, p.ID, p.PriceCents, src, want, wantSrc)
		}
	}
	if n := l.calls.Load(); n != int64(len(written)) {
		t.Errorf("%d loads, want %d (the products written after their batch)", n, len(written))
	}
	if l.minLSN != "" { // the last load: the product whose write's LSN is unknown
		t.Errorf("a write of unknown LSN made the read ask for LSN %q, want none (the primary may be what failed)", l.minLSN)
	}

	rdb := redis.NewClient(&redis.Options{Addr: addr, Username: os.Getenv("REDIS_CACHE_USER"), Password: os.Getenv("REDIS_CACHE_PASSWORD")})
	t.Cleanup(func() { rdb.Close() })
	short := cache.New(rdb, cache.Config{TTL: time.Second, ProductTTL: time.Second, NotFoundTTL: time.Second, LocalTTL: time.Millisecond, LocalSize: 10, PreloadMax: 1},
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	id := uniqueID()
	if _, err := short.Preload(ctx, func(context.Context, int64, int) ([]cache.Item, error) {
		return []cache.Item{{ID: id, View: catalog.Product{ID: id}}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // 1 s + 10 %, and a little
	if _, src, err := read(ctx, newInstance(t, addr), id, l); err != nil || src != cache.Miss {
		t.Errorf("a preloaded answer past its ProductTTL came from %s (%v), want a miss", src, err)
	}
}
