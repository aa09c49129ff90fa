// Command ceiling is the machine's ceiling for `make lab`: the least work an HTTP service can
// do per request. It answers the browse mix's URLs with bodies made once at start, as large
// as the catalog's (a product document of about 400 bytes, a page of 20 of them), and shaped
// so that k6's checks pass: k6 then does the same work per request as against the shop, and
// what it sustains here is the most any service can be asked for on this machine with that
// load generator beside it. No database, no cache, no logging, no metrics.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// product is a product document in the catalog's shape; %d is its id.
const product = `{"id":%d,"sku":"FC-%07d","name":"Modern Glass Notebook","description":"A modern glass notebook in rust, from our Stationery range. Item %d of the Flashcrowd demo catalog.","price_cents":579,"currency":"EUR","stock":51,"category_id":114,"attributes":{"colour":"rust","material":"glass"},"featured":false,"version":1,"created_at":"2025-01-02T11:21:00Z","updated_at":"2025-01-02T11:21:00Z"}`

// page is a listing page, search result or featured page: 20 products and a next cursor.
func page() []byte {
	items := make([]string, 20)
	for i := range items {
		items[i] = fmt.Sprintf(product, 4242+i, 4242+i, 4242+i)
	}
	return []byte(`{"items":[` + strings.Join(items, ",") + `],"next_cursor":"NDI2MQ"}` + "\n")
}

// handler answers a product URL with that product, anything else with the fixed page.
func handler() http.Handler {
	pageBody := page()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if id, ok := strings.CutPrefix(r.URL.Path, "/api/v1/products/"); ok {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n <= 0 {
				http.NotFound(w, r)
				return
			}
			_, _ = fmt.Fprintf(w, product+"\n", n, n, n)
			return
		}
		_, _ = w.Write(pageBody)
	})
}

func main() {
	addr := ":8080"
	if v := os.Getenv("ADDR"); v != "" {
		addr = v
	}
	srv := &http.Server{Addr: addr, Handler: handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	log.Printf("ceiling: answering on %s", addr)
	log.Fatal(srv.ListenAndServe())
}
