package warm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/flashcrowd/flashcrowd/worker/schedule"
)

type bestSellers struct {
	since time.Time
	ids   []int64
	err   error
}

func (b *bestSellers) BestSellers(_ context.Context, since time.Time, limit int) ([]int64, error) {
	b.since = since
	return b.ids[:min(limit, len(b.ids))], b.err
}

// catalog records the paths asked for and the most requests in flight at once.
type catalog struct {
	mu             sync.Mutex
	paths          []string
	inFlight, peak atomic.Int32
	status         map[string]int
}

func (c *catalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	time.Sleep(5 * time.Millisecond)
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.mu.Unlock()
	if s := c.status[r.URL.Path]; s != 0 {
		w.WriteHeader(s)
	}
}

func task(t *testing.T, start time.Time) *asynq.Task {
	t.Helper()
	b, err := json.Marshal(schedule.Payload{V: 1, Start: start, End: start.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(TypeCatalog, b)
}

func warmer(t *testing.T, c *catalog, best BestSellers, top int) *Warmer {
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return New(*u, best, top, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestWarmsFeaturedAndBestSellers(t *testing.T) {
	c := &catalog{status: map[string]int{"/api/v1/products/3": http.StatusNotFound}}
	best := &bestSellers{ids: []int64{5, 3, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610}}
	start := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	if err := warmer(t, c, best, 10).ProcessTask(context.Background(), task(t, start)); err != nil {
		t.Fatal(err)
	}
	if !best.since.Equal(start.Add(-24 * time.Hour)) {
		t.Errorf("best sellers since %s, want a day before the period", best.since)
	}
	slices.Sort(c.paths)
	want := []string{"/api/v1/featured"}
	for _, id := range []string{"13", "144", "21", "233", "3", "34", "5", "55", "8", "89"} {
		want = append(want, "/api/v1/products/"+id)
	}
	slices.Sort(want)
	if !slices.Equal(c.paths, want) {
		t.Errorf("paths %v, want %v", c.paths, want)
	}
	if p := c.peak.Load(); p > Concurrency {
		t.Errorf("%d requests in flight at once, want at most %d", p, Concurrency)
	}
}

func TestWarmFailures(t *testing.T) {
	// Without a database, the featured list only.
	c := &catalog{}
	if err := warmer(t, c, nil, 10).ProcessTask(context.Background(), task(t, time.Now())); err != nil || len(c.paths) != 1 {
		t.Fatalf("err %v, paths %v: want the featured list only", err, c.paths)
	}
	// The database fails: the featured list is still warmed, and the task fails.
	c = &catalog{}
	err := warmer(t, c, &bestSellers{err: errors.New("db down")}, 10).ProcessTask(context.Background(), task(t, time.Now()))
	if err == nil || len(c.paths) != 1 {
		t.Fatalf("err %v, paths %v: want an error after warming the featured list", err, c.paths)
	}
	// The catalog fails some: every path is still tried.
	c = &catalog{status: map[string]int{"/api/v1/products/1": 503}}
	err = warmer(t, c, &bestSellers{ids: []int64{1, 2}}, 10).ProcessTask(context.Background(), task(t, time.Now()))
	if err == nil || len(c.paths) != 3 {
		t.Fatalf("err %v, paths %v: want an error after all three", err, c.paths)
	}
}
