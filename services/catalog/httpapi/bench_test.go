package httpapi

import (
	"context"
	"fmt"
	"testing"

	"github.com/flashcrowd/flashcrowd/services/catalog"
)

// BenchmarkCachedRead is an instance's own work for a browse request its L1 cache answers: a
// product page and a listing page of 20 products. It is the CPU a catalog spends per request
// once the caches are warm (the lab's per-service table shows the same cost under load).
func BenchmarkCachedRead(b *testing.B) {
	a := newAPI(b)
	for i := range 40 {
		_, _, err := a.store.Create(context.Background(), catalog.NewProduct{
			SKU: fmt.Sprintf("BENCH-%03d", i), Name: "Enamel kettle, 1.7 litres", Description: "A kettle for a gas or induction hob.",
			PriceCents: 3900, Currency: "EUR", Stock: 12, CategoryID: 100, Attributes: catalog.Attrs{"colour": "red"},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, target := range []string{"/api/v1/products/3", "/api/v1/products?limit=20"} {
		b.Run(target, func(b *testing.B) {
			a.do("GET", target, "") // fills the caches
			b.ReportAllocs()
			for b.Loop() {
				w := a.do("GET", target, "")
				if w.Code != 200 || w.Header().Get("X-Cache") != "l1-hit" {
					b.Fatalf("status %d from %q, want 200 from l1-hit", w.Code, w.Header().Get("X-Cache"))
				}
			}
		})
	}
}
