package purge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// edge stands for HAProxy's purge port: it counts the PURGE requests for each path.
type edge struct {
	mu     sync.Mutex
	purges map[string]int
	status int
}

func newEdge(t *testing.T, status int) (*edge, string) {
	e := &edge{purges: map[string]int{}, status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "PURGE" {
			t.Errorf("edge got %s %s, want PURGE", r.Method, r.URL.Path)
		}
		e.mu.Lock()
		e.purges[r.URL.Path]++
		e.mu.Unlock()
		w.WriteHeader(e.status)
	}))
	t.Cleanup(srv.Close)
	return e, srv.URL
}

func (e *edge) count(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.purges[path]
}

func newClient(url string, after ...time.Duration) *Client {
	c := New(url, prometheus.NewRegistry())
	c.after = after
	return c
}

func TestProductPurgesNowAndCloseWaitsForRepurges(t *testing.T) {
	e, url := newEdge(t, http.StatusOK)
	c := newClient(url, 20*time.Millisecond, 100*time.Millisecond)
	if err := c.Product(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/products/7", "/products/7"} { // its JSON and its page
		if n := e.count(path); n != 1 {
			t.Fatalf("%s: %d purges right after the write, want 1", path, n)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/products/7", "/products/7"} {
		if n := e.count(path); n != 3 {
			t.Fatalf("%s: %d purges once Close returned, want 3 (now and both repurges)", path, n)
		}
	}
	if ok := testutil.ToFloat64(c.outcomes.WithLabelValues("ok")); ok != 6 {
		t.Errorf("flashcrowd_edge_purges_total{result=ok} = %v, want 6", ok)
	}

	// A write during the drain still purges at once, but schedules nothing more.
	if err := c.Product(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if n := e.count("/api/v1/products/8"); n != 1 {
		t.Errorf("%d purges of a product written after Close, want 1", n)
	}
}

func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	e, url := newEdge(t, http.StatusOK)
	c := newClient(url, time.Hour)
	if err := c.Product(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v past its context", d)
	}
	if n := e.count("/api/v1/products/7"); n != 1 {
		t.Errorf("%d purges, want only the immediate one", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) != 0 {
		t.Errorf("%d repurge timers left running", len(c.timers))
	}
}

func TestFailedPurgeIsReportedAndCounted(t *testing.T) {
	_, url := newEdge(t, http.StatusServiceUnavailable)
	c := newClient(url)
	if err := c.Product(t.Context(), 7); err == nil {
		t.Fatal("a 503 from the edge was taken for a purge")
	}
	if n := testutil.ToFloat64(c.outcomes.WithLabelValues("error")); n != 2 {
		t.Errorf("flashcrowd_edge_purges_total{result=error} = %v, want 2 (the JSON and the page)", n)
	}
}

func TestWithoutAnEdgeNothingIsSent(t *testing.T) {
	c := newClient("", time.Millisecond)
	if err := c.Product(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c.outcomes); n != 0 {
		t.Errorf("%d purge outcomes recorded without an edge", n)
	}
}

// An edge of two nodes (the HA pair): each gets every purge, and a node that is gone fails
// only its own purge.
func TestEveryEdgeNodeGetsThePurge(t *testing.T) {
	a, urlA := newEdge(t, http.StatusOK)
	b, urlB := newEdge(t, http.StatusOK)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	c := newClient(" " + urlA + "," + urlB + ",," + gone.URL)
	err := c.Product(t.Context(), 7)
	for _, e := range []*edge{a, b} {
		if n := e.count("/api/v1/products/7"); n != 1 {
			t.Errorf("a node got %d purges of the product, want 1", n)
		}
	}
	if err == nil {
		t.Error("Product = nil with a node gone, want its error")
	}
	if ok, failed := testutil.ToFloat64(c.outcomes.WithLabelValues("ok")), testutil.ToFloat64(c.outcomes.WithLabelValues("error")); ok != 4 || failed != 2 {
		t.Errorf("purges ok %v, error %v: want 4 and 2 (two paths, three nodes, one gone)", ok, failed)
	}
}
