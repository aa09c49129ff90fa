//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestProductRead(t *testing.T) {
	p, r := getProduct(t, 1)
	if p.ID != 1 || p.SKU != "FC-0000001" || p.Name == "" {
		t.Fatalf("product 1 = %+v", p)
	}
	if r.header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on the response")
	}
	list := call(t, http.MethodGet, "/api/v1/products?limit=5", nil, nil)
	var first page
	list.json(t, &first)
	if list.status != 200 || len(first.Items) != 5 || first.Items[0].ID != 1 || first.NextCursor == "" {
		t.Fatalf("first page: %d %s", list.status, list.body)
	}
	next := call(t, http.MethodGet, "/api/v1/products?limit=5&cursor="+first.NextCursor, nil, nil)
	var second page
	next.json(t, &second)
	if len(second.Items) == 0 || second.Items[0].ID != 6 {
		t.Fatalf("second page: %s, want it to start at 6", next.body)
	}
}

func TestSearchForgivesATypo(t *testing.T) {
	for _, q := range []string{"kettle", "ketle", "Leather  BACKPACK"} {
		r := call(t, http.MethodGet, "/api/v1/search?limit=5&q="+url.QueryEscape(q), nil, nil)
		var page struct{ Items []product }
		r.json(t, &page)
		if r.status != http.StatusOK || len(page.Items) == 0 {
			t.Fatalf("search %q: %d with %d results", q, r.status, len(page.Items))
		}
		want := strings.Fields(strings.ToLower(q))[0]
		if want == "ketle" {
			want = "kettle"
		}
		for _, p := range page.Items {
			if !strings.Contains(strings.ToLower(p.Name), want) {
				t.Errorf("search %q found %q", q, p.Name)
			}
		}
	}
}

func TestReadsSpreadOverEveryCatalogInstance(t *testing.T) {
	want := catalogInstances(t)
	seen := map[string]int{}
	for range 10 * want {
		_, r := getProduct(t, 2)
		seen[r.header.Get("X-Served-By")]++
	}
	t.Logf("requests per catalog instance: %v", seen)
	if len(seen) != want {
		t.Fatalf("reads reached %d instances, want all %d: %v", len(seen), want, seen)
	}
}

func TestRepeatedReadIsACacheHitThatSkipsPostgres(t *testing.T) {
	const id = 3
	getProduct(t, id) // fills the cache if it was cold
	// A cache that does not work shows its 20 reads in every window.
	measureAgain(t, func() string {
		before := productReads(t)
		for range 20 {
			_, r := getProduct(t, id)
			if got := r.header.Get("X-Cache"); !strings.HasSuffix(got, "-hit") {
				t.Fatalf("X-Cache = %q, want l1-hit or redis-hit", got)
			}
		}
		after := productReads(t)
		var ran []string
		for _, node := range dbNodes {
			if n := after[node] - before[node]; n != 0 {
				ran = append(ran, fmt.Sprintf("%s ran the product query %d times", node, n))
			}
		}
		if len(ran) == 0 {
			return ""
		}
		return fmt.Sprintf("during 20 cached reads %v", ran)
	})
}

// measureAgain runs a measurement of database queries up to 3 times, until it finds nothing
// wrong (it returns what it found, or ""). Others read products from the database too (the
// worker warms the catalog's caches every minute, the orders service prices carts), and one
// of their reads may fall in a window; a fault shows in every window, so 3 in a row fail.
func measureAgain(t *testing.T, measure func() string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		wrong := measure()
		switch {
		case wrong == "":
			return
		case attempt == 3:
			t.Fatalf("in each of 3 measurements; the last: %s", wrong)
		}
		t.Logf("measurement %d: %s; measuring again", attempt, wrong)
	}
}

