//go:build e2e

// Package e2e drives the composed stack as a user would: every request goes through HAProxy's
// edge on 127.0.0.1, and the database facts are read from the project's own containers.
// Run it with `make test` (which brings the stack up first) or, against a running stack,
// `go test -tags e2e ./e2e/` from the gateway module.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	baseURL    = getenv("FLASHCROWD_URL", "http://127.0.0.1:8080")
	adminToken = getenv("ADMIN_TOKEN", dotenv("ADMIN_TOKEN"))
	client     = &http.Client{Timeout: 15 * time.Second}
)

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dotenv reads a default from the repository's .env, the file compose itself reads.
func dotenv(key string) string {
	b, err := os.ReadFile("../../.env")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			return v
		}
	}
	return ""
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call sends one request through the edge. body may be nil, a []byte, or a value to encode as JSON.
func call(t *testing.T, method, path string, body any, header map[string]string) response {
	t.Helper()
	r, err := send(method, path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is call for goroutines, which must not stop the test: it returns the error instead.
func send(method, path string, body any, header map[string]string) (response, error) {
	return sendVia(client, method, path, body, header)
}

// sendVia is send with a client of the caller's: a shopper's, which keeps its session cookie.
func sendVia(c *http.Client, method, path string, body any, header map[string]string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(j)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = baseURL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, b}, nil
}

func admin() map[string]string { return map[string]string{"Authorization": "Bearer " + adminToken} }

// compose runs docker compose in the repository root and returns its trimmed output.
func compose(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"compose"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// psql runs a query inside a Postgres container over its local socket.
func psql(t *testing.T, service, query string) string {
	t.Helper()
	return compose(t, "exec", "-T", service, "psql", "-XAtq", "-d", "flashcrowd", "-c", query)
}

func psqlInt(t *testing.T, service, query string) int {
	t.Helper()
	out := psql(t, service, query)
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("%s: %q is not a number", query, out)
	}
	return n
}

// uncachedIDs returns the first of n seeded product ids that no cache holds: a random stretch
// of the seed, above the fixed ids tests name, dropped from Redis here. Each must have been
// there (the catalogs preload every seeded product), unless an earlier test dropped some: then
// another stretch. An L1 keeps only what was read in its last seconds, and the reads go past
// the edge.
func uncachedIDs(t *testing.T, n int) int64 {
	t.Helper()
	for range 5 {
		first := 10_000 + rand.Int64N(80_000-int64(n))
		if dropped := dropProducts(t, first, n); dropped == n {
			return first
		}
	}
	t.Fatalf("no stretch of %d products was all in Redis, in five tries: is the catalogs' preload running?", n)
	return 0
}

// dropProducts deletes products first to first+n-1 from Redis, once the catalogs' preload has
// run and none is under way (it would put them back), and returns how many were there.
func dropProducts(t *testing.T, first int64, n int) int {
	t.Helper()
	get := func(key string) redisCall { return redisCall{user: "cache", command: []string{"GET", key}} }
	// Each instance looks once a minute whether a preload is due; one takes about 5 s.
	eventually(t, 2*time.Minute, "the catalogs' preload done, and no other under way", func() bool {
		a := redisAnswers(t, "redis", []redisCall{get("catalog:v2:preloaded"), get("catalog:v2:preloading")})
		return a[0] != "" && a[1] == ""
	})
	del := []string{"DEL"}
	for id := first; id < first+int64(n); id++ {
		del = append(del, fmt.Sprintf("catalog:v2:product:%d", id))
	}
	a := redisAnswers(t, "redis", []redisCall{{user: "cache", command: del}})[0]
	dropped, err := strconv.Atoi(a)
	if err != nil {
		t.Fatalf("dropping products %d-%d from Redis: %s", first, first+int64(n)-1, a)
	}
	return dropped
}

// dbNodes are the Postgres cluster's members. Which one leads changes with each failover:
// ask roles.
var dbNodes = []string{"postgres-1", "postgres-2", "postgres-3"}

// roles asks Patroni (the first member whose REST API answers) which member leads now and
// which are replicas, running or streaming.
func roles(t *testing.T) (leader string, replicas []string) {
	t.Helper()
	for _, node := range dbNodes {
		out, err := composeExec(t, nil, node, "curl", "-fsS", "--max-time", "3", "http://127.0.0.1:8008/cluster")
		if err != nil {
			continue
		}
		var c struct {
			Members []struct {
				Name, Role, State string
			}
		}
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("Patroni's /cluster on %s: %v\n%s", node, err, out)
		}
		for _, m := range c.Members {
			switch {
			case m.Role == "leader" && m.State == "running":
				leader = m.Name
			case m.Role != "leader" && (m.State == "running" || m.State == "streaming"):
				replicas = append(replicas, m.Name)
			}
		}
		slices.Sort(replicas)
		return leader, replicas
	}
	t.Fatal("no Postgres member's Patroni answers")
	return "", nil
}

