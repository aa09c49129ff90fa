// Package warm refills the catalog's caches after Redis was emptied (a restart, a failover, a
// flush): it asks the catalog, through its load balancer, for what shoppers are about to ask
// for — the featured list and the day's best sellers — so that they find it cached instead of
// all missing at once on the database.
package warm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/errgroup"

	"github.com/flashcrowd/flashcrowd/worker/schedule"
)

// TypeCatalog is the scheduled task that warms the catalog's caches.
const TypeCatalog = "catalog:warm"

// Concurrency is how many requests one warm-up has in flight: enough to finish in seconds,
// few enough that the catalog hardly notices.
const Concurrency = 4

// BestSellers ranks products by units sold since a time.
type BestSellers interface {
	BestSellers(ctx context.Context, since time.Time, limit int) ([]int64, error)
}

// Warmer handles catalog:warm tasks.
type Warmer struct {
	catalog url.URL
	client  *http.Client
	best    BestSellers // nil without a database: the featured list only
	top     int
	log     *slog.Logger
}

// New warms the catalog at base (its public API's origin) with the featured list and, when
// best is not nil, the top best sellers of the last day.
func New(base url.URL, best BestSellers, top int, log *slog.Logger) *Warmer {
	return &Warmer{catalog: base, client: &http.Client{Timeout: 5 * time.Second}, best: best, top: top, log: log}
}

// ProcessTask implements asynq.Handler. A product that is gone (404) counts as warmed: its
// "not found" is cached too. Any other failure fails the task, after every path was tried.
func (w *Warmer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := schedule.ParsePayload(t)
	if err != nil {
		return err
	}
	paths := []string{"/api/v1/featured"}
	var errs []error
	if w.best != nil && w.top > 0 {
		ids, err := w.best.BestSellers(ctx, p.Start.Add(-24*time.Hour), w.top)
		if err != nil {
			errs = append(errs, err) // still warm the featured list
		}
		for _, id := range ids {
			paths = append(paths, "/api/v1/products/"+strconv.FormatInt(id, 10))
		}
	}
	var (
		mu     sync.Mutex
		failed int
		first  error // one is enough to say why
	)
	var g errgroup.Group // not WithContext: one failure does not stop the others
	g.SetLimit(Concurrency)
	for _, path := range paths {
		g.Go(func() error {
			if err := w.get(ctx, path); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if failed++; failed == 1 {
					first = err
				}
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through failed and first
	w.log.InfoContext(ctx, "catalog warmed", "requests", len(paths), "failed", failed)
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d catalog requests failed, first: %w", failed, len(paths), first))
	}
	return errors.Join(errs...)
}

func (w *Warmer) get(ctx context.Context, path string) error {
	u := w.catalog.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "Flashcrowd-Worker/1 (cache warm-up)")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("warm %s: %w", path, err)
	}
	defer resp.Body.Close()
	// The catalog fills its caches before it answers: the body itself is not needed.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("warm %s: status %d", path, resp.StatusCode)
	}
	return nil
}
