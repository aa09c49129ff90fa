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

	"github.com/flashcrowd/flashcrowd/foundation/db"
	"github.com/flashcrowd/flashcrowd/services/catalog/cache"
	"github.com/flashcrowd/flashcrowd/services/catalog/postgres"
)

// BenchmarkProductRead reads seeded products the three ways a catalog instance can answer: from
// L1, from Redis (L1 holds one entry and the reads alternate between two products, so each
// finds the other one there), and from a replica (caching off). It
// runs against the stack's real Redis, PgBouncer and Postgres: `make bench` prints the figures,
// and docs/catalog-performance.md records one run. Each read checks it came from the layer
// it measures.
func BenchmarkProductRead(b *testing.B) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := db.NewMetrics(reg)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	primary, err := db.Open(ctx, os.Getenv("DATABASE_URL"), db.Primary, 4, m)
	if err != nil {
		b.Fatal(err)
	}
	defer primary.Close()
	replica, err := db.Open(ctx, os.Getenv("DATABASE_READ_URL"), db.Replica, 4, m)
	if err != nil {
		b.Fatal(err)
	}
	defer replica.Close()
	store := postgres.NewStore(primary, replica, log, reg)
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"),
		Username: os.Getenv("REDIS_CACHE_USER"), Password: os.Getenv("REDIS_CACHE_PASSWORD")})
	defer rdb.Close()

	ids := []int64{4242, 4243}
	for _, bc := range []struct {
		name string
		cfg  cache.Config
		want cache.Source
	}{
		{"l1-hit", cache.Config{TTL: time.Minute, NotFoundTTL: time.Second, LocalTTL: time.Minute, LocalSize: 100}, cache.L1Hit},
		{"redis-hit", cache.Config{TTL: time.Minute, NotFoundTTL: time.Second, LocalTTL: time.Minute, LocalSize: 1}, cache.RedisHit},
		{"database", cache.Config{Disabled: true}, cache.Miss},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := cache.New(rdb, bc.cfg, log, prometheus.NewRegistry())
			ids := ids
			if bc.want == cache.L1Hit {
				ids = ids[:1]
			}
			load := func(id int64) cache.Loader {
				return func(ctx context.Context, minLSN string) (any, error) { return store.Product(ctx, id, minLSN) }
			}
			for _, id := range ids { // warm the layers
				if _, _, err := c.Product(ctx, id, load(id)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := ids[i%len(ids)]
				i++
				t, src, err := c.Product(ctx, id, load(id))
				if err != nil || len(t.Body) == 0 || src != bc.want {
					b.Fatalf("read %d from %s (%v), want it from %s", id, src, err, bc.want)
				}
			}
		})
	}
}