// patronictl runs Patroni's command line in a member's container, with that member's
// configuration (which holds the REST API's login).
func patronictl(t *testing.T, member string, args ...string) string {
	t.Helper()
	return compose(t, append([]string{"exec", "-T", member, "patronictl", "-c", "/run/patroni/patroni.yml"}, args...)...)
}

// cluster is roles for a test that needs a leader and both replicas, as the stack starts.
func cluster(t *testing.T) (leader string, replicas []string) {
	t.Helper()
	var n int
	eventually(t, 30*time.Second, "a leader and two replicas", func() bool {
		leader, replicas = roles(t)
		n = len(replicas)
		return leader != "" && n == 2
	})
	return leader, replicas
}

// productReads counts, per database node (all of them unless named), executions of the
// catalog's read of one product.
func productReads(t *testing.T, nodes ...string) map[string]int {
	t.Helper()
	if len(nodes) == 0 {
		nodes = dbNodes
	}
	out := map[string]int{}
	for _, node := range nodes {
		// The store's one-product read, as sqlc names it in the statement it sends.
		out[node] = psqlInt(t, node, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
			WHERE query LIKE '-- name: Product :one%'`)
	}
	return out
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type product struct {
	ID           int64  `json:"id"`
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	PriceCents   int64  `json:"price_cents"`
	Stock        int    `json:"stock"`
	CategoryID   int    `json:"category_id"`
	Featured     bool   `json:"featured"`
	Version      int    `json:"version"`
	ImageURL     string `json:"image_url"`
	ThumbnailURL string `json:"thumbnail_url"`
}

// pastTheEdge makes a read reach a catalog instance: HAProxy's edge cache never answers a
// request that carries credentials (the gateway ignores them on public routes).
var pastTheEdge = map[string]string{"Authorization": "Bearer e2e-past-the-edge-cache"}

// getProduct reads a product from a catalog instance, past the edge cache: the tests of the
// catalogs' own caches need every request to reach one.
func getProduct(t *testing.T, id int64) (product, response) {
	t.Helper()
	r := call(t, http.MethodGet, fmt.Sprintf("/api/v1/products/%d", id), nil, pastTheEdge)
	if r.status != http.StatusOK {
		t.Fatalf("GET product %d: %d %s", id, r.status, r.body)
	}
	var p product
	r.json(t, &p)
	return p, r
}

type page struct {
	Items      []product `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// createProduct makes a new product through the admin API; fields override the defaults.
func createProduct(t *testing.T, fields map[string]any) product {
	t.Helper()
	body := map[string]any{
		"sku": fmt.Sprintf("E2E-%d", time.Now().UnixNano()), "name": "E2E kettle",
		"price_cents": 4200, "currency": "EUR", "stock": 5,
	}
	for k, v := range fields {
		body[k] = v
	}
	r := call(t, http.MethodPost, "/api/v1/admin/products", body, admin())
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var p product
	r.json(t, &p)
	return p
}

func catalogInstances(t *testing.T) int {
	t.Helper()
	return len(strings.Fields(compose(t, "ps", "-q", "catalog")))
}