func TestReadsAreServedByBothReplicas(t *testing.T) {
	leader, replicas := cluster(t)
	for _, r := range replicas {
		eventually(t, 30*time.Second, r+" in HAProxy's read pool", func() bool {
			return haproxyStatus(t, "pg_replicas", r) == "UP"
		})
	}
	before := productReads(t)
	delta := map[string]int{}
	misses := 0
	eventually(t, 90*time.Second, "both replicas serving reads", func() bool {
		misses += readInParallel(t, uncachedIDs(t, 40), 40)
		after := productReads(t)
		for _, node := range dbNodes {
			delta[node] = after[node] - before[node]
		}
		return delta[replicas[0]] > 0 && delta[replicas[1]] > 0
	})
	t.Logf("product reads per node for %d cache misses: %v (leader %s)", misses, delta, leader)
	if delta[leader] != 0 {
		t.Errorf("the leader served %d reads that replicas should have", delta[leader])
	}
}

// readInParallel reads products first to first+n-1 past the edge, 8 at a time, and returns how
// many the catalogs missed in their caches. HAProxy balances PgBouncer's server connections,
// not queries: reads one at a time keep reusing the few connections each PgBouncer holds, which
// may all lead to one replica until PgBouncer retires them (server_lifetime, 60 s). Reads in
// parallel, as shoppers send them, make the pools open more, and HAProxy (leastconn) sends
// those to the replica with the fewest.
func readInParallel(t *testing.T, first int64, n int) (misses int) {
	t.Helper()
	const parallel = 8
	cache := make([]string, n)
	errs := make([]error, parallel)
	var wg sync.WaitGroup
	for g := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += parallel {
				id := first + int64(i)
				r, err := send(http.MethodGet, fmt.Sprintf("/api/v1/products/%d", id), nil, pastTheEdge)
				if err == nil && r.status != http.StatusOK {
					err = fmt.Errorf("GET product %d: %d %s", id, r.status, r.body)
				}
				if err != nil {
					errs[g] = err
					return
				}
				cache[i] = r.header.Get("X-Cache")
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, c := range cache {
		if c == "miss" {
			misses++
		}
	}
	return misses
}

func TestReplicationStreamsToBothReplicas(t *testing.T) {
	leader, replicas := cluster(t)
	if n := psqlInt(t, leader, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`); n != 2 {
		t.Fatalf("pg_stat_replication shows %d streaming replicas, want 2", n)
	}
	sku := fmt.Sprintf("E2E-REPL-%d", time.Now().UnixNano())
	psql(t, leader, fmt.Sprintf(
		`INSERT INTO products (sku, name, price_cents) VALUES ('%s', 'Replication probe', 100)`, sku))
	for _, replica := range replicas {
		eventually(t, 5*time.Second, "row visible on "+replica, func() bool {
			return psql(t, replica, fmt.Sprintf(`SELECT count(*) FROM products WHERE sku = '%s'`, sku)) == "1"
		})
	}
}

func TestPgBouncerMultiplexesClientConnections(t *testing.T) {
	// A burst of concurrent cache misses makes every catalog instance open several pool
	// connections. Many clients' worth: sent as the load generator sends, past the per-client limits.
	edge := loadURL(t)
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s/api/v1/products?limit=20&min_price=%d", edge, 200+i*3))
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("burst request failed: %s", e)
	}
	count := func(pgbouncer, show string) int {
		out, err := console(t, pgbouncer, show)
		if err != nil {
			t.Fatalf("%s on %s: %v\n%s", show, pgbouncer, err, out)
		}
		n := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "flashcrowd") { // rows of the app databases, not the console
				n++
			}
		}
		return n
	}
	// Both PgBouncers take clients (the name resolves to both), and together they multiplex
	// them (how the clients split between the two is up to DNS's order).
	var clients, servers int
	for _, pgbouncer := range []string{"pgbouncer-1", "pgbouncer-2"} {
		c, s := count(pgbouncer, "SHOW CLIENTS"), count(pgbouncer, "SHOW SERVERS")
		t.Logf("%s: %d client connections on %d server connections", pgbouncer, c, s)
		if c == 0 {
			t.Errorf("%s has no client: the apps use one PgBouncer only", pgbouncer)
		}
		clients, servers = clients+c, servers+s
	}
	if clients <= servers {
		t.Fatalf("PgBouncer should multiplex: %d clients, %d servers", clients, servers)
	}
}

func TestAdminWriteNeedsCredentialsAndReachesEveryInstance(t *testing.T) {
	const id = 4
	path := fmt.Sprintf("/api/v1/admin/products/%d", id)
	r := call(t, http.MethodPatch, path, map[string]any{"price_cents": 1}, nil)
	if r.status != http.StatusUnauthorized || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("PATCH without credentials: %d %s", r.status, r.header.Get("Content-Type"))
	}

	old, _ := getProduct(t, id)
	for range 3 * catalogInstances(t) { // every instance has it cached
		getProduct(t, id)
	}
	price := old.PriceCents + 101
	r = call(t, http.MethodPatch, path, map[string]any{"price_cents": price}, admin())
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	leader, _ := cluster(t)
	if got := psql(t, leader, fmt.Sprintf(`SELECT price_cents FROM products WHERE id = %d`, id)); got != fmt.Sprint(price) {
		t.Fatalf("primary has price %s, want %d", got, price)
	}
	// Every instance must serve the new value within a second of the write: reads until then
	// may still be stale (L1 copies are dropped by a pub/sub message), none after.
	deadline := time.Now().Add(time.Second)
	fresh := map[string]bool{}
	for len(fresh) < catalogInstances(t) {
		p, r := getProduct(t, id)
		instance := r.header.Get("X-Served-By")
		switch {
		case p.PriceCents == price && p.Version == old.Version+1:
			fresh[instance] = true
		case time.Now().After(deadline):
			t.Fatalf("%s still served price %d version %d over a second after the write (want %d version %d)",
				instance, p.PriceCents, p.Version, price, old.Version+1)
		}
	}
}

func TestImageUploadMakesAThumbnail(t *testing.T) {
	const id = 5
	r := call(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/products/%d/image-uploads", id),
		map[string]string{"content_type": "image/png"}, admin())
	if r.status != http.StatusCreated {
		t.Fatalf("upload request: %d %s", r.status, r.body)
	}
	var up upload
	r.json(t, &up)
	if up.URL != baseURL+"/media/" || up.Method != http.MethodPost {
		t.Fatalf("upload grant %+v: want a POST to the edge's /media/", up)
	}

	img := image.NewRGBA(image.Rect(0, 0, 800, 400))
	for x := range 800 {
		for y := range 400 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var png_ bytes.Buffer
	if err := png.Encode(&png_, img); err != nil {
		t.Fatal(err)
	}
	if r := up.post(t, png_.Bytes()); r.status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	// Not public until attached: neither through the edge nor asking MinIO itself, anonymously.
	if r := call(t, http.MethodGet, "/media/"+up.Key, nil, nil); r.status == http.StatusOK {
		t.Fatalf("GET of the unattached upload at the edge: %d, want it refused", r.status)
	}
	if got := inNetwork(t, "GET", "http://minio:9000/media/"+up.Key); got != "403" {
		t.Fatalf("anonymous GET of the unattached upload at MinIO: %s, want 403", got)
	}

	r = call(t, http.MethodPut, fmt.Sprintf("/api/v1/admin/products/%d/image", id), map[string]string{"key": up.Key}, admin())
	if r.status != http.StatusOK {
		t.Fatalf("attach image: %d %s", r.status, r.body)
	}
	var p product
	r.json(t, &p)
	if got := call(t, http.MethodGet, p.ImageURL, nil, nil); got.status != 200 || !bytes.Equal(got.body, png_.Bytes()) {
		t.Fatalf("GET %s: %d, %d bytes; want the uploaded %d bytes", p.ImageURL, got.status, len(got.body), png_.Len())
	}

	var thumb response
	eventually(t, 30*time.Second, "the worker's thumbnail", func() bool {
		thumb = call(t, http.MethodGet, p.ThumbnailURL, nil, nil)
		return thumb.status == http.StatusOK
	})
	decoded, err := jpeg.Decode(bytes.NewReader(thumb.body))
	if err != nil {
		t.Fatalf("thumbnail is not a JPEG: %v", err)
	}
	if b := decoded.Bounds(); b.Dx() != 320 || b.Dy() != 160 {
		t.Fatalf("thumbnail is %dx%d, want 320x160", b.Dx(), b.Dy())
	}
	if got, _ := getProduct(t, id); got.ThumbnailURL != p.ThumbnailURL {
		t.Errorf("product shows thumbnail %q, want %q", got.ThumbnailURL, p.ThumbnailURL)
	}
}

// upload is an upload grant: a form POST whose policy fixes the key, type and size.
type upload struct {
	Key, Method, URL string
	Fields           map[string]string
}

// post sends file as the grant's form: its fields, then the file as the last part.
func (up upload) post(t *testing.T, file []byte) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range up.Fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "upload")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	return call(t, up.Method, up.URL, body.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()})
}

func TestConditionalGetAnswers304(t *testing.T) {
	_, r := getProduct(t, 7)
	etag := r.header.Get("ETag")
	if etag == "" || r.header.Get("Cache-Control") != "public, max-age=60, s-maxage=600" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, r.header.Get("Cache-Control"))
	}
	again := call(t, http.MethodGet, "/api/v1/products/7", nil, map[string]string{"If-None-Match": etag})
	if again.status != http.StatusNotModified || len(again.body) != 0 {
		t.Fatalf("If-None-Match %s: %d with %d bytes, want 304 and no body", etag, again.status, len(again.body))
	}
	list := call(t, http.MethodGet, "/api/v1/products?limit=3", nil, nil)
	if call(t, http.MethodGet, "/api/v1/products?limit=3", nil, map[string]string{"If-None-Match": list.header.Get("ETag")}).status != 304 {
		t.Fatal("listing: no 304 for its own ETag")
	}
	admin := call(t, http.MethodPatch, "/api/v1/admin/products/7", map[string]any{"stock": 9}, admin())
	if admin.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("admin answer Cache-Control %q, want private, no-store", admin.header.Get("Cache-Control"))
	}
}

func TestStampedeOnAColdProductCostsAFewQueries(t *testing.T) {
	// Each try on a new product: a cache that does not coalesce shows far more than 3 every time.
	measureAgain(t, func() string {
		if queries := stampede(t); queries > 3 {
			return fmt.Sprintf("%d database queries, want at most 3 (one per catalog instance at worst)", queries)
		}
		return ""
	})
}

// stampede sends 500 concurrent reads of a new product and returns how many product queries
// the database nodes ran meanwhile.
func stampede(t *testing.T) int {
	t.Helper()
	// A new product: no one can have read it yet, so it is cold in every cache.
	id := createProduct(t, map[string]any{"name": "Stampede kettle"}).ID
	before := productReads(t)
	edge := loadURL(t) // a crowd, past the per-client limits
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s/api/v1/products/%d", edge, id))
			if err != nil {
				failed.Add(1)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	after := productReads(t)
	queries := 0
	for _, node := range dbNodes {
		queries += after[node] - before[node]
	}
	t.Logf("500 concurrent requests for a cold product: %d database queries", queries)
	if failed.Load() > 0 {
		t.Fatalf("%d of 500 requests failed", failed.Load())
	}
	return queries
}

func TestMalformedInputGetsAProblem(t *testing.T) {
	big := []byte(`{"name":"` + strings.Repeat("a", 70_000) + `"}`)
	tests := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"bad json", http.MethodPatch, "/api/v1/admin/products/6", []byte(`{"price_cents":`), 400},
		{"unknown field", http.MethodPatch, "/api/v1/admin/products/6", map[string]any{"colour": "red"}, 400},
		{"wrong type", http.MethodPatch, "/api/v1/admin/products/6", map[string]any{"price_cents": "cheap"}, 400},
		{"negative price", http.MethodPatch, "/api/v1/admin/products/6", map[string]any{"price_cents": -5}, 422},
		{"invalid utf-8", http.MethodPatch, "/api/v1/admin/products/6", []byte("{\"name\":\"\xff\"}"), 400},
		{"oversized body", http.MethodPatch, "/api/v1/admin/products/6", big, 413},
		{"bad id", http.MethodGet, "/api/v1/products/abc", nil, 400},
		{"negative id", http.MethodGet, "/api/v1/products/-1", nil, 400},
		{"id with leading zeros", http.MethodGet, "/api/v1/products/007", nil, 404},
		{"NUL in a name", http.MethodPatch, "/api/v1/admin/products/6", []byte(`{"name":"a\u0000b"}`), 422},
		{"NUL in a search", http.MethodGet, "/api/v1/search?q=a%00b", nil, 400},
		{"NUL in a cursor", http.MethodGet, "/api/v1/products?sort=name&cursor=eyJzIjoibmFtZSIsImkiOjEsIm4iOiJcdTAwMDAifQ", nil, 400},
		{"missing product", http.MethodGet, "/api/v1/products/999999999", nil, 404},
		{"huge page", http.MethodGet, "/api/v1/products?limit=100000", nil, 400},
		{"bad cursor", http.MethodGet, "/api/v1/products?cursor=x", nil, 400},
		{"cursor of another sort", http.MethodGet, "/api/v1/products?sort=price&cursor=eyJzIjoiaWQiLCJpIjo1fQ", nil, 400},
		{"unknown sort", http.MethodGet, "/api/v1/products?sort=popularity", nil, 400},
		{"unknown category", http.MethodGet, "/api/v1/products?category=weapons", nil, 400},
		{"invalid utf-8 category", http.MethodGet, "/api/v1/products?category=%FF", nil, 400},
		{"negative min price", http.MethodGet, "/api/v1/products?min_price=-1", nil, 400},
		{"price range upside down", http.MethodGet, "/api/v1/products?min_price=500&max_price=100", nil, 400},
		{"price not a number", http.MethodGet, "/api/v1/products?max_price=ten", nil, 400},
		{"in_stock not a boolean", http.MethodGet, "/api/v1/products?in_stock=maybe", nil, 400},
		{"zero page size", http.MethodGet, "/api/v1/products?limit=0", nil, 400},
		{"unknown category on create", http.MethodPost, "/api/v1/admin/products", map[string]any{
			"sku": "E2E-BADCAT", "name": "x", "price_cents": 1, "currency": "EUR", "category_id": 99999}, 422},
		{"bad attribute key", http.MethodPatch, "/api/v1/admin/products/6", map[string]any{"attributes": map[string]string{"Bad Key": "x"}}, 422},
		{"attributes not strings", http.MethodPatch, "/api/v1/admin/products/6", map[string]any{"attributes": map[string]int{"size": 3}}, 400},
		{"stale version", http.MethodPatch, "/api/v1/admin/products/6", map[string]any{"stock": 3, "version": 1_000_000}, 409},
		{"zero stock delta", http.MethodPost, "/api/v1/admin/products/6/stock-adjustments", map[string]any{"delta": 0}, 422},
		{"stock below zero", http.MethodPost, "/api/v1/admin/products/6/stock-adjustments", map[string]any{"delta": -2_000_000_000}, 422},
		{"stock delta not a number", http.MethodPost, "/api/v1/admin/products/6/stock-adjustments", map[string]any{"delta": "lots"}, 400},
		{"delete bad id", http.MethodDelete, "/api/v1/admin/products/x", nil, 400},
		{"delete missing product", http.MethodDelete, "/api/v1/admin/products/999999999", nil, 404},
		{"bad upload type", http.MethodPost, "/api/v1/admin/products/6/image-uploads", map[string]string{"content_type": "text/html"}, 422},
		{"foreign image key", http.MethodPut, "/api/v1/admin/products/6/image", map[string]string{"key": "products/7/x.png"}, 422},
		{"unknown path", http.MethodGet, "/api/v2/nothing", nil, 404},
		{"empty search", http.MethodGet, "/api/v1/search?q=", nil, 400},
		{"long search", http.MethodGet, "/api/v1/search?q=" + strings.Repeat("a", 101), nil, 400},
		{"invalid utf-8 search", http.MethodGet, "/api/v1/search?q=%FF", nil, 400},
		{"huge search page", http.MethodGet, "/api/v1/search?q=lamp&limit=1000", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, tt.path, tt.body, admin())
			if r.status != tt.want {
				t.Errorf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q, want application/problem+json", ct)
			}
		})
	}
}
