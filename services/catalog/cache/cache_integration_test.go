//go:build integration

package cache_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/flashcrowd/flashcrowd/services/catalog"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
)

func newCache(t *testing.T, addr string) *cache.Cache {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return cache.New(rdb, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
}

// loader counts database loads and records the minimum LSN each was asked for.
type loader struct {
	calls  int
	minLSN string
	price  int64
}

func (l *loader) product(_ context.Context, id int64, minLSN string) (catalog.Product, error) {
	l.calls++
	l.minLSN = minLSN
	return catalog.Product{ID: id, PriceCents: l.price}, nil
}

func TestCacheAsideWithInvalidation(t *testing.T) {
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		t.Fatal("integration tests need REDIS_ADDR (make integration sets it)")
	}
	c := newCache(t, addr)
	ctx := context.Background()
	id := time.Now().UnixNano() // a key no one else uses
	l := &loader{price: 100}

	if _, hit, err := c.Product(ctx, id, l.product); err != nil || hit {
		t.Fatalf("first read: hit=%v err=%v, want a miss", hit, err)
	}
	p, hit, err := c.Product(ctx, id, l.product)
	if err != nil || !hit || p.PriceCents != 100 || l.calls != 1 {
		t.Fatalf("second read: %+v hit=%v err=%v loads=%d, want a hit and one load", p, hit, err, l.calls)
	}

	l.price = 200
	if err := c.Invalidate(ctx, id, "0/16B3748"); err != nil {
		t.Fatal(err)
	}
	p, hit, err = c.Product(ctx, id, l.product)
	if err != nil || hit || p.PriceCents != 200 {
		t.Fatalf("read after invalidation: %+v hit=%v err=%v, want a fresh miss", p, hit, err)
	}
	if l.minLSN != "0/16B3748" {
		t.Fatalf("load after a write got minLSN %q, want the write's LSN", l.minLSN)
	}
}

func TestRedisDownDegradesToTheDatabase(t *testing.T) {
	c := newCache(t, "127.0.0.1:1") // nothing listens there
	l := &loader{price: 300}
	for range 2 {
		p, hit, err := c.Product(context.Background(), 42, l.product)
		if err != nil || hit || p.PriceCents != 300 {
			t.Fatalf("with Redis down: %+v hit=%v err=%v, want a database read", p, hit, err)
		}
	}
	if l.calls != 2 {
		t.Fatalf("loads = %d, want 2", l.calls)
	}
	if err := c.Invalidate(context.Background(), 42, ""); err == nil {
		t.Fatal("invalidation with Redis down should report its failure")
	}
}
