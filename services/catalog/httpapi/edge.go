package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Edge purges products from the edge cache (HAProxy's, in front of the gateways). HAProxy has
// no purge command, but it drops its copy of a URL when an unsafe method on that URL succeeds:
// so a purge is a PURGE request to the edge's private purge port, which answers it itself.
type Edge struct {
	url      string // the purge port, e.g. http://haproxy:8082; empty when there is no edge cache
	client   *http.Client
	outcomes *prometheus.CounterVec
}

// repurgeAfter are the moments a product is purged again. A shopper's request answered by an
// instance just before the write's invalidation reached it can bring a stale answer to the edge
// after the first purge: almost always within a second, and under heavy load a few more.
var repurgeAfter = []time.Duration{time.Second, 5 * time.Second}

// NewEdge purges through purgeURL; with an empty URL, Purge does nothing.
func NewEdge(purgeURL string, reg prometheus.Registerer) *Edge {
	return &Edge{
		url:    purgeURL,
		client: &http.Client{Timeout: 2 * time.Second},
		outcomes: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "flashcrowd_edge_purges_total",
			Help: "Edge cache purges after a write, by result (ok or error).",
		}, []string{"result"}),
	}
}

// Purge drops the edge's copy of product id now, and again at each of repurgeAfter.
func (e *Edge) Purge(ctx context.Context, id int64) error {
	if e.url == "" {
		return nil
	}
	path := "/api/v1/products/" + strconv.FormatInt(id, 10)
	for _, after := range repurgeAfter {
		time.AfterFunc(after, func() {
			ctx, cancel := context.WithTimeout(context.Background(), e.client.Timeout)
			defer cancel()
			_ = e.purge(ctx, path)
		})
	}
	return e.purge(ctx, path)
}

func (e *Edge) purge(ctx context.Context, path string) error {
	err := e.send(ctx, path)
	result := "ok"
	if err != nil {
		result = "error"
	}
	e.outcomes.WithLabelValues(result).Inc()
	return err
}

func (e *Edge) send(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, "PURGE", e.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("purge %s: %w", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("purge %s: edge answered %s", path, resp.Status)
	}
	return nil
}
