//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadURL is the edge as the load generator reaches it: HAProxy's address on the loadgen
// network (LOADGEN_SUBNET), whose clients the per-client limits exempt. Tests that stand for a
// crowd (hundreds of concurrent requests, many shoppers) send it there; from this host, through
// the published port, they would be one client over its share. This host reaches it through
// the network's bridge, an address in that subnet.
func loadURL(t *testing.T) string {
	t.Helper()
	subnet, err := netip.ParsePrefix(getenv("LOADGEN_SUBNET", dotenv("LOADGEN_SUBNET")))
	if err != nil {
		t.Fatalf("LOADGEN_SUBNET in .env: %v", err)
	}
	id := compose(t, "ps", "--quiet", "haproxy")
	out, err := exec.Command("docker", "inspect", "--format",
		"{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", id).Output()
	if err != nil {
		t.Fatalf("docker inspect haproxy: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if a, err := netip.ParseAddr(f); err == nil && subnet.Contains(a) {
			return "http://" + net.JoinHostPort(a.String(), "8080")
		}
	}
	t.Fatalf("HAProxy has no address in LOADGEN_SUBNET %s: %s", subnet, out)
	return ""
}

// edgeLimit reads one of the edge's per-client limits from .env.
func edgeLimit(t *testing.T, key string) int {
	t.Helper()
	n, err := strconv.Atoi(getenv(key, dotenv(key)))
	if err != nil || n < 1 {
		t.Fatalf("%s in .env: %v", key, err)
	}
	return n
}

// refusedByTheEdge checks that r is the edge's per-client refusal: a 429 problem with Retry-After.
func refusedByTheEdge(t *testing.T, r *http.Response, what string) {
	t.Helper()
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" ||
		r.Header.Get("Content-Type") != "application/problem+json" || r.Header.Get("X-Gateway") != "" {
		t.Fatalf("%s: %d, Retry-After %q, Content-Type %q, X-Gateway %q: want the edge's 429 problem with Retry-After",
			what, r.StatusCode, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"), r.Header.Get("X-Gateway"))
	}
}

// This host is one client of the edge (its requests come through Docker's published port from
// one address). A burst past EDGE_RATE_BURST in a second gets 429 for the excess only, health
// checks still pass, and a second later requests pass again. With EDGE_CONN_LIMIT connections
// open, the next one's request gets 429; once they close, a new one is served.
func TestEdgeRateLimits(t *testing.T) {
	burst, conns := edgeLimit(t, "EDGE_RATE_BURST"), edgeLimit(t, "EDGE_CONN_LIMIT")
	const path = "/api/v1/categories" // a cache hit at the edge: the burst is quick
	client.CloseIdleConnections()
	time.Sleep(1100 * time.Millisecond) // this test's own second

	// The burst: 1.5 × the allowance, 32 at a time.
	tr := &http.Transport{MaxConnsPerHost: 32, MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	total := burst * 3 / 2
	var mu sync.Mutex
	statuses := map[int]int{}
	var refusal *http.Response
	var wg sync.WaitGroup
	next := make(chan struct{}, total)
	for range total {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for range next {
				r, err := c.Get(baseURL + path)
				if err != nil {
					t.Error(err)
					return
				}
				r.Body.Close()
				mu.Lock()
				statuses[r.StatusCode]++
				if r.StatusCode == http.StatusTooManyRequests && refusal == nil {
					refusal = r
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	t.Logf("%d requests in %v: %v", total, took.Round(time.Millisecond), statuses)
	admitted := statuses[http.StatusOK]
	// Two of HAProxy's threads may both admit the last one: a little slack.
	if statuses[http.StatusTooManyRequests] == 0 || admitted > burst+4 || admitted+statuses[http.StatusTooManyRequests] != total {
		t.Fatalf("a burst of %d with an allowance of %d: %v", total, burst, statuses)
	}
	refusedByTheEdge(t, refusal, "the burst's excess")
	if r := call(t, http.MethodGet, "/healthz", nil, nil); r.status != http.StatusOK {
		t.Errorf("/healthz while this client is refused: %d", r.status)
	}
	eventually(t, 3*time.Second, "requests pass again after Retry-After", func() bool {
		return call(t, http.MethodGet, path, nil, nil).status == http.StatusOK
	})
	client.CloseIdleConnections()
	tr.CloseIdleConnections()
	time.Sleep(1100 * time.Millisecond)

	// The connections: each sends one request and stays open (keep-alive).
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	var open []net.Conn
	defer func() {
		for _, nc := range open {
			nc.Close()
		}
	}()
	ask := func() *http.Response {
		nc, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, nc)
		req, _ := http.NewRequest(http.MethodGet, baseURL+path, nil)
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(nc), req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	var refused *http.Response
	for range conns + 5 {
		if r := ask(); r.StatusCode != http.StatusOK {
			refused = r
			break
		}
	}
	t.Logf("connection %d refused (limit %d)", len(open), conns)
	if refused == nil || len(open) < conns-2 || len(open) > conns+1 {
		t.Fatalf("with %d connections open (limit %d): refused %v", len(open), conns, refused != nil)
	}
	refusedByTheEdge(t, refused, fmt.Sprintf("connection %d", len(open)))
	for _, nc := range open {
		nc.Close()
	}
	open = nil
	eventually(t, 3*time.Second, "a new connection is served once the others closed", func() bool {
		ok := ask().StatusCode == http.StatusOK
		for _, nc := range open {
			nc.Close()
		}
		open = nil
		return ok
	})
}
